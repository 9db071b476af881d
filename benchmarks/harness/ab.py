"""Paired A/B (``bench.py --ab A B``): two clients at once on the client core, one target each.

The machine's noise hits both alike, so the ratio of their CPU per request is steady even when
the absolute figures are not (see README.md, "Paired A/B"). ``{prometheus}`` in a client's
arguments is the remote-write URL of a real Prometheus started for the comparison.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.clients import HERE, MOLOTOV26, SCENARIOS, molotov_cmd
from harness.followers import Followers
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


def _sample(target: Target, tree: list[int]) -> tuple[int, float, float]:
    """The target's request count, the client tree's CPU seconds and its root's."""
    return target.count()[0], cpu_seconds(tree), cpu_seconds(tree[:1])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def with_dashboard(
    client: tuple[list[str], dict[str, str] | None], spec: str
) -> tuple[tuple[list[str], dict[str, str] | None], int]:
    """``--ab-sse``: client B with ``--dashboard`` on a free loopback port, and the port."""
    if spec.partition(":")[0] in ("floor", "molotov26"):
        raise SystemExit(f"--ab-sse: B must be molotov (or a src/ folder), not {spec!r}")
    argv, env = client
    port = _free_port()
    return ([*argv[:-1], "--dashboard", f"127.0.0.1:{port}", argv[-1]], env), port


def ab(options: argparse.Namespace) -> int:
    """Both clients at once on the client core, each against its own target: the machine's
    noise hits both alike, so the ratio of their CPU per request is steady even when the
    absolute numbers are not. With ``--ab-sse N``, B serves a dashboard that N idle browsers
    follow (harness.followers) for the whole round."""
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
    port = 0
    if options.ab_sse:
        clients[1], port = with_dashboard(clients[1], options.ab[1])
        print(f"B serves --dashboard 127.0.0.1:{port}, followed by {options.ab_sse} idle streams")
    us: list[list[float]] = [[], []]
    rps: list[list[float]] = [[], []]
    parents: list[list[float]] = [[], []]  # the root process's CPU, ms/s
    trees_ms: list[list[float]] = [[], []]  # the whole tree's, ms/s
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
            followers = Followers(port, options.ab_sse) if options.ab_sse else None
            try:
                time.sleep(options.warmup)
                trees = {side: process_tree(proc.pid) for side, proc in procs.items()}
                # (requests, the tree's CPU, its root's: molotov's parent process)
                start = {s: _sample(targets[s], trees[s]) for s in order}
                t0 = time.monotonic()
                time.sleep(options.window)
                end = {s: _sample(targets[s], trees[s]) for s in order}
                wall = time.monotonic() - t0
            finally:
                if followers is not None:
                    followers.stop()
                for proc in procs.values():
                    stop_tree(proc)
            if followers is not None:
                print(
                    f"  round {rnd + 1}: {followers.connected} streams opened, "
                    f"{followers.received / 1e3 / (options.warmup + options.window):,.0f} kB/s "
                    "received in all"
                )
            per = []
            for side in (0, 1):
                requests = end[side][0] - start[side][0]
                if requests <= 0:
                    print(f"  round {rnd + 1}: {options.ab[side]} made no request")
                    return 1
                per.append((end[side][1] - start[side][1]) / requests * 1e6)
                us[side].append(per[-1])
                rps[side].append(requests / wall)
                trees_ms[side].append((end[side][1] - start[side][1]) / wall * 1e3)
                parents[side].append((end[side][2] - start[side][2]) / wall * 1e3)
            ratios.append(per[1] / per[0])
            print(
                f"  round {rnd + 1}: A {per[0]:6.1f} us/req {rps[0][-1]:7.0f} req/s | "
                f"B {per[1]:6.1f} us/req {rps[1][-1]:7.0f} req/s | B/A {ratios[-1]:.3f} | "
                f"parent CPU A {parents[0][-1]:.1f} B {parents[1][-1]:.1f} ms/s",
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
    extra = med(parents[1]) - med(parents[0])
    print(
        f"B's parent process: {extra:+.1f} ms of CPU a second against A's, "
        f"{100 * extra / med(trees_ms[1]):+.2f}% of B's CPU (what B's own options cost the "
        "parent: the dashboard's thread, with --ab-sse)"
    )
    return 0
