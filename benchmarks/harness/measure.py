"""One row of the table: a client measured over a fixed window; medians and per-pass ratios."""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from harness.processes import Pinning, cpu_seconds, process_tree, rss_bytes, spawn, stop_tree
from harness.servers import Target, UdpSink

RSS_EVERY = 0.25  # seconds between two RSS samples inside a window


@dataclass
class Row:
    key: str
    label: str
    argv: list[str]
    env: dict[str, str] | None = None
    samples: list[Sample] = field(default_factory=list)
    note: str = ""


@dataclass(frozen=True)
class Sample:
    rps: float
    cpu_us: float  # client CPU per request, whole process tree
    client_util: float  # client tree CPU seconds per wall second
    target_util: float
    rss: int  # peak of the tree's summed RSS
    processes: int
    statsd: int = 0  # datagrams the sink got during the window


def measure(
    row: Row, target: Target, pinning: Pinning, sink: UdpSink, warmup: float, window: float
) -> Sample | None:
    """One run of a row: start, warm up, measure the window, stop."""
    with tempfile.TemporaryFile() as errors:
        proc = spawn(
            row.argv, pinning, pinning.client, env=row.env, stdout=subprocess.DEVNULL, stderr=errors
        )
        try:
            time.sleep(warmup)
            if proc.poll() is not None:
                errors.seek(0)
                row.note = f"exited with {proc.returncode}: {errors.read()[-300:].decode()!r}"
                return None
            count0, _ = target.count()
            t0 = time.monotonic()
            tree = process_tree(proc.pid)
            cpu0, tcpu0, dgrams0 = cpu_seconds(tree), target.cpu(), sink.datagrams
            peak = 0
            end = t0 + window
            while (now := time.monotonic()) < end:
                peak = max(peak, sum(rss_bytes(p) for p in tree))
                time.sleep(min(RSS_EVERY, end - now))
            count1, _ = target.count()
            t1 = time.monotonic()
            cpu1, tcpu1 = cpu_seconds(tree), target.cpu()
            peak = max(peak, sum(rss_bytes(p) for p in tree))
            dgrams = sink.datagrams - dgrams0
            alive = proc.poll() is None
        finally:
            stop_tree(proc)
        if not alive or count1 == count0:
            errors.seek(0)
            row.note = f"no steady state (exit {proc.returncode}): {errors.read()[-300:]!r}"
            return None
    requests = count1 - count0
    wall = t1 - t0
    return Sample(
        rps=requests / wall,
        cpu_us=(cpu1 - cpu0) / requests * 1e6,
        client_util=(cpu1 - cpu0) / wall,
        target_util=(tcpu1 - tcpu0) / wall,
        rss=peak,
        processes=len(tree),
        statsd=dgrams,
    )


def med(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def per_pass_ratio(
    rows: dict[str, Row], key: str, base: str, value: Callable[[Sample], float]
) -> list[float]:
    if key not in rows or base not in rows:
        return []
    pairs = zip(rows[key].samples, rows[base].samples, strict=False)
    return [value(a) / value(b) for a, b in pairs]
