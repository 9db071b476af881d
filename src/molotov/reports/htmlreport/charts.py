"""What the page's charts draw, computed from the JSON report document.

Time charts share one x axis (the bucket starts of :mod:`.downsample`; a gauge is drawn at the
instant it was read). Latency charts, the run's and the busiest request names', have a log y
axis (slow seconds next to fast ones) whose range leaves out the run's end (:func:`tail_from`),
drawn but marked. A distribution chart re-bins a histogram object of the report on a log
scale (:data:`BINS_PER_DECADE` bins per power of ten, each bin the sum of the histogram buckets
whose middle falls in it) and marks the report's own percentiles, which stay exact: they come
from the full-resolution buckets.
Every value here is plain JSON for the page's script.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Collection, Mapping
from functools import cache
from typing import Any

from molotov.reports.htmlreport.downsample import (
    LATENCY_PERCENTILES,
    Column,
    Downsampled,
)
from molotov.reports.htmlreport.sections import RUNNING
from molotov.reports.htmlreport.times import parse
from molotov.reports.thresholdmetrics import PERCENTILES
from molotov.stats.histogram import bucket_bounds

BINS_PER_DECADE = 20
REQUEST_CHARTS = 5  # the busiest names that the series has rows of
DISTRIBUTIONS = (
    ("request_latency", "Request latency", "requests"),
    ("scenario_durations", "Step durations", "steps"),
    ("scenario_response_times", "Step response times, from arrival (open model)", "steps"),
    ("start_lateness", "Start lateness of arrivals (open model)", "steps"),
)
OPEN_MODEL_ONLY = {"scenario_response_times", "start_lateness"}  # empty in a closed run


def _rounded(column: Column) -> Column:
    return [None if v is None else round(v, 3) for v in column]


def _series(label: str, column: Column | None, x: Column | None = None) -> list[dict[str, Any]]:
    """One series, or none when the report has no such column; ``x``: when each value was
    read, if not at its bucket's start (the page then draws it there)."""
    if column is None or all(v is None for v in column):
        return []
    return [{"label": label, "values": _rounded(column), **({"x": _rounded(x)} if x else {})}]


def _nonzero(label: str, column: Column | None) -> list[dict[str, Any]]:
    """One series of a breakdown (by kind, by class), left out when always zero."""
    return _series(label, column) if column is not None and any(column) else []


def _positive(column: Column) -> Column:
    """A column for a log axis: 0 (a sub-microsecond bucket) has no place on it, a gap."""
    return [v if v is not None and v > 0 else None for v in column]


def tail_from(doc: Mapping[str, Any], sampled: Downsampled) -> dict[str, Any] | None:
    """Where the run's end begins on the time axis (``x``, a bucket start) and its label: the
    second of the stop and the drain after it (the steps still in flight, however long they
    take) when the run stopped at its duration, else the last, partial second. Its latency is
    often the run's worst (stalled steps, a second of few values): the page draws it, marked,
    and leaves it out of the y range."""
    if not sampled.t or doc.get("stop_reason") == RUNNING:
        return None  # a live run's latest seconds are ordinary ones
    end = {"x": sampled.t[-1], "label": "last second"}
    if doc.get("stop_reason") != "duration":
        return end
    started = parse(doc.get("started_at"))
    try:
        duration = float((doc.get("options") or {})["duration"])
    except (KeyError, TypeError, ValueError):
        return end
    if started is None:
        return end
    stop = int(started.timestamp() + duration)
    # The point that holds the stop's second (points are k seconds, or a wider row's).
    return {"x": sampled.t[max(0, bisect.bisect_right(sampled.t, stop) - 1)], "label": "stop"}


def _latency(
    columns: Mapping[float, Column], title: str, ident: str, tail: dict[str, Any] | None
) -> dict[str, Any] | None:
    """A latency chart: p50, p95, p99 on a log y axis, its ``tail`` out of the y range."""
    series = [
        s
        for percent in LATENCY_PERCENTILES
        for s in _series(
            f"p{percent:g}", _positive(columns[percent]) if percent in columns else None
        )
    ]
    if not series:
        return None
    return {"id": ident, "title": title, "unit": "ms", "log": True, "tail": tail, "series": series}


def _failures(doc: Mapping[str, Any], sampled: Downsampled) -> dict[str, Any]:
    """Failed steps and each request error kind that happened, with the report's totals of
    each under the chart (a legend that needs no pointer), or a word that none happened."""
    series = _series("failed steps/s", sampled.columns.get("failures"))
    totals = [{"label": "failed steps", "count": (doc.get("totals") or {}).get("failures")}]
    for kind, column in sampled.keyed.get("request_errors", {}).items():
        kept = _nonzero(f"{kind}/s", column)
        series += kept
        if kept:
            totals.append({"label": kind, "count": (doc.get("request_errors") or {}).get(kind)})
    return {
        "id": "failures",
        "title": "Failed steps, and request errors by kind",
        "unit": "/s",
        "series": series,
        "totals": totals,
        "note": "" if len(totals) > 1 else "No request errors: every request got a response.",
    }


def time_charts(doc: Mapping[str, Any], sampled: Downsampled) -> list[dict[str, Any]]:
    """The per-second charts that the report has data for, top to bottom."""
    cols, at = sampled.columns, sampled.instants
    open_model = doc.get("model") == "open"
    latency = _latency(
        sampled.latency,
        (
            "Request latency"
            if sampled.latency_source == "request_latency"
            else "Step duration (the report has no request latency per second)"
        )
        + ": p50, p95, p99",
        "latency",
        tail_from(doc, sampled),
    )
    charts = [
        {
            "id": "throughput",
            "title": "Throughput",
            "unit": "/s",
            "series": _series("requests/s", cols.get("requests"))
            + _series("steps/s", cols.get("steps")),
        },
        {
            "id": "arrivals",
            "title": "Arrivals: target vs achieved rate (open model)",
            "unit": "/s",
            # The target is a rate here, compared with rates: drawn like them, at the start
            # of the second it is the rate of (the workers chart draws it when it was read).
            "series": (
                _series("target/s", cols.get("target"))
                + _series("started/s", cols.get("started"))
                + _series("dropped/s", cols.get("dropped"))
            )
            if open_model
            else [],
        },
        _failures(doc, sampled),
        *([latency] if latency else []),
        {
            "id": "workers",
            "title": "Active workers",
            "unit": "",
            # Each drawn when it was read: the workers at the end of a row's second, the
            # target at its middle (downsample.GAUGES), not both at its start.
            "series": _series("workers", cols.get("workers"), at.get("workers"))
            + (
                []
                if open_model
                else _series("target workers", cols.get("target"), at.get("target"))
            ),
        },
        {
            "id": "statuses",
            "title": "Responses by status class",
            "unit": "/s",
            "series": [
                s
                for label, column in sampled.keyed.get("status_classes", {}).items()
                for s in _nonzero(f"{label}/s", column)
            ],
        },
    ]
    return [chart for chart in charts if chart["series"]]


def request_names(doc: Mapping[str, Any], in_series: Collection[str] | None = None) -> list[str]:
    """The names that get a latency chart: the busiest (the report's ``by_request`` order)
    among those the per-second rows have (the series holds only some names, see
    :mod:`molotov.stats.watch`); ``in_series``: those names, when not from the document's
    rows (a live dashboard's)."""
    if in_series is None:
        in_series = {n for row in doc.get("series") or () for n in row.get("by_request") or ()}
    busiest = [name for name in doc.get("by_request") or {} if name in in_series]
    return busiest[:REQUEST_CHARTS]


def request_charts(doc: Mapping[str, Any], sampled: Downsampled) -> list[dict[str, Any]]:
    """A latency chart (p50, p95, p99 per point, log y axis) for each name of ``sampled``."""
    tail = tail_from(doc, sampled)
    charts = [
        _latency(latency, name, f"request-{i}", tail)
        for i, (name, latency) in enumerate(sampled.by_request.items())
    ]
    return [chart for chart in charts if chart]


@cache  # 2,688 buckets: a page re-bins several histograms (a dashboard's, each second)
def _bin_of(index: int) -> int:
    lo, hi = bucket_bounds(index)
    middle = max((lo + hi) / 2, 1.0)  # bucket 0 (0 µs) goes with the first microsecond
    return math.floor(math.log10(middle) * BINS_PER_DECADE)


def distribution(block: Mapping[str, Any]) -> dict[str, Any] | None:
    """x (bin lower edges, ms), y (% of the count) and the percentile marks of a histogram."""
    count = int(block.get("count") or 0)
    if not count:
        return None
    bins: dict[int, int] = {}
    for index, hits in block.get("buckets") or ():
        j = _bin_of(int(index))
        bins[j] = bins.get(j, 0) + int(hits)
    low, high = min(bins), max(bins)
    # One edge more than bins: the last bin's step needs its right edge.
    x = [round(10 ** (j / BINS_PER_DECADE) / 1000, 6) for j in range(low, high + 2)]
    y = [round(100 * bins.get(j, 0) / count, 4) for j in range(low, high + 1)] + [0.0]
    marks = [
        {"label": name, "ms": block[f"{name}_ms"]}
        for name in PERCENTILES
        if block.get(f"{name}_ms") is not None
    ]
    return {"x": x, "y": y, "marks": marks}


def distributions(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A distribution chart for each histogram of the report that has values."""
    charts = []
    open_model = doc.get("model") == "open"
    for key, title, what in DISTRIBUTIONS:
        if key in OPEN_MODEL_ONLY and not open_model:
            continue
        block = doc.get(key)
        shape = distribution(block) if isinstance(block, Mapping) else None
        if shape is not None:
            charts.append({"id": f"dist-{key}", "title": title, "what": what, **shape})
    return charts
