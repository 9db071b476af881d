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
row straddles two points). Points start at multiples of their width (epoch seconds), and a
rate is per second of the rows' time that the point covers.

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
    """The series in k-second buckets: one value per bucket in every column."""

    k: int
    t: list[int]  # epoch second at which each bucket starts
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


class _Latency:
    """One histogram's buckets merged per k-second bucket: its percentiles, exact for each."""

    def __init__(self, n: int) -> None:
        self.merged: list[dict[int, int]] = [{} for _ in range(n)]
        self.max_us = [0] * n

    def add(self, b: int, block: Mapping[str, Any]) -> None:
        merged = self.merged[b]
        for index, hits in block.get("buckets") or ():
            merged[index] = merged.get(index, 0) + hits
        self.max_us[b] = max(self.max_us[b], int(block.get("max_us") or 0))

    def _percentiles_ms(self, b: int, percents: Sequence[float]) -> list[float] | None:
        """The percentiles of bucket ``b``, from its merged buckets (None: no value)."""
        merged = self.merged[b]
        count = sum(merged.values())
        if not count:
            return None
        values = percentiles_us(sorted(merged.items()), count, self.max_us[b], percents)
        return [round(us / 1000, 3) for us in values]

    def columns(self, percents: Sequence[float]) -> dict[float, Column]:
        """One column (ms) per percentile, a value per bucket."""
        per_bucket = [self._percentiles_ms(b, percents) for b in range(len(self.merged))]
        return {
            percent: [None if values is None else values[i] for values in per_bucket]
            for i, percent in enumerate(percents)
        }


class _Buckets:
    """Sums over the rows of each bucket, filled in one pass over the rows."""

    def __init__(self, n: int, source: str, names: Sequence[str], end: float) -> None:
        self.n = n
        self.end = end  # the run's end (epoch seconds)
        self.source = source
        self.rows = [0] * n
        self.counters: dict[str, list[int]] = {}
        # gauge -> (sum of values, sum of the instants they were read at, rows)
        self.gauges: dict[str, tuple[list[float], list[float], list[int]]] = {}
        self.keyed: dict[str, dict[str, list[int]]] = {key: {} for key in KEYED}
        self.latency = _Latency(n)
        self.by_request = {name: _Latency(n) for name in names}

    def add(self, b: int, row: Row) -> None:
        self.rows[b] += 1
        t, seconds = int(row["t"]), width(row)
        for key in COUNTERS:
            value = row.get(key)
            if value is not None:
                column = self.counters.get(key) or self.counters.setdefault(key, [0] * self.n)
                column[b] += value
        for key, when in GAUGES.items():
            value = row.get(key)
            if value is not None:
                total, at, seen = self.gauges.get(key) or self.gauges.setdefault(
                    key, ([0.0] * self.n, [0.0] * self.n, [0] * self.n)
                )
                # A joined row's reading stands for each of its seconds.
                total[b] += value * seconds
                at[b] += (
                    min(t + seconds, self.end) if when == "end" else t + seconds / 2
                ) * seconds
                seen[b] += seconds
        for key in KEYED:
            counts = row.get(key)
            if counts:
                labels = self.keyed[key]
                for label, value in counts.items():
                    column = labels.get(label) or labels.setdefault(label, [0] * self.n)
                    column[b] += value
        if self.source:
            self.latency.add(b, row if self.source == "buckets" else row.get(self.source) or {})
        if self.by_request:
            for name, second in (row.get("by_request") or {}).items():
                latency = self.by_request.get(name)
                if latency is not None:
                    latency.add(b, second.get("latency") or {})


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


def _points(rows: Sequence[Row], k: int) -> list[tuple[int, int]]:
    """(start, seconds) of each point: a k-second bucket or a row wider than k, from the first
    to the last, with an empty k-second bucket wherever no row is."""
    keys: dict[int, int] = {}
    for row in rows:
        t, size = int(row["t"]), max(k, width(row))
        keys.setdefault(t - t % size, size)
    first = int(rows[0]["t"])
    at = first - first % k
    points = []
    for start in sorted(keys):
        for gap in range(at, start, k):
            points.append((gap, k))
        points.append((start, keys[start]))
        at = start + keys[start]
    return points


def downsample(
    rows: Sequence[Row], k: int | None = None, names: Sequence[str] = (), end: float | None = None
) -> Downsampled:
    """Merge the rows (increasing ``t``) into buckets of ``k`` seconds (default: fitted), with
    the per-request latency of ``names``; ``end``: the run's end, in epoch seconds (default:
    the end of the last row)."""
    if not rows:
        return Downsampled(k or 1, [])
    first = int(rows[0]["t"])
    last = int(rows[-1]["t"]) + width(rows[-1])  # the end of the rows' time
    k = k or resolution(last - first, widths={width(row) for row in rows})
    points = _points(rows, k)
    index = {start: b for b, (start, _) in enumerate(points)}
    n = len(points)
    sums = _Buckets(n, _latency_source(rows), names, last if end is None else end)
    for row in rows:
        t = int(row["t"])
        size = max(k, width(row))
        sums.add(index[t - t % size], row)
    starts = [start for start, _ in points]
    # Seconds of the rows' time each point covers: its width, less what is before the first
    # row or after the last.
    spans = [min(start + size, last) - max(start, first) for start, size in points]
    empty = [not rows_in for rows_in in sums.rows]

    def rates(column: list[int]) -> Column:
        return [
            None if gap else value / span
            for value, span, gap in zip(column, spans, empty, strict=True)
        ]

    columns: dict[str, Column] = {
        key: rates(sums.counters[key]) for key in COUNTERS if key in sums.counters
    }
    instants: dict[str, Column] = {}
    for key in GAUGES:
        if key in sums.gauges:
            total, at, seen = sums.gauges[key]
            columns[key] = [t / c if c else None for t, c in zip(total, seen, strict=True)]
            instants[key] = [a / c if c else None for a, c in zip(at, seen, strict=True)]
    keyed = {
        key: {label: rates(labels[label]) for label in sorted(labels)}
        for key, labels in sums.keyed.items()
        if labels
    }
    latency = sums.latency.columns(LATENCY_PERCENTILES) if sums.source else {}
    by_request = {
        name: per_name.columns(LATENCY_PERCENTILES) for name, per_name in sums.by_request.items()
    }
    widths = [size for _, size in points]
    return Downsampled(
        k, starts, widths, columns, instants, keyed, latency, sums.source, by_request
    )
