"""The open workload model: schedule accuracy, its CPU cost, and coordinated omission shown.

Run by ``nox -s bench`` after the main table (``nox -s bench -- --open`` for this part alone,
``--quick`` for a smoke run). Like the main table, the target (``target.py``) runs on one core
and molotov on the other, and the target's own count, never molotov's word, says how many
requests were served. Three parts:

* **schedule accuracy**: ``molotov --rate R -d 30`` at 1,000 and 5,000 arrivals/s, with
  ``-p 1`` and ``-p 2`` (both processes on the one client core): the achieved rate (requests
  the target served / the run's duration), its error against R, and the start lateness
  (actual start - scheduled start) p50/p99/max from the run's JSON report;
* **CPU per request**, open against closed at the same request rate: the closed model
  saturated (``-w 100``) gives a rate S; the closed model paced by ``--delay`` to about S/2
  (50 workers), then the open model at the rate the closed one reached in that pass, are
  compared, interleaved over ``--repeat`` passes (the median of the per-pass ratios, as in
  the main table). At saturation the open model cannot be compared at the same rate: its
  arrivals would queue and drop;
* **coordinated omission**: a 20 s run at 200 steps/s against a target that stalls for 2 s
  once (``GET /__stall?s=2`` at t = 10 s), in the closed model (2 workers, ``--delay``
  pacing them to ~200/s) and in the open model (``--rate 200``): the closed model's p99 hides
  the stall, the open model's response-time p99 shows it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from harness.clients import HERE, SCENARIO, molotov_cmd
from harness.measure import Row, measure, med
from harness.output import print_table
from harness.processes import Pinning, spawn, stop_tree
from harness.servers import Target, UdpSink
from molotov.stats.histogram import bucket_of


def run_report(
    argv: list[str],
    pinning: Pinning,
    workdir: Path,
    during: tuple[float, Callable[[], object]] | None = None,
) -> dict:
    """Run molotov to its end on the client core; its JSON report (``r.json``)."""
    report = workdir / "r.json"
    report.unlink(missing_ok=True)
    proc = spawn(
        [*molotov_cmd(), *argv, "-q", "--report", str(report)],
        pinning,
        pinning.client,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        if during is not None:
            delay, action = during
            time.sleep(delay)
            action()
        _, err = proc.communicate(timeout=600)
    finally:
        stop_tree(proc)
    if not report.exists():
        raise RuntimeError(f"molotov {argv} wrote no report: {err.decode()[-500:]}")
    return json.loads(report.read_text())


def accuracy(target: Target, pinning: Pinning, workdir: Path, seconds: float) -> None:
    lines = []
    for rate in (1000, 5000):
        for processes in (1, 2):
            before, _ = target.count()
            doc = run_report(
                ["--rate", str(rate), "-d", f"{seconds:g}", "-p", str(processes), "-w", "64",
                 "--max-workers", "256", "loadtest.py"],
                pinning, workdir,
            )  # fmt: skip
            served = target.count()[0] - before
            achieved = served / doc["duration_s"]
            late = doc["start_lateness"]
            lines.append(
                [
                    f"{rate:,}/s",
                    str(processes),
                    f"{achieved:,.1f}",
                    f"{100 * (achieved - rate) / rate:+.2f}%",
                    str(doc["totals"]["dropped"]),
                    f"{late['p50_ms']:.2f}",
                    f"{late['p99_ms']:.2f}",
                    f"{late['max_ms']:.1f}",
                ]
            )
    print(f"\nSchedule accuracy ({seconds:g} s runs, one client core)")
    print_table(
        ["target", "-p", "achieved req/s", "error", "dropped", "late p50 ms", "late p99 ms",
         "late max ms"],
        lines,
    )  # fmt: skip


def cpu_cost(target: Target, pinning: Pinning, scenario: Path, options: argparse.Namespace) -> None:
    """Open against closed at one request rate: half of what the closed model reaches."""
    sink = UdpSink()
    try:
        saturated = Row("saturated", "closed -w 100", [*molotov_cmd(), "-w", "100", "-q",
                        str(scenario)])  # fmt: skip
        probe = measure(saturated, target, pinning, sink, options.warmup, options.window)
        if probe is None:
            print(f"closed model row failed: {saturated.note}")
            return
        rate = max(100, round(probe.rps / 2, -2))
        workers = 50
        # The closed model paced to the rate: 50 workers, each sleeping 50/rate s a step.
        closed = Row(
            "closed",
            f"closed -w {workers} --delay {workers / rate:.4f}",
            [*molotov_cmd(), "-w", str(workers), "--delay", f"{workers / rate:.6f}", "-q",
             str(scenario)],
        )  # fmt: skip
        opened = Row("open", f"open --rate (closed's) -w {workers}", [])
        ratios = []
        for _ in range(options.repeat):
            paced = measure(closed, target, pinning, sink, options.warmup, options.window)
            if paced is None:
                print(f"the closed row failed: {closed.note}")
                return
            # The open model at the very rate the closed one reached in this pass.
            opened.argv = [*molotov_cmd(), "--rate", f"{paced.rps:.0f}", "-w", str(workers),
                           "-q", str(scenario)]  # fmt: skip
            sample = measure(opened, target, pinning, sink, options.warmup, options.window)
            if sample is None:
                print(f"the open row failed: {opened.note}")
                return
            closed.samples.append(paced)
            opened.samples.append(sample)
            ratios.append(sample.cpu_us / paced.cpu_us)
    finally:
        sink.close()
    print(
        f"\nCPU per request, open against closed at the same rate, ~{rate:g} req/s (half the "
        "closed model's "
        f"{probe.rps:,.0f} req/s at -w 100, {probe.cpu_us:.1f} us/req); "
        f"{options.repeat} interleaved passes"
    )
    print_table(
        ["client", "req/s", "CPU us/req", "vs closed"],
        [
            [row.label, f"{med([s.rps for s in row.samples]):,.0f}",
             f"{med([s.cpu_us for s in row.samples]):.1f}", ratio]
            for row, ratio in ((closed, "1.00x"), (opened, f"{statistics.median(ratios):.3f}x"))
        ],
    )  # fmt: skip
    print(f"per-pass ratios: {', '.join(f'{r:.3f}' for r in ratios)}")


def omission(target: Target, pinning: Pinning, workdir: Path) -> None:
    stall = (10.0, lambda: target.stall(2.0))
    closed = run_report(
        ["-w", "2", "--delay", "0.01", "-d", "20", "loadtest.py"], pinning, workdir, stall
    )
    opened = run_report(
        ["--rate", "200", "-d", "20", "-w", "20", "--max-workers", "50", "--max-lag", "5",
         "loadtest.py"],
        pinning, workdir, stall,
    )  # fmt: skip

    def row(label: str, doc: dict, key: str) -> list[str]:
        h = doc[key]
        slow = bucket_of(100_000)
        share = 100 * sum(n for i, n in h["buckets"] if i >= slow) / max(1, h["count"])
        return [label, str(h["count"]), f"{h['p50_ms']:.2f}", f"{h['p90_ms']:.2f}",
                f"{h['p99_ms']:.1f}", f"{h['p99.9_ms']:.1f}", f"{h['max_ms']:.0f}",
                f"{share:.1f}%"]  # fmt: skip

    print("\nCoordinated omission: 20 s at ~200 steps/s, the target stalls 2 s at t=10 s")
    print_table(
        ["model, measure", "steps", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms",
         ">= 100 ms"],
        [
            row("closed (-w 2 --delay 0.01), durations", closed, "scenario_durations"),
            row("open (--rate 200), service times", opened, "scenario_durations"),
            row("open (--rate 200), response times", opened, "scenario_response_times"),
        ],
    )  # fmt: skip


def main(options: argparse.Namespace) -> int:
    pinning = Pinning.choose()
    target = Target(pinning)
    workdir = Path(tempfile.mkdtemp(prefix="molotov-open-"))
    try:
        scenario = workdir / "loadtest.py"
        scenario.write_text(SCENARIO.format(url=target.url))
        print(f"Open model benchmarks; {pinning.how}; target {HERE / 'target.py'}")
        accuracy(target, pinning, workdir, 8.0 if options.quick else 30.0)
        cpu_cost(target, pinning, scenario, options)
        omission(target, pinning, workdir)
    finally:
        target.close()
    return 0
