"""Start-up costs: time to the first request and to the exit, wall times, heavy imports."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Sequence

from harness.processes import Pinning, spawn
from harness.servers import Target


def time_to_first_request(
    target: Target, pinning: Pinning, argv: list[str], runs: int
) -> tuple[list[float], list[float]]:
    """Seconds from process start to the target seeing its first request, and to its exit."""
    first, total = [], []
    for _ in range(runs):
        target.arm()
        t0 = time.monotonic_ns()
        proc = spawn(
            argv, pinning, pinning.client, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        proc.wait(120)
        t1 = time.monotonic_ns()
        _, first_ns = target.count()
        if first_ns:
            first.append((first_ns - t0) / 1e9)
        total.append((t1 - t0) / 1e9)
    return first, total


def wall_times(argv: list[str], pinning: Pinning, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.monotonic()
        spawn(argv, pinning, pinning.client, stdout=subprocess.DEVNULL).wait(120)
        times.append(time.monotonic() - t0)
    return times


def heavy_imports(args: Sequence[str]) -> list[str]:
    """Which of the heavy modules ``molotov ARGS`` imports (from ``python -X importtime``)."""
    code = (
        f"import sys; sys.argv = ['molotov', *{list(args)!r}]; from molotov.cli import main; main()"
    )
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    heavy = ("aiohttp", "uvloop", "rich", "statsd", "multiprocessing", "molotov.run.conductor")
    seen = {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines() if "|" in line}
    return [name for name in heavy if name in seen]
