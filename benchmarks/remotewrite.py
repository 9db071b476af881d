"""``bench.py --rw-cost``: what one Prometheus remote write costs the parent process.

Two tables, medians of ``--repeat`` runs:

* a synthetic snapshot (up to 200 scenarios and 300 request names, issue 17's large case,
  each histogram with 200 busy fine buckets) turned into series and encoded (protobuf,
  snappy), as at each send: series, compressed body, milliseconds of each part;
* the bus read a send needs besides the tick's snapshot: every request name's stats with
  its latency (a tick reads only the watched names' latency), on a real bus of 2 slots, 200
  scenarios and 300 names, next to a tick's own read.

All of a send's work but handing the tick's snapshot over runs in the sending thread, never
in the parent's tick; the thread shares the parent's interpreter, so this is what a send
costs the parent's CPU.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

from harness.measure import med
from harness.output import machine, print_table
from molotov.live.promseries import FAMILIES, Context, RequestLabels, snapshot_series
from molotov.live.promwire import write_request
from molotov.stats.bus import StatsBus
from molotov.stats.histogram import NBUCKETS, Histogram
from molotov.stats.snapshot import RequestStats, ScenarioStats, Snapshot


def _histogram(rng: random.Random) -> Histogram:
    buckets = [0] * NBUCKETS
    for _ in range(200):
        buckets[rng.randrange(300, 1800)] += rng.randrange(1, 50)
    return Histogram(tuple(buckets), sum(buckets), sum(buckets) * 1000, 10**6)


def snapshot(scenarios: int, names: int) -> Snapshot:
    rng = random.Random(17)
    return Snapshot(
        0.0,
        tuple(ScenarioStats(f"s{i}", 1000, 10, _histogram(rng)) for i in range(scenarios)),
        workers=100,
        by_request=tuple(
            RequestStats(
                f"GET /p{i}",
                1000,
                status_codes=((200, 990), (404, 10)),
                latency=_histogram(rng),
            )
            for i in range(names)
        ),
    )


def encoding(repeat: int) -> None:
    rows = []
    for scenarios, names in ((1, 1), (10, 10), (200, 300)):
        snap = snapshot(scenarios, names)
        context = Context((("index", "0"), ("run_id", "0123456789ab")), False)
        labels = RequestLabels()
        build, encode, size, count = [], [], 0, 0
        for _ in range(repeat):
            t0 = time.perf_counter()
            series = snapshot_series(snap, context, labels)
            t1 = time.perf_counter()
            size = len(write_request(series, 1, FAMILIES))
            build.append((t1 - t0) * 1e3)
            encode.append((time.perf_counter() - t1) * 1e3)
            count = len(series)
        rows.append(
            [
                f"{scenarios} scenario(s) x {names} name(s)",
                f"{count:,}",
                f"{size / 1024:.1f}",
                f"{med(build):.1f}",
                f"{med(encode):.1f}",
            ]
        )
    print_table(["one send's snapshot", "series", "body KiB", "series ms", "encode ms"], rows)


def _none(name: str) -> bool:
    return False


def bus_reads(repeat: int) -> None:
    rng = random.Random(17)
    bus = StatsBus.create(2, [f"s{i}" for i in range(200)], 300)
    try:
        for slot in range(2):
            writer, table = bus.writer(slot), bus.request_writer(slot)
            for i in range(300):
                entry = table.entry_named(f"GET /p{i}")
                for _ in range(50):
                    writer.request_done(entry, 200, rng.randrange(100, 100_000))
        reads: list[tuple[str, Callable[[], object]]] = [
            ("a tick's snapshot (no name's latency)", lambda: bus.snapshot(_none)),
            ("a send's read, in its thread (every name's latency)", bus.read_requests),
        ]
        rows = []
        for label, read in reads:
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                read()
                times.append((time.perf_counter() - t0) * 1e3)
            rows.append([label, f"{med(times):.1f}"])
    finally:
        bus.close()
    print_table(["bus read: -p 2, 200 scenarios, 300 names", "ms"], rows)


def main(options: argparse.Namespace) -> int:
    print(f"machine: {machine()}")
    repeat = max(options.repeat, 3)
    encoding(repeat)
    print()
    bus_reads(repeat)
    return 0
