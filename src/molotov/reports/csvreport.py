"""``--csv PREFIX``: ``PREFIX_stats.csv``, ``PREFIX_failures.csv``, ``PREFIX_scenarios.csv``
and ``PREFIX_history.csv``, from the JSON report.

``PREFIX_stats.csv`` and ``PREFIX_failures.csv`` are Locust's: one row per request name
(``Type`` is its method, empty for an explicit name) then the ``Aggregated`` row, and the
failed requests by name and how they failed (adding up to the names' ``Failure Count``; the
steps' errors, an ``assert`` say, are the JSON report's and the summary's). Locust has no
scenarios: molotov's per-scenario rows are ``PREFIX_scenarios.csv``, and
``PREFIX_history.csv`` is Locust's ``_stats_history.csv`` with molotov's steps beside the
requests (a row of the series joined past its horizons is one history row, its rates the
averages over its seconds). Where molotov counts something else, the column says so rather
than borrowing a Locust name: a scenario row counts **steps** (runs of the scenario) and their
**durations**; ``Requests/s`` is always HTTP requests. Times are in milliseconds, percentiles
are tops of histogram buckets (within 1/128 of the value, see the README). Every file is built
from the report document, so ``molotov`` and ``moloreport`` write the same thing, and each is
written atomically.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from pathlib import Path
from typing import Any

from molotov.reports.atomic import write_text
from molotov.stats.histogram import bucket_bounds, percentiles_us
from molotov.stats.naming import method_and_path

_HTTP_ERROR = 400  # a status from here on is a failed request (Locust's rule too)
PERCENTS = (50.0, 66.0, 75.0, 80.0, 90.0, 95.0, 98.0, 99.0, 99.9, 99.99, 100.0)
PERCENT_COLUMNS = [f"{p:g}%" for p in PERCENTS]
REQUEST_PERCENTS = (50.0, 95.0, 99.0)

STATS_COLUMNS = [
    "Type",
    "Name",
    "Request Count",
    "Failure Count",
    "Median Response Time",
    "Average Response Time",
    "Min Response Time",
    "Max Response Time",
    "Average Content Size",
    "Requests/s",
    "Failures/s",
    *PERCENT_COLUMNS,
]
FAILURES_COLUMNS = ["Method", "Name", "Error", "Occurrences"]
SCENARIO_COLUMNS = [
    "Type",
    "Name",
    "Step Count",
    "Failure Count",
    "Median Duration",
    "Average Duration",
    "Min Duration",
    "Max Duration",
    "Steps/s",
    "Failures/s",
    "Request Count",
    "Requests/s",
    *PERCENT_COLUMNS,
]
HISTORY_COLUMNS = [
    "Timestamp",
    "User Count",
    "Type",
    "Name",
    "Requests/s",
    "Steps/s",
    "Failures/s",
    "Request Errors/s",
    "Started/s",
    "Dropped/s",
    "Target",
    *PERCENT_COLUMNS,
    *(f"Request {p:g}%" for p in REQUEST_PERCENTS),
    "Total Request Count",
    "Total Step Count",
    "Total Failure Count",
]
AGGREGATED = "Aggregated"

Cell = str | int | float


def _ms(us: int) -> float:
    return round(us / 1000, 3)


def _percentiles(
    buckets: Sequence[Sequence[int]], count: int, max_us: int, percents: Sequence[float]
) -> list[Cell]:
    """Percentiles in ms of ``count`` values in sparse buckets; blank cells when none."""
    if not count:
        return [""] * len(percents)
    return [_ms(us) for us in percentiles_us(buckets, count, max_us, percents)]


def _times(block: Mapping[str, Any]) -> list[Cell]:
    """Median, average, min and max of a histogram block, in ms; blank cells when empty."""
    pairs = block.get("buckets") or []
    if not pairs or not block.get("count"):
        return [""] * 4
    minimum = _ms(bucket_bounds(int(pairs[0][0]))[0])
    return [block.get("p50_ms", ""), block.get("mean_ms", ""), minimum, block.get("max_ms", "")]


def _block_percentiles(block: Mapping[str, Any]) -> list[Cell]:
    count, max_us = int(block.get("count") or 0), int(block.get("max_us") or 0)
    return _percentiles(block.get("buckets") or [], count, max_us, PERCENTS)


def _per_second(doc: Mapping[str, Any], count: int) -> float:
    """``count`` over the run's seconds of load (its duration less the drain after the stop)."""
    seconds = float(doc.get("duration_s") or 0) - float(doc.get("drain_s") or 0)
    return round(count / seconds, 3) if seconds > 0 else 0.0


def type_and_name(name: str) -> tuple[str, str]:
    """Locust's ``Type`` and ``Name`` of a request name: ``("GET", "/items/{id}")`` for a
    default name, ``("", "search")`` for an explicit one."""
    return method_and_path(name) or ("", name)


def stats_rows(doc: Mapping[str, Any]) -> list[list[Cell]]:
    """The rows of ``PREFIX_stats.csv`` after its header: one per request name, busiest
    first, then ``Aggregated``, whose counts are the rows' sums (and the run's totals)."""
    rows: list[list[Cell]] = []
    failures = 0
    for name, stats in (doc.get("by_request") or {}).items():
        requests, failed = int(stats.get("requests") or 0), int(stats.get("failures") or 0)
        failures += failed
        latency = stats.get("latency") or {}
        rows.append(
            [
                *type_and_name(name),
                requests,
                failed,
                *_times(latency),
                _content_size(int(stats.get("response_bytes") or 0), requests),
                float(stats.get("requests_per_s") or 0),
                _per_second(doc, failed),
                *_block_percentiles(latency),
            ]
        )
    totals = doc.get("totals") or {}
    requests = int(totals.get("requests") or 0)
    latency = doc.get("request_latency") or {}
    aggregated: list[Cell] = [
        "",
        AGGREGATED,
        requests,
        failures,
        *_times(latency),
        _content_size(int(totals.get("response_bytes") or 0), requests),
        float(totals.get("requests_per_s") or 0),
        _per_second(doc, failures),
        *_block_percentiles(latency),
    ]
    return [*rows, aggregated]


def _content_size(response_bytes: int, requests: int) -> float:
    """Locust's ``Average Content Size``: body bytes received per request."""
    return round(response_bytes / requests, 3) if requests else 0.0


def failure_rows(doc: Mapping[str, Any]) -> list[list[Cell]]:
    """The rows of ``PREFIX_failures.csv``: per request name, each way its requests failed at
    the HTTP level (``HTTP 503 Service Unavailable``, ``connection refused``, ...), so that a
    name's rows add up to its ``Failure Count`` in ``PREFIX_stats.csv``, as in Locust."""
    rows: list[list[Cell]] = []
    for name, stats in (doc.get("by_request") or {}).items():
        method, shown = type_and_name(name)
        for code, count in (stats.get("status_codes") or {}).items():
            if int(code) >= _HTTP_ERROR and count:
                rows.append([method, shown, f"HTTP {code} {_reason(int(code))}".rstrip(), count])
        for kind, count in (stats.get("request_errors") or {}).items():
            if count:
                rows.append([method, shown, kind, count])
    return rows


def _reason(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return ""


def _scenario_row(
    kind: str,
    name: str,
    steps: int,
    failures: int,
    block: Mapping[str, Any],
    rates: tuple[float, float],  # steps/s (the report's own), failures/s
    requests: tuple[Cell, Cell] = ("", ""),  # count and rate: not measured per scenario
) -> list[Cell]:
    return [
        kind,
        name,
        steps,
        failures,
        *_times(block),
        *rates,
        *requests,
        *_block_percentiles(block),
    ]


def scenario_rows(doc: Mapping[str, Any]) -> list[list[Cell]]:
    """The rows of ``PREFIX_scenarios.csv`` after its header: one per scenario, then the
    total."""
    rows = []
    for name, stats in sorted((doc.get("scenarios") or {}).items()):
        failures = int(stats.get("failures") or 0)
        steps = int(stats.get("successes") or 0) + failures
        rates = (float(stats.get("steps_per_s") or 0), _per_second(doc, failures))
        rows.append(
            _scenario_row("scenario", name, steps, failures, stats.get("durations") or {}, rates)
        )
    totals = doc.get("totals") or {}
    failures = int(totals.get("failures") or 0)
    rows.append(
        _scenario_row(
            "",
            AGGREGATED,
            int(totals.get("steps") or 0),
            failures,
            doc.get("scenario_durations") or {},
            (float(totals.get("steps_per_s") or 0), _per_second(doc, failures)),
            (int(totals.get("requests") or 0), float(totals.get("requests_per_s") or 0)),
        )
    )
    return rows


def _optional(row: Mapping[str, Any], key: str) -> Cell:
    """A value that older reports lack: a blank cell then."""
    value: Cell | None = row.get(key)
    return "" if value is None else value


def _row_rate(count: int, seconds: int) -> Cell:
    """A row's count per second: the count itself for a second (as before), the average over
    a joined row's seconds."""
    return count if seconds == 1 else round(count / seconds, 3)


def history_rows(doc: Mapping[str, Any]) -> list[list[Cell]]:
    """The rows of ``PREFIX_history.csv``: one per row of the series (a second, or the
    seconds a joined row covers), run-wide."""
    rows = []
    requests = steps = failures = 0
    for row in doc.get("series") or []:
        seconds = int(row.get("s") or 1)
        requests += int(row.get("requests") or 0)
        steps += int(row.get("steps") or 0)
        failures += int(row.get("failures") or 0)
        kinds = row.get("request_errors")
        latency = row.get("request_latency")
        request_pcts: list[Cell] = [""] * len(REQUEST_PERCENTS)
        if latency:
            request_pcts = _percentiles(
                latency.get("buckets") or [],
                int(latency.get("count") or 0),
                int(latency.get("max_us") or 0),
                REQUEST_PERCENTS,
            )
        counted = [row.get(key) for key in ("started", "dropped")]
        rows.append(
            [
                int(row["t"]),
                _optional(row, "workers"),
                "",
                AGGREGATED,
                _row_rate(int(row.get("requests") or 0), seconds),
                _row_rate(int(row.get("steps") or 0), seconds),
                _row_rate(int(row.get("failures") or 0), seconds),
                "" if kinds is None else _row_rate(sum(int(n) for n in kinds.values()), seconds),
                *("" if n is None else _row_rate(int(n), seconds) for n in counted),
                _optional(row, "target"),
                *_percentiles(
                    row.get("buckets") or [],
                    int(row.get("steps") or 0),
                    int(row.get("max_us") or 0),
                    PERCENTS,
                ),
                *request_pcts,
                requests,
                steps,
                failures,
            ]
        )
    return rows


def _csv(header: Sequence[str], rows: Sequence[Sequence[Cell]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def paths(prefix: str | Path) -> dict[str, Path]:
    """The files of ``--csv PREFIX``, by what they hold: ``PREFIX_stats.csv``, ..."""
    return {
        name: Path(f"{prefix}_{name}.csv") for name in ("stats", "failures", "scenarios", "history")
    }


def write(prefix: str | Path, doc: Mapping[str, Any]) -> None:
    """Write every file of ``doc`` next to ``prefix``, each atomically."""
    files = paths(prefix)
    write_text(files["stats"], _csv(STATS_COLUMNS, stats_rows(doc)))
    write_text(files["failures"], _csv(FAILURES_COLUMNS, failure_rows(doc)))
    write_text(files["scenarios"], _csv(SCENARIO_COLUMNS, scenario_rows(doc)))
    write_text(files["history"], _csv(HISTORY_COLUMNS, history_rows(doc)))
