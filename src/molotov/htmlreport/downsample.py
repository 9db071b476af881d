"""The report's per-second series, merged into k-second buckets for the charts.

A 24-hour run has 86,400 rows; a chart 1,200 pixels wide cannot show more than about one
point per pixel, and a page carrying every row would weigh tens of megabytes. So the rows of
``k`` consecutive seconds are merged, ``k`` being the smallest of :data:`RESOLUTIONS` that
keeps a chart under :data:`MAX_POINTS` points (1 s up to 25 minutes, 1 min for 24 hours).
Merging loses nothing that the chart claims to show:

* counts add, so a rate is the exact average over the bucket (count / seconds covered);
* histogram buckets add, so the p50/p90/p99 of a bucket are exact for its interval (within
  the histogram's resolution), never an average of percentiles;
* gauges (active workers, the target) are the mean of the rows' values;
* a bucket with no row at all (a gap between merged runs) is ``None``: a gap, not a zero.

Rows are read with ``dict.get``: keys that a report does not have (older reports have no
``workers``, ``status_classes``, ...) give no column, never an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from molotov.histogram import percentiles_us

RESOLUTIONS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400)
MAX_POINTS = 1500
COUNTERS = ("steps", "failures", "requests", "started", "dropped")
GAUGES = ("workers", "target")
KEYED = ("status_classes", "request_errors")  # {label: count} per row
LATENCY_PERCENTILES = (50.0, 90.0, 99.0)

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
    keyed: dict[str, dict[str, Column]] = field(default_factory=dict)  # per label, /s
    latency: dict[float, Column] = field(default_factory=dict)  # percentile -> ms
    latency_source: str = ""  # "request_latency" or "buckets" (step durations)


def _latency_source(rows: Sequence[Row]) -> str:
    """Request latency per second when the rows carry it, else the step durations."""
    if any(row.get("request_latency") for row in rows):
        return "request_latency"
    return "buckets" if any(row.get("buckets") for row in rows) else ""


def _latency_of(row: Row, source: str) -> tuple[Iterable[Sequence[int]], int]:
    """(sparse buckets, max_us) of a row's latency histogram."""
    if source == "buckets":
        return row.get("buckets") or (), int(row.get("max_us") or 0)
    block = row.get(source) or {}
    return block.get("buckets") or (), int(block.get("max_us") or 0)


def _percentiles_ms(group: Sequence[Row], source: str) -> list[float] | None:
    """The latency percentiles of a bucket's rows, from their merged buckets (None: none)."""
    merged: dict[int, int] = {}
    top = 0
    for row in group:
        pairs, max_us = _latency_of(row, source)
        top = max(top, max_us)
        for index, count in pairs:
            merged[index] = merged.get(index, 0) + count
    count = sum(merged.values())
    if not count:
        return None
    values = percentiles_us(sorted(merged.items()), count, top, LATENCY_PERCENTILES)
    return [round(us / 1000, 3) for us in values]


def downsample(rows: Sequence[Row], k: int | None = None) -> Downsampled:
    """Merge the rows (increasing ``t``) into buckets of ``k`` seconds (default: fitted)."""
    if not rows:
        return Downsampled(k or 1, [])
    first, last = int(rows[0]["t"]), int(rows[-1]["t"])
    k = k or resolution(last - first + 1)
    groups: list[list[Row]] = [[] for _ in range((last - first) // k + 1)]
    for row in rows:
        groups[(int(row["t"]) - first) // k].append(row)
    starts = [first + i * k for i in range(len(groups))]
    # Seconds of the run each bucket covers: k, except for the last one.
    spans = [min(k, last - start + 1) for start in starts]

    columns: dict[str, Column] = {}
    for key in COUNTERS:
        if any(row.get(key) is not None for row in rows):
            columns[key] = [
                sum(int(r.get(key) or 0) for r in g) / span if g else None
                for g, span in zip(groups, spans, strict=True)
            ]
    for key in GAUGES:
        if any(row.get(key) is not None for row in rows):
            column: Column = []
            for group in groups:
                values = [float(r[key]) for r in group if r.get(key) is not None]
                column.append(sum(values) / len(values) if values else None)
            columns[key] = column

    keyed: dict[str, dict[str, Column]] = {}
    for key in KEYED:
        labels = sorted({label for row in rows for label in row.get(key) or {}})
        if labels:
            keyed[key] = {
                label: [
                    sum(int((r.get(key) or {}).get(label) or 0) for r in g) / span if g else None
                    for g, span in zip(groups, spans, strict=True)
                ]
                for label in labels
            }

    source = _latency_source(rows)
    latency: dict[float, Column] = {}
    if source:
        per_bucket = [_percentiles_ms(g, source) for g in groups]
        for i, percent in enumerate(LATENCY_PERCENTILES):
            latency[percent] = [None if values is None else values[i] for values in per_bucket]
    return Downsampled(k, starts, columns, keyed, latency, source)
