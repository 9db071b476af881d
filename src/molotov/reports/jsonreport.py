"""The machine-readable report: a run as values (:class:`RunReport`), and its JSON document.

The document carries the raw histogram buckets (sparse: ``[[index, count], ...]`` of the
log-linear scheme in :mod:`molotov.stats.histogram`, see ``histogram_encoding``) and a per-second
time series, so reports of several load generators merge exactly (:mod:`.jsonmerge`): counters
and buckets add, series rows add on the same wall-clock second. :mod:`.jsonload` reads a
document back. Files are written atomically.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import compress
from pathlib import Path
from typing import Any

from molotov._version import __version__
from molotov.reports.atomic import write_text
from molotov.reports.thresholdmetrics import PERCENTILES
from molotov.reports.thresholds import ThresholdResult
from molotov.stats.histogram import MAX_US, NBUCKETS, Histogram, percentiles_us
from molotov.stats.series import RequestSecond, Second, Sparse
from molotov.stats.snapshot import REQUEST_ERROR_KINDS, STATUS_CLASSES, RequestStats, Snapshot

SCHEMA_VERSION = 1
HISTOGRAM_ENCODING = {
    "unit": "us",
    "buckets": NBUCKETS,
    "linear_below_us": 256,
    "sub_buckets_per_power_of_two": 128,
    "max_us": MAX_US,
    "format": "[[bucket_index, count], ...] for the non-empty buckets; see README",
}


@dataclass(frozen=True)
class RunReport:
    """What a report holds, as values: the final snapshot, the run's times and options."""

    snapshot: Snapshot
    started_at: float  # epoch seconds
    ended_at: float
    duration: float  # seconds the run lasted
    options: dict[str, Any]
    series: tuple[Second, ...] = ()
    stop_reason: str = ""
    merged_from: int = 1
    tool_version: str = __version__
    drain: float = 0.0  # of ``duration``, the seconds after the stop: in-flight steps ending

    @property
    def load_seconds(self) -> float:
        """The seconds of load, start to stop: what the run's rates are per."""
        return max(0.0, self.duration - self.drain)

    # One line per worker process that ended before the run did (it crashed or was killed)
    # or was killed for not stopping: its numbers until then are counted, not the rest.
    lost_processes: tuple[str, ...] = ()

    @property
    def model(self) -> str:
        """The workload model, ``open`` (a run with ``--rate``) or ``closed``."""
        return "open" if self.options.get("rate") is not None else "closed"


# -- encoding -------------------------------------------------------------------------------


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def _ms(us: float) -> float:
    return round(us / 1000, 3)


def histogram_json(histogram: Histogram) -> dict[str, Any]:
    buckets = histogram.buckets
    # The non-empty buckets found in C, and every percentile in one pass over them: a live
    # dashboard encodes hundreds of request names' histograms (of 2,688 buckets) a second.
    pairs = list(zip(compress(range(NBUCKETS), buckets), compress(buckets, buckets), strict=True))
    values = percentiles_us(pairs, histogram.count, histogram.max_us, tuple(PERCENTILES.values()))
    percentiles = {f"{name}_ms": _ms(us) for name, us in zip(PERCENTILES, values, strict=True)}
    return {
        "count": histogram.count,
        **percentiles,
        "max_ms": _ms(histogram.max_us),
        "mean_ms": _ms(histogram.mean_us),
        "sum_us": histogram.total_us,
        "max_us": histogram.max_us,
        "buckets": [[i, n] for i, n in pairs],
    }


def _brief_json(sparse: Sparse) -> dict[str, Any]:
    """A series row's histogram: count, p50 and p99 (bucket tops), sum, max, buckets."""
    pairs = sparse.items()
    # From the sparse buckets, as Histogram.percentile_us answers: a dense histogram of 2,688
    # buckets for each histogram of each row made a long run's series slow to encode.
    p50, p99 = percentiles_us(sorted(pairs), sparse.count, sparse.max_us, (50, 99))
    return {
        "count": sparse.count,
        "p50_ms": _ms(p50),
        "p99_ms": _ms(p99),
        "sum_us": sparse.sum_us,
        "max_us": sparse.max_us,
        "buckets": [list(pair) for pair in pairs],
    }


def row_json(row: Second) -> dict[str, Any]:
    durations = _brief_json(row.durations)
    # A row joined past a horizon says how many seconds it covers; a second does not.
    width = {"s": row.seconds} if row.seconds != 1 else {}
    return {
        "t": row.t,
        **width,
        "time": _iso(row.t),
        "steps": row.steps,
        "failures": row.failures,
        "requests": row.requests,
        "started": row.started,
        "dropped": row.dropped,
        "workers": row.workers,
        "target": None if row.target is None else round(row.target, 3),
        # The step durations' histogram, flat in the row (the schema's first form).
        "p50_ms": durations["p50_ms"],
        "p99_ms": durations["p99_ms"],
        "sum_us": durations["sum_us"],
        "max_us": durations["max_us"],
        "buckets": durations["buckets"],
        "status_classes": dict(zip(STATUS_CLASSES, row.statuses, strict=True)),
        "request_errors": _error_counts(row.request_errors),
        "response_times": _brief_json(row.response_times),
        "request_latency": _brief_json(row.request_latency),
        "by_request": {r.name: _request_second_json(r) for r in row.by_request},
    }


def _request_second_json(row: RequestSecond) -> dict[str, Any]:
    return {"requests": row.requests, "failures": row.failures, "latency": _brief_json(row.latency)}


def _error_counts(counts: Sequence[int]) -> dict[str, int]:
    return {kind.label: n for kind, n in zip(REQUEST_ERROR_KINDS, counts, strict=True)}


def request_json(stats: RequestStats, seconds: float) -> dict[str, Any]:
    """One request name's totals: counts by status code and error kind, bytes, latency."""
    latency = stats.latency if stats.latency is not None else Histogram.empty()
    return {
        "requests": stats.requests,
        "failures": stats.failures,
        "failure_rate": round(stats.failure_rate, 6),
        "requests_per_s": _rate(stats.requests, seconds),
        "response_bytes": stats.response_bytes,
        "host": stats.host,
        "status_codes": {str(code): n for code, n in stats.status_codes},
        "request_errors": _error_counts(stats.errors_by_kind),
        "latency": histogram_json(latency),
    }


def checks_json(snap: Snapshot) -> dict[str, Any]:
    """The checks' totals and each (check, request) pair's counts."""
    return {
        "passed": snap.checks_passed,
        "failed": snap.checks_failed,
        "dropped": snap.checks_dropped,
        "rate": round(snap.checks_rate, 6),
        "items": [
            {"name": c.name, "request": c.request, "passes": c.passes, "failures": c.failures}
            for c in snap.checks
        ],
    }


def _rate(count: int, seconds: float) -> float:
    return round(count / seconds, 3) if seconds > 0 else 0.0


def _totals_json(report: RunReport) -> dict[str, Any]:
    """The document's ``totals``: the run's counts, and its rates per second of load."""
    snap = report.snapshot
    seconds = report.load_seconds
    return {
        "steps": snap.steps,
        "successes": snap.successes,
        "failures": snap.failures,
        "failure_rate": round(snap.failures / snap.steps, 6) if snap.steps else 0.0,
        "steps_per_s": _rate(snap.steps, seconds),
        "requests": snap.requests,
        "requests_per_s": _rate(snap.requests, seconds),
        "response_bytes": snap.response_bytes,
        "request_errors": snap.request_errors,
        "retried": snap.retried,
        "workers_started": snap.workers_started,
        "pick_failures": snap.pick_failures,
        "connection_failures": snap.connection_failures,
        "setup_failures": snap.setup_failures,
        "session_setup_failures": snap.session_setup_failures,
        "started": snap.started,
        "dropped": snap.dropped,
        "arrivals": snap.arrivals if report.model == "open" else 0,
    }


def document(report: RunReport, thresholds: Sequence[ThresholdResult] = ()) -> dict[str, Any]:
    """The JSON document of a report (see the README for the schema)."""
    snap = report.snapshot
    seconds = report.load_seconds
    return {
        "schema_version": SCHEMA_VERSION,
        "tool_version": report.tool_version,
        "successes": snap.successes,
        "failures": snap.failures,
        "started_at": _iso(report.started_at),
        "ended_at": _iso(report.ended_at),
        "duration_s": round(report.duration, 3),
        "drain_s": round(report.drain, 3),
        "stop_reason": report.stop_reason,
        "merged_from": report.merged_from,
        "lost_processes": list(report.lost_processes),
        "model": report.model,
        "options": report.options,
        "totals": _totals_json(report),
        "status_classes": dict(zip(STATUS_CLASSES, snap.statuses, strict=True)),
        "request_errors": _error_counts(snap.request_errors_by_kind),
        "status_codes": {str(code): n for code, n in snap.status_codes().items()},
        "by_request": {r.name: request_json(r, seconds) for r in snap.requests_by_traffic()},
        "checks": checks_json(snap),
        "errors": [
            {
                "kind": e.kind.name.lower(),
                "message": e.message,
                "count": e.count,
                "scenario": e.scenario,
                "request": e.request,
            }
            for e in snap.top_errors()
        ],
        "errors_dropped": snap.errors_dropped,
        "scenario_durations": histogram_json(snap.durations),
        "scenario_response_times": histogram_json(snap.response_times),
        "start_lateness": histogram_json(snap.start_lateness),
        "request_latency": histogram_json(snap.request_latency),
        "scenarios": {
            s.name: {
                "successes": s.successes,
                "failures": s.failures,
                "steps_per_s": _rate(s.steps, seconds),
                "durations": histogram_json(s.durations),
                "response_times": histogram_json(s.response_times),
            }
            for s in snap.scenarios
        },
        "series": [row_json(row) for row in report.series],
        "thresholds": [
            {
                "expression": r.threshold.text,
                "observed": None if math.isnan(r.observed) else r.observed,
                "unit": r.threshold.unit,
                "passed": r.passed,
                "reason": r.reason,
            }
            for r in thresholds
        ],
        "histogram_encoding": HISTOGRAM_ENCODING,
    }


def write(path: str | Path, doc: dict[str, Any]) -> None:
    """Write ``doc`` to ``path`` atomically (see :mod:`molotov.reports.atomic`), on one line
    as ``--report -`` prints it."""
    write_text(path, dumps_line(doc) + "\n")


def dumps_line(doc: dict[str, Any]) -> str:
    """The document on one line, without a space: no indentation, which tripled the size of a
    long run's report (its series' bucket pairs; ``jq .`` shows it indented)."""
    return json.dumps(doc, separators=(",", ":"))
