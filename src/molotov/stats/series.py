"""The run's time series, cut by the parent from the snapshots it reads each tick.

A :class:`SeriesRecorder` turns the running totals of successive snapshots into one
:class:`Second` per wall-clock second (whose sums equal the final totals); each row's
histograms are kept :class:`Sparse`. The reports write, read and merge these rows.

A long run's rows are bounded: past each of :data:`HORIZONS` (an age), the recorder joins the
rows of each aligned block of that horizon's width into one row (``seconds`` wide): counts and
histogram buckets add, so sums still equal the totals and percentiles stay exact for the
block. Widths come from :data:`WIDTHS`, each a multiple of the one before, and a row of width
``w`` starts at a multiple of ``w`` (epoch seconds): any two rows, of any generators, are
either disjoint or one holds the other, so a merge (:func:`merge_series`) puts every row on
the coarsest grid that any generator has over its time, and stays exact.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import operator
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import compress

from molotov.stats.histogram import NBUCKETS, Histogram, bucket_of
from molotov.stats.snapshot import REQUEST_ERROR_KINDS, STATUS_CLASSES, RequestStats, Snapshot

SPARSE_MAX = 2**31 - 1  # the largest bucket count of a Sparse (its int32 array)
# The seconds a row may cover, each a multiple of the one before (see the module's docstring).
WIDTHS = (1, 10, 60, 600, 3600)
# (age in seconds, width): rows that ended more than ``age`` before the newest one are joined
# into rows of ``width`` seconds. A day's series is 600 + 300 + 300 + 108 rows, not 86,400: its
# rows saturate (a minute's histogram has the buckets that the distribution has, not 60 times
# a second's), so a joined row costs far less per second than the seconds it replaces.
HORIZONS = ((600, 10), (3600, 60), (6 * 3600, 600), (24 * 3600, 3600))


def _pairs(indexes: list[int], counts: list[int]) -> array[int]:
    """Bucket indexes and their counts, interleaved in an int32 array (a Sparse's form)."""
    pairs = array("i", [0]) * (2 * len(indexes))
    pairs[::2] = array("i", indexes)
    pairs[1::2] = array("i", counts)
    return pairs


def _span(histogram: Histogram) -> range:
    """The buckets that can hold a histogram's values: from its first non-empty one to its
    maximum's (latencies cluster: a few hundred of the 2,688), or all when those do not hold
    its count (a histogram put together otherwise)."""
    buckets = histogram.buckets
    first = next(compress(itertools.count(), buckets), 0)  # in C, stops at the first value
    end = bucket_of(histogram.max_us) + 1
    if first < end and sum(buckets[first:end]) == histogram.count:
        return range(first, end)
    return range(NBUCKETS)


@dataclass(frozen=True, slots=True)
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
        span = _span(histogram)
        indexes = list(compress(span, buckets[span.start : span.stop]))
        pairs = _pairs(indexes, [buckets[i] for i in indexes])
        return cls(pairs, histogram.count, histogram.total_us, histogram.max_us)

    @classmethod
    def between(cls, now: Histogram, then: Histogram) -> Sparse:
        """``Sparse.of(now.minus(then))`` without the dense difference: the buckets that
        changed are found in C, within the span of ``now``'s values (a series row takes ~25
        of these a second, each of 2,688 buckets; the dense way was ~40 % of a tick that
        closes a second at 300 names)."""
        after, before = now.buckets, then.buckets
        span = _span(now)
        changed = map(operator.ne, after[span.start : span.stop], before[span.start : span.stop])
        indexes = list(compress(span, changed))
        pairs = _pairs(indexes, [after[i] - before[i] for i in indexes])
        return cls(pairs, now.count - then.count, now.total_us - then.total_us, now.max_us)

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
        return Sparse.sum((self, other))

    @classmethod
    def sum(cls, parts: Sequence[Sparse]) -> Sparse:
        """The histograms together, bucket by bucket, without making them dense (a joined
        row sums up to 60 of them per histogram)."""
        live = [part for part in parts if part.count]
        if len(live) <= 1:
            return live[0] if live else cls.empty()
        counts: dict[int, int] = {}
        for part in live:
            pairs = part.pairs
            for index, hits in zip(pairs[::2], pairs[1::2], strict=True):
                counts[index] = counts.get(index, 0) + hits
        indexes = sorted(counts)
        merged = array("i", [0]) * (2 * len(indexes))
        merged[::2] = array("i", indexes)
        merged[1::2] = array("i", [counts[i] for i in indexes])  # OverflowError past int32
        return cls(
            merged,
            sum(part.count for part in live),
            sum(part.sum_us for part in live),
            max(part.max_us for part in live),
        )


def _zeros(n: int) -> tuple[int, ...]:
    return (0,) * n


@dataclass(frozen=True, slots=True)
class RequestSecond:
    """One request name's second: its requests, how many failed (4xx, 5xx, request errors),
    and their latency."""

    name: str
    requests: int
    failures: int
    latency: Sparse


def add_names(*rows: Sequence[RequestSecond]) -> tuple[RequestSecond, ...]:
    """Several rows' per-name rows (of several generators, or of consecutive seconds), by
    name."""
    merged: dict[str, list[RequestSecond]] = {}
    for row in rows:
        for item in row:
            merged.setdefault(item.name, []).append(item)
    return tuple(
        RequestSecond(
            name,
            sum(item.requests for item in items),
            sum(item.failures for item in items),
            Sparse.sum([item.latency for item in items]),
        )
        for name, items in sorted(merged.items())
    )


@dataclass(frozen=True, slots=True)
class Second:
    """One row of the time series: what happened during one wall-clock second, or during
    ``seconds`` of them from ``t`` (a row joined past a horizon, see :data:`HORIZONS`).

    Counters are what finished (steps, requests) or started (``started``), or was dropped,
    during the row; ``workers`` is the number active at its end, ``target`` what the rate or
    the stages asked for at the middle of its second (of a joined row: the mean over its
    seconds). Each histogram's max is the run's largest value so far: a bound of the row's
    values, so its percentiles never exceed a value really seen.
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
    seconds: int = 1  # the row covers t .. t + seconds - 1 (one of WIDTHS, t a multiple)

    def plus(self, other: Second) -> Second:
        """Two load generators' rows of the same interval, as one."""
        assert (self.t, self.seconds) == (other.t, other.seconds)
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
            seconds=self.seconds,
        )


def joined(rows: Sequence[Second], t: int, seconds: int) -> Second:
    """One generator's consecutive rows (in time order) as one row from ``t`` for
    ``seconds``: counts and buckets add; ``workers`` is the last row's (active at the end),
    ``target`` the mean over the seconds that have one."""
    targets = [(row.target * row.seconds, row.seconds) for row in rows if row.target is not None]
    target = sum(v for v, _ in targets) / sum(n for _, n in targets) if targets else None
    return Second(
        t=t,
        steps=sum(row.steps for row in rows),
        failures=sum(row.failures for row in rows),
        requests=sum(row.requests for row in rows),
        durations=Sparse.sum([row.durations for row in rows]),
        started=sum(row.started for row in rows),
        dropped=sum(row.dropped for row in rows),
        workers=rows[-1].workers,
        target=target,
        statuses=add_counts([row.statuses for row in rows]),
        request_errors=add_counts([row.request_errors for row in rows]),
        response_times=Sparse.sum([row.response_times for row in rows]),
        request_latency=Sparse.sum([row.request_latency for row in rows]),
        by_request=add_names(*(row.by_request for row in rows)),
        seconds=seconds,
    )


def merge_series(series: Sequence[Sequence[Second]]) -> tuple[Second, ...]:
    """Several generators' series as one, exactly: each row goes to the widest row that any
    of them has over its time (rows of :data:`WIDTHS` nest, see the module's docstring): a
    generator's rows there are joined, then the generators' add. A bucket count past what a
    row holds (:data:`SPARSE_MAX`) raises :class:`OverflowError` naming the row's second."""
    present = {(row.t, row.seconds) for rows in series for row in rows}

    def block(row: Second) -> tuple[int, int]:
        for width in reversed(WIDTHS):
            start = row.t - row.t % width
            if width > row.seconds and (start, width) in present:
                return start, width
        return row.t, row.seconds

    blocks: dict[tuple[int, int], list[list[Second]]] = {}
    for rows in series:
        mine: dict[tuple[int, int], list[Second]] = {}
        for row in rows:
            mine.setdefault(block(row), []).append(row)
        for key, parts in mine.items():
            blocks.setdefault(key, []).append(parts)
    merged = []
    for (t, seconds), parts_of in sorted(blocks.items()):
        try:
            rows = [
                parts[0] if parts[0].seconds == seconds else joined(parts, t, seconds)
                for parts in parts_of
            ]
            merged.append(functools.reduce(Second.plus, rows))
        except OverflowError:
            raise OverflowError(f"the series' row of second t={t}") from None
    return tuple(merged)


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
                Sparse.between(now.latency, then.latency),
            )
        )
    return tuple(sorted(rows, key=lambda r: r.name))


class Tiers:
    """A series' rows as they come, in time order, the older joined past each horizon: the
    recorder's memory, bounded however long the run."""

    def __init__(self, horizons: Sequence[tuple[int, int]] = HORIZONS) -> None:
        """``horizons``: (age, width) pairs, ages and widths increasing, each width one of
        :data:`WIDTHS` (see :data:`HORIZONS`)."""
        self._horizons = tuple(horizons)
        assert all(width in WIDTHS for _, width in self._horizons)
        # The rows by width, each list in time order: 1 s rows first, then each horizon's.
        self._tiers: list[list[Second]] = [[] for _ in range(len(self._horizons) + 1)]

    @property
    def rows(self) -> list[Second]:
        """Every row so far, in time order (the widest, oldest, first)."""
        return [row for tier in reversed(self._tiers) for row in tier]

    @property
    def recent(self) -> list[Second]:
        """The newest rows, not joined yet (the last ones added, as they were added)."""
        return self._tiers[0]

    def add(self, row: Second) -> None:
        """Keep ``row`` (newer than any so far), then join each tier's rows whose block has
        aged past its horizon (only whole blocks: a block's newest row is past it too)."""
        self._tiers[0].append(row)
        for (age, width), finer, wider in zip(
            self._horizons, self._tiers, self._tiers[1:], strict=False
        ):
            cutoff = row.t + row.seconds - age
            while finer:
                start = finer[0].t - finer[0].t % width
                if start + width > cutoff:
                    break
                n = next((i for i, r in enumerate(finer) if r.t >= start + width), len(finer))
                wider.append(joined(finer[:n], start, width))
                del finer[:n]


class SeriesRecorder:
    """Cuts a run's snapshots into per-second rows whose sums equal the final totals, and
    joins the rows past each horizon as it goes (:class:`Tiers`), so that a long run's
    series stays within a fixed size."""

    def __init__(
        self,
        first: Snapshot,
        wall_start: float,
        target: Callable[[float], float | None] | None = None,
        names: set[str] | None = None,
        horizons: Sequence[tuple[int, int]] = HORIZONS,
    ) -> None:
        """``names``: the request names that get a series (a live set, see stats.watch;
        None: every name whose latency the snapshots hold)."""
        self._names = names
        self._base = first
        self._second = int(wall_start)
        self._target = target
        self._tiers = Tiers(horizons)

    @property
    def rows(self) -> list[Second]:
        return self._tiers.rows

    def _row(self, snapshot: Snapshot) -> Second:
        base = self._base
        return Second(
            t=self._second,
            steps=snapshot.steps - base.steps,
            failures=snapshot.failures - base.failures,
            requests=snapshot.requests - base.requests,
            durations=Sparse.between(snapshot.durations, base.durations),
            started=snapshot.started - base.started,
            dropped=snapshot.dropped - base.dropped,
            workers=snapshot.workers,
            target=self._target(self._second + 0.5) if self._target else None,
            statuses=_minus(snapshot.statuses, base.statuses),
            request_errors=_minus(snapshot.request_errors_by_kind, base.request_errors_by_kind),
            response_times=Sparse.between(snapshot.response_times, base.response_times),
            request_latency=Sparse.between(snapshot.request_latency, base.request_latency),
            by_request=_name_rows(snapshot, base, self._names),
        )

    def closes(self, wall_now: float) -> bool:
        """Whether a snapshot taken at ``wall_now`` closes a row (its names' latency must be
        in it)."""
        return int(wall_now) > self._second

    def update(self, snapshot: Snapshot, wall_now: float) -> Second | None:
        """The running totals at ``wall_now`` (epoch seconds); the row they close, if any: a
        second's (the rows joined past a horizon are not handed out again)."""
        if int(wall_now) <= self._second:
            return None
        row = self._row(snapshot)
        self._tiers.add(row)
        self._base = snapshot
        self._second = int(wall_now)
        return row

    def finish(self, snapshot: Snapshot) -> list[Second]:
        """Close the last, partial second; returns every row."""
        self._tiers.add(self._row(snapshot))
        self._base = snapshot
        return self.rows


def add_counts(rows: Sequence[tuple[int, ...]]) -> tuple[int, ...]:
    """Element-wise sums of equally long count rows (status classes, error kinds)."""
    return tuple(map(sum, zip(*rows, strict=True)))


def _minus(now: tuple[int, ...], before: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(a - b for a, b in zip(now, before, strict=True))
