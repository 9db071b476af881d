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


def resolution(span_s: int, max_points: int = MAX_POINTS) -> int:
    """Seconds per bucket for a series spanning ``span_s`` seconds."""
    for k in RESOLUTIONS:
        if -(-span_s // k) <= max_points:
            return k
    return -(-span_s // max_points)


@dataclass(frozen=True)
class Downsampled:
    """The series in k-second buckets: one value per bucket in every column."""

    k: int
    t: list[int]  # epoch second at which each bucket starts
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
    """The series' rows merged into ``k``-second buckets from ``first`` on, as they come (in
    time order): :func:`downsample` feeds it a report's rows at once, a live dashboard the
    rows of a running run, one a second, and asks for the columns whenever it draws.

    ``source``: the histogram of the latency chart (:func:`_latency_source`); ``names``: the
    request names whose latency is merged (None: every name the rows have); ``end``: the run's
    end (epoch seconds), when the rows' last second is partial."""

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
        self.last: int | None = None  # the latest row's second
        self.rows: list[int] = []  # rows in each bucket
        self.counters: dict[str, list[int]] = {}
        # gauge -> (sum of values, sum of the instants they were read at, rows)
        self.gauges: dict[str, tuple[list[float], list[float], list[int]]] = {}
        self.keyed: dict[str, dict[str, list[int]]] = {key: {} for key in KEYED}
        self.latency = _Latency()
        self._names = names
        self.by_request: dict[str, _Latency] = {name: _Latency() for name in names or ()}

    def add(self, row: Row) -> None:
        """One more row, of a second after the previous row's."""
        t = int(row["t"])
        if self.last is not None and t <= self.last:
            raise ValueError(f"series rows must be in time order (second {t} after {self.last})")
        self.last = t
        b = (t - self.first) // self.k
        n = b + 1
        _grow(self.rows, n, 0)[b] += 1
        for key in COUNTERS:
            value = row.get(key)
            if value is not None:
                _grow(self.counters.setdefault(key, []), n, 0)[b] += value
        ends = t + 1 if self.end is None else min(t + 1, self.end)  # a partial last second
        for key, when in GAUGES.items():
            value = row.get(key)
            if value is not None:
                total, at, seen = self.gauges.setdefault(key, ([], [], []))
                _grow(total, n, 0.0)[b] += value
                _grow(at, n, 0.0)[b] += ends if when == "end" else t + 0.5
                _grow(seen, n, 0)[b] += 1
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
        """The buckets so far, with the per-request latency of ``names`` (default: all)."""
        if self.last is None:
            return Downsampled(self.k, [])
        k, last, n = self.k, self.last, len(self.rows)
        starts = [self.first + i * k for i in range(n)]
        # Seconds of the run each bucket covers: k, except for the last one.
        spans = [min(k, last - start + 1) for start in starts]
        empty = [not rows_in for rows_in in self.rows]

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
        return Downsampled(k, starts, columns, instants, keyed, latency, self.source, by_request)

    @property
    def names(self) -> list[str]:
        """The request names whose latency it merges."""
        return list(self.by_request)


def downsample(
    rows: Sequence[Row], k: int | None = None, names: Sequence[str] = (), end: float | None = None
) -> Downsampled:
    """Merge the rows (increasing ``t``) into buckets of ``k`` seconds (default: fitted), with
    the per-request latency of ``names``; ``end``: the run's end, in epoch seconds (default:
    the end of the last row's second)."""
    if not rows:
        return Downsampled(k or 1, [])
    first, last = int(rows[0]["t"]), int(rows[-1]["t"])
    k = k or resolution(last - first + 1)
    sampler = Downsampler(first, k, _latency_source(rows), names, last + 1 if end is None else end)
    for row in rows:
        sampler.add(row)
    return sampler.result(names)
