"""The live views' window: the last :data:`RATE_WINDOW` seconds of snapshots.

Rates, recent percentiles, and the busiest request names over the window, for the console
(:mod:`.console`), which redraws from it every ``--console-update`` seconds: each look is
cheap (a few names, one pass over a histogram's buckets each).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from molotov.reports.requesttables import share
from molotov.stats.histogram import Histogram, format_us, percentiles_us
from molotov.stats.snapshot import RequestStats, Snapshot

RATE_WINDOW = 5.0  # seconds of snapshots behind the live rates and recent percentiles
NAME_CHARACTERS = 40  # a longer request name is cut short in the live views


@dataclass(frozen=True)
class RecentRequests:
    """What one request name did in the window: requests/s, the share that failed, p95."""

    name: str
    per_second: float
    requests: int
    failures: int
    p95_us: int | None  # None: no response in the window, or its latency not read

    def failed(self) -> str:
        return share(self.failures, self.requests)

    def p95(self) -> str:
        return "-" if self.p95_us is None else format_us(self.p95_us)

    def short_name(self, limit: int = NAME_CHARACTERS) -> str:
        """The name, cut to ``limit`` characters (its end replaced by ``...``)."""
        name = self.name
        return name if len(name) <= limit else name[: max(1, limit - 3)] + "..."


def _recent_p95(latest: Histogram, earlier: Histogram) -> int | None:
    """The p95 of what ``latest`` recorded since ``earlier``, in one pass over the buckets."""
    count = latest.count - earlier.count
    if count <= 0:
        return None
    pairs = (
        (i, now - then)
        for i, (now, then) in enumerate(zip(latest.buckets, earlier.buckets, strict=True))
        if now != then
    )
    return percentiles_us(pairs, count, latest.max_us, (95,))[0]


def _named(snapshots: Iterable[Snapshot], name: str) -> Histogram | None:
    """The first histogram of ``name`` read in ``snapshots``: empty where the name was not
    seen yet, None if every snapshot left it unread (a live snapshot reads a few names')."""
    for snapshot in snapshots:
        stats = next((r for r in snapshot.by_request if r.name == name), None)
        if stats is None:
            return Histogram.empty()
        if stats.latency is not None:
            return stats.latency
    return None


class Window:
    """Rates and recent percentiles over the last :data:`RATE_WINDOW` seconds of snapshots.

    One tick (0.2 s) of counts jumps by tens of percent while the real rate is steady; a few
    seconds give a rate a human can read, and the bus buckets' deltas give the percentiles of
    just those seconds, exactly.
    """

    def __init__(self) -> None:
        self._snapshots: deque[Snapshot] = deque()

    def update(self, snapshot: Snapshot, elapsed: float | None = None) -> None:
        """Add a tick's snapshot; ``elapsed`` (the run's seconds) on the first one stands for
        the run's start, when every count was 0: the first line's rates are since then."""
        snapshots = self._snapshots
        if not snapshots and elapsed:
            snapshots.append(Snapshot(taken_at=snapshot.taken_at - elapsed, scenarios=()))
        snapshots.append(snapshot)
        while len(snapshots) > 2 and snapshots[1].taken_at <= snapshot.taken_at - RATE_WINDOW:
            snapshots.popleft()

    @property
    def _ends(self) -> tuple[Snapshot, Snapshot, float] | None:
        if len(self._snapshots) < 2:
            return None
        first, last = self._snapshots[0], self._snapshots[-1]
        seconds = last.taken_at - first.taken_at
        return (first, last, seconds) if seconds > 0 else None

    def rate(self, counter: str) -> float:
        """Per second, of a counter of the snapshots (``"steps"``, ``"requests"``, ...)."""
        ends = self._ends
        if ends is None:
            return 0.0
        first, last, seconds = ends
        return float(getattr(last, counter) - getattr(first, counter)) / seconds

    def recent(self, histogram: str) -> Histogram:
        """What a histogram of the snapshots (``"durations"``, ...) recorded in the window."""
        ends = self._ends
        if ends is None:
            return getattr(self._snapshots[-1], histogram) if self._snapshots else Histogram.empty()
        first, last, _ = ends
        latest: Histogram = getattr(last, histogram)
        return latest.minus(getattr(first, histogram))

    def busiest(self, limit: int) -> list[RecentRequests]:
        """The ``limit`` busiest request names of the run so far, each over the window.

        Cheap enough for every redraw: only these names are looked up, and each p95 is one
        pass over the buckets' differences.
        """
        if not self._snapshots:
            return []
        last = self._snapshots[-1]
        ends = self._ends
        seconds = ends[2] if ends is not None else 0.0
        earlier = list(self._snapshots)[:-1]
        first = {r.name: r for r in earlier[0].by_request} if earlier else {}
        recent = []
        for stats in last.requests_by_traffic()[:limit]:
            before = first.get(stats.name, RequestStats(stats.name))
            requests = stats.requests - before.requests
            p95 = None
            if stats.latency is not None:
                baseline = _named(earlier, stats.name) if earlier else Histogram.empty()
                if baseline is not None:
                    p95 = _recent_p95(stats.latency, baseline)
            recent.append(
                RecentRequests(
                    stats.name,
                    requests / seconds if seconds > 0 else 0.0,
                    requests,
                    stats.failures - before.failures,
                    p95,
                )
            )
        return recent
