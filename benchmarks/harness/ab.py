"""Paired A/B (``bench.py --ab A B``): two clients at once on the client core, one target each.

The machine's noise hits both alike, so the ratio of their CPU per request is steady even when
the absolute figures are not (see README.md, "Paired A/B"). ``{prometheus}`` in a client's
arguments is the remote-write URL of a real Prometheus started for the comparison.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.clients import HERE, MOLOTOV26, SCENARIOS, molotov_cmd
from harness.measure import med
from harness.output import machine, print_table
from harness.processes import Pinning, cpu_seconds, process_tree, spawn, stop_tree
from harness.servers import Prometheus, Target


def ab_client(
    spec: str, url: str, scenario: Path, safety: str
) -> tuple[list[str], dict[str, str] | None]:
    """The command of an ``--ab`` client: ``KIND[:EXTRA ARGS]``, KIND being ``molotov``,
    ``floor``, ``molotov26`` or the path of a source tree (``.../src``) to run molotov from."""
    kind, _, extra = spec.partition(":")
    args = extra.split()
    if kind == "floor":
        return [sys.executable, str(HERE / "floor.py"), url, "-w", "100", *args], None
    if kind == "molotov":
        return [*molotov_cmd(), "-d", safety, "-w", "100", *args, str(scenario)], None
    if kind == "molotov26":
        exe = str(MOLOTOV26 / "bin" / "molotov")
        return [exe, "-d", safety, "-w", "100", "--uvloop", *args, str(scenario)], None
    if Path(kind).is_dir():
        env = {**os.environ, "PYTHONPATH": str(Path(kind).resolve())}
        argv = [sys.executable, "-m", "molotov", "-d", safety, "-w", "100", *args, str(scenario)]
        return argv, env
    raise SystemExit(f"--ab: unknown client {spec!r} (molotov, floor, molotov26 or a src/ folder)")


def ab(options: argparse.Namespace) -> int:
    """Both clients at once on the client core, each against its own target: the machine's
    noise hits both alike, so the ratio of their CPU per request is steady even when the
    absolute numbers are not."""
    pinning = Pinning.choose()
    print(f"machine: {machine()}")
    print(f"pinning: {pinning.how}; both clients on the client core, one target each")
    print(f"scenario: {options.scenario} (--scenario one: one GET; ten: 10 paths, 10 names)")
    safety = str(int(options.warmup + options.window + 60))
    prometheus = Prometheus(pinning) if any("{prometheus}" in s for s in options.ab) else None
    targets = [Target(pinning), Target(pinning)]
    workdir = Path(tempfile.mkdtemp(prefix="molotov-ab-"))
    clients = []
    for side, (spec, target) in enumerate(zip(options.ab, targets, strict=True)):
        scenario = workdir / f"bench_scenario_{side}.py"
        scenario.write_text(SCENARIOS[options.scenario].format(url=target.url))
        if prometheus is not None:
            spec = spec.replace("{prometheus}", prometheus.write_url)  # noqa: PLW2901
        clients.append(ab_client(spec, target.url, scenario, safety))
    us: list[list[float]] = [[], []]
    rps: list[list[float]] = [[], []]
    ratios = []
    try:
        for rnd in range(options.repeat):
            order = (0, 1) if rnd % 2 == 0 else (1, 0)
            procs = {}
            for side in order:
                argv, env = clients[side]
                procs[side] = spawn(
                    argv,
                    pinning,
                    pinning.client,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            try:
                time.sleep(options.warmup)
                trees = {side: process_tree(proc.pid) for side, proc in procs.items()}
                start = {s: (targets[s].count()[0], cpu_seconds(trees[s])) for s in order}
                t0 = time.monotonic()
                time.sleep(options.window)
                end = {s: (targets[s].count()[0], cpu_seconds(trees[s])) for s in order}
                wall = time.monotonic() - t0
            finally:
                for proc in procs.values():
                    stop_tree(proc)
            per = []
            for side in (0, 1):
                requests = end[side][0] - start[side][0]
                if requests <= 0:
                    print(f"  round {rnd + 1}: {options.ab[side]} made no request")
                    return 1
                per.append((end[side][1] - start[side][1]) / requests * 1e6)
                us[side].append(per[-1])
                rps[side].append(requests / wall)
            ratios.append(per[1] / per[0])
            print(
                f"  round {rnd + 1}: A {per[0]:6.1f} us/req {rps[0][-1]:7.0f} req/s | "
                f"B {per[1]:6.1f} us/req {rps[1][-1]:7.0f} req/s | B/A {ratios[-1]:.3f}",
                flush=True,
            )
        if prometheus is not None:
            print(f"  Prometheus took {prometheus.writes()} remote writes in all")
    finally:
        for target in targets:
            target.close()
        if prometheus is not None:
            prometheus.close()
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    print_table(
        ["paired A/B (one core, at once)", "CPU us/req", "req/s"],
        [
            [f"A: {options.ab[0]}", f"{med(us[0]):.1f}", f"{med(rps[0]):,.0f}"],
            [f"B: {options.ab[1]}", f"{med(us[1]):.1f}", f"{med(rps[1]):,.0f}"],
        ],
    )
    print(
        f"B/A CPU per request: {med(ratios):.3f} (median of {len(ratios)} rounds, "
        f"{min(ratios):.3f}-{max(ratios):.3f}); two clients share the core, so compare the "
        "ratio, not the absolute figures, with the solo table"
    )
    return 0
