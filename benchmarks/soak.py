"""The memory soak (``bench.py --soak SECONDS``): molotov at full rate, every process's RSS.

It runs molotov at full rate (or at ``--soak-rate`` arrivals/s, the open model) for that long,
one GET a step (``--soak-scenario ten``: over 10 request names), samples every process's RSS
every 10 s, and reports each one's growth after the warm-up (target: < 5 % over 10 minutes).
molotov writes its JSON report when the soak stops it: its size, rows and bytes per second of
run are printed last (``--soak-report PATH`` keeps it: ``series_day.py --replay PATH`` plays
its seconds for a day).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from harness.clients import SCENARIOS, molotov_cmd
from harness.output import machine, print_table
from harness.processes import Pinning, describe_pid, process_tree, rss_bytes, spawn, stop_tree
from harness.servers import Target

SOAK_EVERY = 10.0  # seconds between two soak samples


def soak(options: argparse.Namespace) -> int:
    pinning = Pinning.choose()
    seconds = options.soak
    warmup = min(options.soak_warmup, seconds / 2)
    print(f"machine: {machine()}")
    print(f"pinning: {pinning.how}")
    target = Target(pinning)
    workdir = Path(tempfile.mkdtemp(prefix="molotov-soak-"))
    scenario = workdir / "bench_scenario.py"
    scenario.write_text(SCENARIOS[options.soak_scenario].format(url=target.url))
    report = workdir / "soak.json"
    argv = [*molotov_cmd(), "-p", str(options.soak_processes), "-w", "100"]
    if options.soak_rate:
        argv += ["--rate", f"{options.soak_rate:g}"]
    argv += ["-d", str(int(seconds + 60)), "--report", str(report), str(scenario)]
    names = {str(report): report.name, str(scenario): scenario.name}
    shown = " ".join(names.get(a, a) for a in argv[len(molotov_cmd()) :])
    print(f"soak: molotov {shown} for {seconds:g}s, RSS every {SOAK_EVERY:g}s;")
    print(f"growth measured from the sample at {warmup:g}s (the warm-up) to the last one")
    proc = spawn(argv, pinning, pinning.client, stdout=subprocess.DEVNULL)
    series: dict[int, list[tuple[float, int]]] = {}
    names: dict[int, str] = {}
    try:
        t0 = time.monotonic()
        last_count, last_t = target.count()[0], t0
        tick = 1
        while time.monotonic() - t0 < seconds and proc.poll() is None:
            time.sleep(max(0.0, t0 + tick * SOAK_EVERY - time.monotonic()))
            tick += 1
            now = time.monotonic()
            count = target.count()[0]
            rps = (count - last_count) / (now - last_t)
            last_count, last_t = count, now
            rss_line = []
            for pid in process_tree(proc.pid):
                names.setdefault(pid, describe_pid(pid, proc.pid))
                rss = rss_bytes(pid)
                series.setdefault(pid, []).append((now - t0, rss))
                rss_line.append(f"{pid}:{rss / 2**20:.1f}MiB")
            print(f"  {now - t0:6.0f}s {rps:8.0f} req/s  " + " ".join(rss_line), flush=True)
    finally:
        stop_tree(proc)
        target.close()
        report_line = describe_report(report)
        if options.soak_report and report.exists():
            shutil.copyfile(report, options.soak_report)
        shutil.rmtree(workdir, ignore_errors=True)
    lines = []
    for pid, points in series.items():
        base = next(((t, r) for t, r in points if t >= warmup), None)
        if base is None or not base[1]:
            continue
        t_end, r_end = points[-1]
        peak = max(r for _, r in points)
        growth = (r_end - base[1]) / base[1] * 100
        lines.append(
            [
                names[pid],
                f"{base[1] / 2**20:.1f} MiB at {base[0]:.0f}s",
                f"{r_end / 2**20:.1f} MiB at {t_end:.0f}s",
                f"{peak / 2**20:.1f}",
                f"{growth:+.2f}%",
            ]
        )
    print()
    print_table(["process", "after warm-up", "last", "peak MiB", "growth"], lines)
    print("target: < 5% growth over 10 minutes at full rate")
    print(report_line)
    return 0


def describe_report(path: Path) -> str:
    """The JSON report's size, its rows by width, and bytes per second of the run."""
    try:
        size = path.stat().st_size
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return f"report: none ({exc})"
    widths: dict[int, int] = {}
    for row in doc["series"]:
        widths[row.get("s", 1)] = widths.get(row.get("s", 1), 0) + 1
    rows = ", ".join(f"{n:,} of {w} s" for w, n in sorted(widths.items()))
    per_second = size / max(1.0, doc["duration_s"])
    names = sum(1 for _ in doc["by_request"])
    return (
        f"report: {size / 1e6:.2f} MB after {doc['duration_s']:.0f} s ({per_second / 1e3:.1f} "
        f"KB per second of run), {doc['totals']['requests_per_s']:,.0f} requests/s over "
        f"{names} name(s); series rows: {rows}"
    )
