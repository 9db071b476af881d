"""The memory soak (``bench.py --soak SECONDS``): molotov at full rate, every process's RSS.

It runs molotov at full rate for that long, samples every process's RSS every 10 s, and
reports each one's growth after the warm-up (target: < 5 % over 10 minutes).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from harness.clients import SCENARIO, molotov_cmd
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
    scenario.write_text(SCENARIO.format(url=target.url))
    argv = [*molotov_cmd(), "-p", str(options.soak_processes), "-w", "100"]
    argv += ["-d", str(int(seconds + 60)), str(scenario)]
    print(f"soak: {' '.join(argv[-8:])} for {seconds:g}s, RSS every {SOAK_EVERY:g}s;")
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
    return 0
