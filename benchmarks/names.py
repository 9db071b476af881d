"""``bench.py --names-rss``: what 300 request names cost a worker process in memory (issue 15).

molotov runs ``-p 2 -w 50`` against the benchmark target twice per round, interleaved: once
with a scenario of one request name, once with one of 300 names (each step takes the next of
300 paths). Each worker process's resident memory (its ``statm``, shared-memory pages it
touched included) is sampled every 0.25 s after the warm-up, and the peak kept; the table
shows medians over the rounds and the difference, the figure the target bounds (+20 MB).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from harness.clients import molotov_cmd
from harness.measure import med
from harness.output import machine, print_table
from harness.processes import Pinning, process_tree, rss_bytes, spawn, stop_tree
from harness.servers import Target

NAMES = 300
SCENARIO = """\
import itertools

from molotov import scenario

URLS = itertools.cycle([{url!r} + f"/page-n{{i}}" for i in range({names})])


@scenario(weight=100)
async def many_names(session):
    async with session.get(next(URLS)) as resp:
        await resp.read()
"""


def _peak_worker_rss(proc: subprocess.Popen[bytes], warmup: float, window: float) -> float:
    """The largest RSS (MB) of any worker process (the parent's children) over the window."""
    time.sleep(warmup)
    peak = 0
    end = time.monotonic() + window
    while time.monotonic() < end:
        workers = [pid for pid in process_tree(proc.pid) if pid != proc.pid]
        peak = max([peak, *(rss_bytes(pid) for pid in workers)])
        time.sleep(0.25)
    return peak / 2**20


def names_rss(options: argparse.Namespace) -> int:
    pinning = Pinning.choose()
    print(f"machine: {machine()}")
    target = Target(pinning)
    workdir = Path(tempfile.mkdtemp(prefix="molotov-names-"))
    scenarios = {}
    for names in (1, NAMES):
        scenarios[names] = workdir / f"names_{names}.py"
        scenarios[names].write_text(SCENARIO.format(url=target.url, names=names))
    peaks: dict[int, list[float]] = {1: [], NAMES: []}
    safety = str(int(options.warmup + options.window + 60))
    try:
        for rnd in range(options.repeat):
            for names in (1, NAMES) if rnd % 2 == 0 else (NAMES, 1):
                argv = [*molotov_cmd(), "-p", "2", "-w", "50", "-d", safety, "-q"]
                proc = spawn(
                    [*argv, str(scenarios[names])],
                    pinning,
                    pinning.client,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                try:
                    peaks[names].append(_peak_worker_rss(proc, options.warmup, options.window))
                finally:
                    stop_tree(proc)
                print(f"  round {rnd + 1}: {names:3d} name(s): {peaks[names][-1]:.1f} MB")
    finally:
        target.close()
        shutil.rmtree(workdir, ignore_errors=True)
    one, many = med(peaks[1]), med(peaks[NAMES])
    print_table(
        ["RSS per worker process (peak)", "MB"],
        [["1 request name", f"{one:.1f}"], [f"{NAMES} request names", f"{many:.1f}"]],
    )
    print(f"{NAMES} names cost {many - one:+.1f} MB per worker process (target: < +20 MB)")
    return 0
