"""The run's per-second time series, cut by the parent from the snapshots it reads each tick.

A :class:`SeriesRecorder` turns the running totals of successive snapshots into one
:class:`Second` per wall-clock second (whose sums equal the final totals); each row's
histograms are kept :class:`Sparse`. The reports write, read and merge these rows.
"""

from __future__ import annotations

import dataclasses
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import compress

from molotov.stats.histogram import NBUCKETS, Histogram
from molotov.stats.snapshot import REQUEST_ERROR_KINDS, STATUS_CLASSES, RequestStats, Snapshot

SPARSE_MAX = 2**31 - 1  # the largest bucket count of a Sparse (its int32 array)


@dataclass(frozen=True)
class Sparse:
    """A histogram kept sparse: the non-empty buckets' (index, count), interleaved in an int32
    array (a series keeps a few of these per second of the run: dense ones would make a long
    run's parent grow by ~20 KB a second each), with its count, sum and max. A bucket count
    above :data:`SPARSE_MAX` does not fit: building one raises :class:`OverflowError`."""

    pairs: array[int]
    count: int = 0
    sum_us: int = 0
    max_us: int = 0

    @classmethod
    def of(cls, histogram: Histogram) -> Sparse:
        buckets = histogram.buckets
        # compress() finds the non-empty buckets in C: the parent does this for a few
        # histograms per second of the run, each of 2,688 buckets.
        indexes = list(compress(range(NBUCKETS), buckets))
        pairs = array("i", [0]) * (2 * len(indexes))
        pairs[::2] = array("i", indexes)
        pairs[1::2] = array("i", [buckets[i] for i in indexes])
        return cls(pairs, histogram.count, histogram.total_us, histogram.max_us)

    @classmethod
    def empty(cls) -> Sparse:
        return cls(array("i"))

    def items(self) -> list[tuple[int, int]]:
        return list(zip(self.pairs[::2], self.pairs[1::2], strict=True))

    @property
    def histogram(self) -> Histogram:
        buckets = [0] * NBUCKETS
        for index, count in self.items():
            buckets[index] += count
        return Histogram(tuple(buckets), self.count, self.sum_us, self.max_us)

    def plus(self, other: Sparse) -> Sparse:
        if not other.count:
            return self
        if not self.count:
            return other
        return Sparse.of(Histogram.merge([self.histogram, other.histogram]))


def _zeros(n: int) -> tuple[int, ...]:
    return (0,) * n


@dataclass(frozen=True)
class RequestSecond:
    """One request name's second: its requests, how many failed (4xx, 5xx, request errors),
    and their latency."""

    name: str
    requests: int
    failures: int
    latency: Sparse

    def plus(self, other: RequestSecond) -> RequestSecond:
        return RequestSecond(
            self.name,
            self.requests + other.requests,
            self.failures + other.failures,
            self.latency.plus(other.latency),
        )


def add_names(*rows: Sequence[RequestSecond]) -> tuple[RequestSecond, ...]:
    """Several generators' per-name rows of one second, by name."""
    merged: dict[str, RequestSecond] = {}
    for row in rows:
        for item in row:
            known = merged.get(item.name)
            merged[item.name] = item if known is None else known.plus(item)
    return tuple(merged[name] for name in sorted(merged))


@dataclass(frozen=True)
class Second:
    """One row of the time series: what happened during one wall-clock second.

    Counters are what finished (steps, requests) or started (``started``), or was dropped,
    during the second; ``workers`` is the number active at its end, ``target`` what the rate
    or the stages asked for at its middle. Each histogram's max is the run's largest value so
    far: a bound of the second's values, so its percentiles never exceed a value really seen.
    """

    t: int  # epoch seconds
    steps: int
    failures: int
    requests: int
    durations: Sparse
    started: int = 0
    dropped: int = 0
    workers: int = 0
    target: float | None = None
    statuses: tuple[int, ...] = _zeros(len(STATUS_CLASSES))
    request_errors: tuple[int, ...] = _zeros(len(REQUEST_ERROR_KINDS))
    response_times: Sparse = dataclasses.field(default_factory=Sparse.empty)
    request_latency: Sparse = dataclasses.field(default_factory=Sparse.empty)
    by_request: tuple[RequestSecond, ...] = ()  # the series' names (see stats.watch)

    def plus(self, other: Second) -> Second:
        """Two load generators' rows of the same second, as one."""
        target = None
        if self.target is not None or other.target is not None:
            target = (self.target or 0.0) + (other.target or 0.0)
        return Second(
            t=self.t,
            steps=self.steps + other.steps,
            failures=self.failures + other.failures,
            requests=self.requests + other.requests,
            durations=self.durations.plus(other.durations),
            started=self.started + other.started,
            dropped=self.dropped + other.dropped,
            workers=self.workers + other.workers,
            target=target,
            statuses=add_counts([self.statuses, other.statuses]),
            request_errors=add_counts([self.request_errors, other.request_errors]),
            response_times=self.response_times.plus(other.response_times),
            request_latency=self.request_latency.plus(other.request_latency),
            by_request=add_names(self.by_request, other.by_request),
        )


def _name_rows(
    snapshot: Snapshot, base: Snapshot, names: set[str] | None
) -> tuple[RequestSecond, ...]:
    """The second's rows of the series' names whose latency both snapshots read (a name new
    since ``base`` starts from zero; one read first now, as a new top name, starts next)."""
    before: dict[str, RequestStats] = {r.name: r for r in base.by_request}
    rows = []
    for now in snapshot.by_request:
        if now.latency is None or (names is not None and now.name not in names):
            continue
        then = before.get(now.name)
        if then is None:
            then = RequestStats(now.name, latency=Histogram.empty())
        if then.latency is None or now.requests == then.requests:
            continue
        rows.append(
            RequestSecond(
                now.name,
                now.requests - then.requests,
                now.failures - then.failures,
                Sparse.of(now.latency.minus(then.latency)),
            )
        )
    return tuple(sorted(rows, key=lambda r: r.name))


class SeriesRecorder:
    """Cuts a run's snapshots into per-second rows whose sums equal the final totals."""

    def __init__(
        self,
        first: Snapshot,
        wall_start: float,
        target: Callable[[float], float | None] | None = None,
        names: set[str] | None = None,
    ) -> None:
        """``names``: the request names that get a series (a live set, see stats.watch;
        None: every name whose latency the snapshots hold)."""
        self._names = names
        self._base = first
        self._second = int(wall_start)
        self._target = target
        self.rows: list[Second] = []

    def _row(self, snapshot: Snapshot) -> Second:
        base = self._base
        return Second(
            t=self._second,
            steps=snapshot.steps - base.steps,
            failures=snapshot.failures - base.failures,
            requests=snapshot.requests - base.requests,
            durations=Sparse.of(snapshot.durations.minus(base.durations)),
            started=snapshot.started - base.started,
            dropped=snapshot.dropped - base.dropped,
            workers=snapshot.workers,
            target=self._target(self._second + 0.5) if self._target else None,
            statuses=_minus(snapshot.statuses, base.statuses),
            request_errors=_minus(snapshot.request_errors_by_kind, base.request_errors_by_kind),
            response_times=Sparse.of(snapshot.response_times.minus(base.response_times)),
            request_latency=Sparse.of(snapshot.request_latency.minus(base.request_latency)),
            by_request=_name_rows(snapshot, base, self._names),
        )

    def closes(self, wall_now: float) -> bool:
        """Whether a snapshot taken at ``wall_now`` closes a row (its names' latency must be
        in it)."""
        return int(wall_now) > self._second

    def update(self, snapshot: Snapshot, wall_now: float) -> None:
        if int(wall_now) > self._second:
            self.rows.append(self._row(snapshot))
            self._base = snapshot
            self._second = int(wall_now)

    def finish(self, snapshot: Snapshot) -> list[Second]:
        """Close the last, partial second; returns every row."""
        self.rows.append(self._row(snapshot))
        self._base = snapshot
        return self.rows


def add_counts(rows: Sequence[tuple[int, ...]]) -> tuple[int, ...]:
    """Element-wise sums of equally long count rows (status classes, error kinds)."""
    return tuple(map(sum, zip(*rows, strict=True)))


def _minus(now: tuple[int, ...], before: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(a - b for a, b in zip(now, before, strict=True))
