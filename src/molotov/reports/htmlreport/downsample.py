"""The report's per-second series, merged into k-second buckets for the charts.

A 24-hour run has 86,400 rows; a chart 1,200 pixels wide cannot show more than about one
point per pixel, and a page carrying every row would weigh tens of megabytes. So the rows of
``k`` consecutive seconds are merged, ``k`` being the smallest of :data:`RESOLUTIONS` that
keeps a chart under :data:`MAX_POINTS` points (1 s up to 25 minutes, 1 min for 24 hours).
Merging loses nothing that the chart claims to show:

* counts add, so a rate is the exact average over the bucket (count / seconds covered);
* histogram buckets add, so the p50/p95/p99 of a bucket are exact for its interval (within
  the histogram's resolution), never an average of percentiles;
* gauges (active workers, the target) are the mean of the rows' values, drawn at the mean of
  the instants they were read at (:data:`GAUGES`);
* a bucket with no row at all (a gap between merged runs) is ``None``: a gap, not a zero.

A long run's report keeps its older seconds joined into wider rows (``"s": 10``, 60, ...; see
:mod:`molotov.stats.series`): such a row is one point of its own when it is wider than ``k``
(``k`` is then one of the :data:`RESOLUTIONS` that divide it, or that it divides, so that no
row straddles two points: :func:`resolution`). Points start at multiples of their width (epoch
seconds), and a rate is per second of the rows' time that the point covers.

The rows' per-request latency (``by_request``) is merged the same way for the names asked for
(the page's per-request charts): the same buckets, the same percentiles code.

Rows are read with ``dict.get``: keys that a report does not have (older reports have no
``workers``, ``status_classes``, ...) give no column, never an error.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from molotov.stats.histogram import percentiles_us

RESOLUTIONS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400)
MAX_POINTS = 1500
COUNTERS = ("steps", "failures", "requests", "started", "dropped")
# A gauge is read once per row, at an instant of its second (see stats.series.Second): the
# workers active at its end (the run's end, for the last, partial second), the target asked
# for at its middle. A bucket's value is the mean of its rows' readings, and its instant the
# mean of theirs: where the chart draws it.
GAUGES = {"workers": "end", "target": "middle"}
KEYED = ("status_classes", "request_errors")  # {label: count} per row
LATENCY_PERCENTILES = (50.0, 95.0, 99.0)  # the latency charts, run-wide and per request

Row = Mapping[str, Any]
Column = list[float | None]


def resolution(span_s: int, max_points: int = MAX_POINTS, widths: Collection[int] = (1,)) -> int:
    """Seconds per bucket for a series spanning ``span_s`` seconds whose rows are ``widths``
    seconds wide: one that each width divides, or is a multiple of."""

    def fits(k: int) -> bool:
        return all(k % width == 0 or width % k == 0 for width in widths)

    for k in RESOLUTIONS:
        if -(-span_s // k) <= max_points and fits(k):
            return k
    widest = max(widths)
    return -(-span_s // max_points // widest) * widest


def width(row: Row) -> int:
    """The seconds a row covers (``s``; a second when it has none)."""
    return int(row.get("s") or 1)


@dataclass(frozen=True)
class Downsampled:
    """The series in points of k seconds (or of a row wider than k): one value per point in
    every column."""

    k: int
    t: list[int]  # epoch second at which each point starts
    widths: list[int] = field(default_factory=list)  # seconds of each: k, or a wider row's
    columns: dict[str, Column] = field(default_factory=dict)  # rates /s, gauges
    instants: dict[str, Column] = field(default_factory=dict)  # gauge -> when each was read
    keyed: dict[str, dict[str, Column]] = field(default_factory=dict)  # per label, /s
    latency: dict[float, Column] = field(default_factory=dict)  # percentile -> ms
    latency_source: str = ""  # "request_latency" or "buckets" (step durations)
    # request name -> percentile (LATENCY_PERCENTILES) -> ms, for the names asked for
    by_request: dict[str, dict[float, Column]] = field(default_factory=dict)


def _latency_source(rows: Sequence[Row]) -> str:
    """Request latency per second when the rows carry it, else the step durations."""
    if any(row.get("request_latency") for row in rows):
        return "request_latency"
    return "buckets" if any(row.get("buckets") for row in rows) else ""


def _grow(column: list[Any], n: int, fill: Any) -> list[Any]:
    if len(column) < n:
        column.extend([fill] * (n - len(column)))
    return column


class _Latency:
    """One histogram's buckets merged per k-second bucket: its percentiles, exact for each.

    Rows come in time order, so only the last bucket is still open: it keeps its merged
    buckets, and a bucket is sealed (its percentiles kept, its buckets dropped) when a row of
    a later one comes. A long series costs a few numbers per bucket, not its histograms."""

    def __init__(self) -> None:
        self.sealed: list[list[float] | None] = []  # the percentiles of each bucket before
        self.open = -1  # the bucket still merging rows (-1: none yet)
        self.merged: dict[int, int] = {}
        self.max_us = 0

    def add(self, b: int, block: Mapping[str, Any]) -> None:
        if b != self.open:
            self._seal()
            self.open = b
        merged = self.merged
        for index, hits in block.get("buckets") or ():
            merged[index] = merged.get(index, 0) + hits
        self.max_us = max(self.max_us, int(block.get("max_us") or 0))

    def _seal(self) -> None:
        if self.open < 0:
            return
        _grow(self.sealed, self.open, None).append(self._percentiles_ms())
        self.merged, self.max_us = {}, 0

    def _percentiles_ms(self) -> list[float] | None:
        """The percentiles of the open bucket, from its merged buckets (None: no value)."""
        merged = self.merged
        count = sum(merged.values())
        if not count:
            return None
        values = percentiles_us(sorted(merged.items()), count, self.max_us, LATENCY_PERCENTILES)
        return [round(us / 1000, 3) for us in values]

    def columns(self, n: int) -> dict[float, Column]:
        """One column (ms) per percentile of :data:`LATENCY_PERCENTILES`, a value per bucket."""
        per_bucket = list(self.sealed)
        if self.open >= 0:
            _grow(per_bucket, self.open, None).append(self._percentiles_ms())
        _grow(per_bucket, n, None)
        return {
            percent: [None if values is None else values[i] for values in per_bucket]
            for i, percent in enumerate(LATENCY_PERCENTILES)
        }


class Downsampler:
    """The series' rows merged into points as they come (in time order): :func:`downsample`
    feeds it a report's rows at once, a live dashboard the rows of a running run, one a
    second, and asks for the columns whenever it draws.

    A point is ``k`` seconds from a multiple of ``k`` (epoch seconds), or one row wider than
    ``k`` (a report's joined row: ``k`` must divide its width, see :func:`resolution`). ``first``:
    the first row's second; ``source``: the histogram of the latency chart
    (:func:`_latency_source`); ``names``: the request names whose latency is merged (None:
    every name the rows have); ``end``: the run's end (epoch seconds), when the rows' last
    second is partial."""

    def __init__(
        self,
        first: int,
        k: int,
        source: str,
        names: Collection[str] | None = (),
        end: float | None = None,
    ) -> None:
        self.first = first
        self.k = k
        self.end = end
        self.source = source
        self.until: int | None = None  # the end of the latest row (epoch seconds)
        self.starts: list[int] = []  # each point's first second
        self.widths: list[int] = []  # each point's seconds
        self.rows: list[int] = []  # rows in each point
        self.counters: dict[str, list[int]] = {}
        # gauge -> (sum of values, sum of the instants they were read at, seconds), each
        # value and instant counted once per second of its row
        self.gauges: dict[str, tuple[list[float], list[float], list[int]]] = {}
        self.keyed: dict[str, dict[str, list[int]]] = {key: {} for key in KEYED}
        self.latency = _Latency()
        self._names = names
        self.by_request: dict[str, _Latency] = {name: _Latency() for name in names or ()}

    def _point(self, t: int, seconds: int) -> int:
        """The index of the point of a row from ``t`` for ``seconds`` (a new one, after empty
        k-second points for the time no row covers, when it is past the latest)."""
        if self.until is not None and t < self.until:
            raise ValueError(f"series rows must be in time order (second {t} after {self.until})")
        self.until = t + seconds
        size = max(self.k, seconds)
        start = t - t % size
        if self.starts and start == self.starts[-1] and size == self.widths[-1]:
            return len(self.starts) - 1
        at = self.starts[-1] + self.widths[-1] if self.starts else self.first - self.first % self.k
        if start < at or start + size < t + seconds:
            raise ValueError(f"series row of second {t} ({seconds} s) is off the {size} s grid")
        for gap in range(at, start, self.k):
            self.starts.append(gap)
            self.widths.append(self.k)
        self.starts.append(start)
        self.widths.append(size)
        return len(self.starts) - 1

    def add(self, row: Row) -> None:
        """One more row, after the previous row's time."""
        t, seconds = int(row["t"]), width(row)
        b = self._point(t, seconds)
        n = b + 1
        _grow(self.rows, n, 0)[b] += 1
        for key in COUNTERS:
            value = row.get(key)
            if value is not None:
                _grow(self.counters.setdefault(key, []), n, 0)[b] += value
        ends = t + seconds if self.end is None else min(t + seconds, self.end)  # a partial last
        for key, when in GAUGES.items():
            value = row.get(key)
            if value is not None:
                # A joined row's reading stands for each of its seconds.
                total, at, seen = self.gauges.setdefault(key, ([], [], []))
                _grow(total, n, 0.0)[b] += value * seconds
                _grow(at, n, 0.0)[b] += (ends if when == "end" else t + seconds / 2) * seconds
                _grow(seen, n, 0)[b] += seconds
        for key in KEYED:
            counts = row.get(key)
            if counts:
                labels = self.keyed[key]
                for label, value in counts.items():
                    _grow(labels.setdefault(label, []), n, 0)[b] += value
        if self.source:
            self.latency.add(b, row if self.source == "buckets" else row.get(self.source) or {})
        if not self.by_request and self._names is not None:
            return
        for name, second in (row.get("by_request") or {}).items():
            latency = self.by_request.get(name)
            if latency is None and self._names is None:
                latency = self.by_request[name] = _Latency()
            if latency is not None:
                latency.add(b, second.get("latency") or {})

    def result(self, names: Sequence[str] | None = None) -> Downsampled:
        """The points so far, with the per-request latency of ``names`` (default: all)."""
        if self.until is None:
            return Downsampled(self.k, [])
        first, until, n = self.first, self.until, len(self.starts)
        # Seconds of the rows' time each point covers: its width, less what is before the
        # first row or after the last.
        spans = [
            min(start + size, until) - max(start, first)
            for start, size in zip(self.starts, self.widths, strict=True)
        ]
        empty = [not rows_in for rows_in in _grow(self.rows, n, 0)]

        def rates(column: list[int]) -> Column:
            return [
                None if gap else value / span
                for value, span, gap in zip(_grow(column, n, 0), spans, empty, strict=True)
            ]

        columns: dict[str, Column] = {
            key: rates(self.counters[key]) for key in COUNTERS if key in self.counters
        }
        instants: dict[str, Column] = {}
        for key in GAUGES:
            if key in self.gauges:
                total, at, seen = (_grow(c, n, 0) for c in self.gauges[key])
                columns[key] = [v / c if c else None for v, c in zip(total, seen, strict=True)]
                instants[key] = [a / c if c else None for a, c in zip(at, seen, strict=True)]
        keyed = {
            key: {label: rates(labels[label]) for label in sorted(labels)}
            for key, labels in self.keyed.items()
            if labels
        }
        latency = self.latency.columns(n) if self.source else {}
        wanted = self.by_request if names is None else names
        by_request = {
            name: self.by_request[name].columns(n) for name in wanted if name in self.by_request
        }
        return Downsampled(
            self.k,
            list(self.starts),
            list(self.widths),
            columns,
            instants,
            keyed,
            latency,
            self.source,
            by_request,
        )

    @property
    def names(self) -> list[str]:
        """The request names whose latency it merges."""
        return list(self.by_request)


def _width_text(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} s"
    return f"{seconds // 60} min" if seconds < 3600 else f"{seconds // 3600} h"


def joined_note(sampled: Downsampled) -> str:
    """A sentence for a chart's note when some points are rows wider than ``k`` (the report
    joined its older seconds), else ``""``."""
    wider = sorted({size for size in sampled.widths if size > sampled.k})
    if not wider:
        return ""
    return (
        "The report keeps its older seconds joined, in rows of "
        + ", ".join(_width_text(size) for size in wider)
        + ": there, a point is one such row. "
    )


def downsample(
    rows: Sequence[Row], k: int | None = None, names: Sequence[str] = (), end: float | None = None
) -> Downsampled:
    """Merge the rows (increasing ``t``) into points of ``k`` seconds (default: fitted to the
    span and the rows' widths), with the per-request latency of ``names``; ``end``: the run's
    end, in epoch seconds (default: the end of the last row)."""
    if not rows:
        return Downsampled(k or 1, [])
    first = int(rows[0]["t"])
    last = int(rows[-1]["t"]) + width(rows[-1])  # the end of the rows' time
    k = k or resolution(last - first, widths={width(row) for row in rows})
    sampler = Downsampler(first, k, _latency_source(rows), names, last if end is None else end)
    for row in rows:
        sampler.add(row)
    return sampler.result(names)
