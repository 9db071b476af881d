"""A day of per-second series through the real recorder and the real writer: memory and size.

``python benchmarks/series_day.py`` (``nox -s bench_series``) feeds the parent's
``SeriesRecorder`` one cumulative ``Snapshot`` a second for ``--seconds`` (default 86,400: a
day) of made-up traffic: ``--rate`` requests/s (400) spread over ``--names`` request names (20,
every one with a per-second series, as the first 20 names of a run get), log-normal
latencies, one scenario. Every hour of the simulated run it prints the recorder's rows: how
many, and the memory they hold (every object reachable from them, counted once); at the end
it writes the report (``jsonreport.document`` and ``write``) and prints its size, the size the
indented writer of before gave, and how long the reader takes to read it back.
``--horizons none`` keeps every second (the recorder before it joined old rows);
``--replay REPORT`` feeds a real run's seconds (``bench.py --soak ... --soak-report PATH``),
again and again, to the recorder's tiers instead.

Nothing waits for the clock (the recorder is handed the wall-clock second of each snapshot):
a day takes ~20 minutes here, the recorder's own work (~6 ms a second with 20 names) most of
it; a replay, a minute.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from harness.objects import deep_size
from molotov.reports import jsonload, jsonreport
from molotov.reports.jsonreport import RunReport
from molotov.stats.histogram import NBUCKETS, Histogram, bucket_of
from molotov.stats.series import HORIZONS, Second, SeriesRecorder, Tiers
from molotov.stats.snapshot import STATUS_CLASSES, RequestStats, ScenarioStats, Snapshot

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
Horizons = tuple[tuple[int, int], ...]
HEADER = "  hour   rows  rows' MiB"
POOL = 20_000  # latencies drawn once per name, then sampled


class Traffic:
    """Running totals of a made-up run: requests over ``names`` names, one step each."""

    def __init__(self, rate: int, names: int, seed: int = 1) -> None:
        rng = random.Random(seed)
        self.rng = rng
        self.rate = rate
        self.names = [f"GET /api/endpoint-{i}/{{id}}" for i in range(names)]
        # Each name its own median (0.5 to 20 ms) and spread: a name's buckets, drawn once.
        self.pools = [
            [bucket_of(int(rng.lognormvariate(rng.uniform(6.2, 9.9), 0.5))) for _ in range(POOL)]
            for _ in range(names)
        ]
        self.latency = [[0] * NBUCKETS for _ in range(names)]
        self.counts = [0] * names
        self.sums = [0] * names
        self.maxes = [0] * names
        self.steps = [0] * NBUCKETS
        self.seconds = 0

    def second(self) -> Snapshot:
        """One more second of traffic; the totals so far."""
        rng = self.rng
        self.seconds += 1
        for i, pool in enumerate(self.pools):
            n = self.rate // len(self.pools) + (rng.random() < 0.5)
            buckets = self.latency[i]
            for index in rng.choices(pool, k=n):
                buckets[index] += 1
                self.steps[index] += 1
                self.sums[i] += index * 16  # a plausible value of the bucket (µs)
                self.maxes[i] = max(self.maxes[i], index * 16)
            self.counts[i] += n
        return self.snapshot()

    def snapshot(self) -> Snapshot:
        by_name = []
        for i, name in enumerate(self.names):
            histogram = Histogram(
                tuple(self.latency[i]), self.counts[i], self.sums[i], self.maxes[i]
            )
            by_name.append(
                RequestStats(
                    name,
                    requests=self.counts[i],
                    response_bytes=self.counts[i] * 512,
                    status_codes=((200, self.counts[i]),),
                    latency=histogram,
                    host="api.test",
                )
            )
        total = sum(self.counts)
        steps = Histogram(tuple(self.steps), total, sum(self.sums), max(self.maxes, default=0))
        return Snapshot(
            taken_at=float(self.seconds),
            scenarios=(ScenarioStats("call", total, 0, steps),),
            workers=50,
            requests=total,
            statuses=tuple(total if c == "2xx" else 0 for c in STATUS_CLASSES),
            response_bytes=total * 512,
            request_latency=Histogram.merge([r.latency for r in by_name if r.latency]),
            started=total,
            by_request=tuple(by_name),
        )


def _hourly(second: int, seconds: int, rows: list[Second]) -> None:
    """Every hour (and at the end): the rows so far, and the memory they hold."""
    if second % 3600 == 0 or second == seconds:
        print(f"  {second / 3600:4.1f} {len(rows):6,} {deep_size(rows) / 2**20:10.1f}", flush=True)


def simulate(args: argparse.Namespace, horizons: Horizons) -> RunReport:
    """The made-up run through the recorder; its report."""
    traffic = Traffic(args.rate, args.names)
    print(f"{args.seconds:,} s at {args.rate} requests/s over {args.names} names")
    print(HEADER)
    recorder = SeriesRecorder(traffic.snapshot(), T0 + 0.3, horizons=horizons)
    snapshot = traffic.snapshot()
    for second in range(1, args.seconds + 1):
        snapshot = traffic.second()
        if second < args.seconds:
            recorder.update(snapshot, T0 + second + 0.3)
            _hourly(second, args.seconds, recorder.rows)
    rows = recorder.finish(snapshot)
    _hourly(args.seconds, args.seconds, rows)
    return RunReport(
        snapshot=snapshot,
        started_at=T0 + 0.3,
        ended_at=T0 + args.seconds + 0.3,
        duration=float(args.seconds),
        options={"duration": args.seconds},
        series=tuple(rows),
        stop_reason="duration",
    )


def replay(args: argparse.Namespace, horizons: Horizons) -> RunReport:
    """A real run's seconds (its report's one-second rows but the first and last, partial),
    one after the other again and again, through the recorder's tiers; a report of them (its
    totals are the real run's: only its size is of use)."""
    real = jsonload.load(args.replay)
    seconds = [row for row in real.series if row.seconds == 1][1:-1]
    print(f"{args.seconds:,} s of the {len(seconds)} seconds of {args.replay}, replayed")
    print(HEADER)
    tiers = Tiers(horizons)
    for second in range(args.seconds):
        tiers.add(dataclasses.replace(seconds[second % len(seconds)], t=T0 + second))
        _hourly(second + 1, args.seconds, tiers.rows)
    return dataclasses.replace(real, series=tuple(tiers.rows))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=86_400, help="length of the run")
    parser.add_argument("--rate", type=int, default=400, help="requests per second")
    parser.add_argument("--names", type=int, default=20, help="request names with a series")
    parser.add_argument(
        "--horizons", choices=("default", "none"), default="default", help="none: keep every row"
    )
    parser.add_argument("--replay", metavar="REPORT", help="a real run's seconds instead")
    args = parser.parse_args()
    horizons = HORIZONS if args.horizons == "default" else ()
    ladder = ", ".join(f"{width} s rows past {age} s" for age, width in horizons) or "none"
    print(f"horizons: {ladder}")
    started = time.perf_counter()
    report = replay(args, horizons) if args.replay else simulate(args, horizons)
    print(f"simulated in {time.perf_counter() - started:.0f} s")
    widths: dict[int, int] = {}
    for row in report.series:
        widths[row.seconds] = widths.get(row.seconds, 0) + 1
    print("rows by width: " + ", ".join(f"{n:,} of {w} s" for w, n in sorted(widths.items())))
    doc = jsonreport.document(report)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "day.json"
        jsonreport.write(path, doc)
        size = path.stat().st_size
        indented = len(json.dumps(doc, indent=1)) + 1
        read = "" if args.replay else f"; read back in {_read_s(path):.1f} s"
    print(f"report: {size / 1e6:.1f} MB ({indented / 1e6:.1f} MB indented as before){read}")
    return 0


def _read_s(path: Path) -> float:
    started = time.perf_counter()
    jsonload.load(path)
    return time.perf_counter() - started


if __name__ == "__main__":
    sys.exit(main())
