"""``--csv PREFIX``: ``PREFIX_stats.csv`` and ``PREFIX_history.csv``, from the JSON report.

The columns follow Locust's ``--csv`` files (``Type``, ``Name``, an ``Aggregated`` total row,
``Requests/s``, ``Failures/s``, percentile columns named ``50%`` … ``100%``, cumulative
``Total … Count`` columns in the history), so scripts written for those read these with few
changes. Where molotov counts something else, the column says so rather than borrowing a
Locust name: a scenario row counts **steps** (runs of the scenario) and their **durations**;
``Requests/s`` is always HTTP requests. Durations are in milliseconds, percentiles are tops of
histogram buckets (within 1/128 of the value, see the README). Both files are built from the
report document, so ``molotov`` and ``moloreport`` write the same thing, and each is written
atomically.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from molotov.reports.atomic import write_text
from molotov.stats.histogram import bucket_bounds, percentiles_us

PERCENTS = (50.0, 66.0, 75.0, 80.0, 90.0, 95.0, 98.0, 99.0, 99.9, 99.99, 100.0)
PERCENT_COLUMNS = [f"{p:g}%" for p in PERCENTS]
REQUEST_PERCENTS = (50.0, 95.0, 99.0)

STATS_COLUMNS = [
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


def _stats_row(
    kind: str,
    name: str,
    steps: int,
    failures: int,
    block: Mapping[str, Any],
    rates: tuple[float, float],  # steps/s (the report's own), failures/s
    requests: tuple[Cell, Cell] = ("", ""),  # count and rate: not measured per scenario
) -> list[Cell]:
    pairs = block.get("buckets") or []
    minimum = _ms(bucket_bounds(int(pairs[0][0]))[0]) if pairs else ""
    return [
        kind,
        name,
        steps,
        failures,
        block.get("p50_ms", ""),
        block.get("mean_ms", ""),
        minimum,
        block.get("max_ms", ""),
        *rates,
        *requests,
        *_percentiles(pairs, int(block.get("count") or 0), int(block.get("max_us") or 0), PERCENTS),
    ]


def stats_rows(doc: Mapping[str, Any]) -> list[list[Cell]]:
    """The rows of ``PREFIX_stats.csv`` after its header: one per scenario, then the total."""
    seconds = float(doc.get("duration_s") or 0)

    def per_s(count: int) -> float:
        return round(count / seconds, 3) if seconds > 0 else 0.0

    rows = []
    for name, stats in sorted((doc.get("scenarios") or {}).items()):
        failures = int(stats.get("failures") or 0)
        steps = int(stats.get("successes") or 0) + failures
        rates = (float(stats.get("steps_per_s") or 0), per_s(failures))
        rows.append(
            _stats_row("scenario", name, steps, failures, stats.get("durations") or {}, rates)
        )
    totals = doc.get("totals") or {}
    failures = int(totals.get("failures") or 0)
    rows.append(
        _stats_row(
            "",
            AGGREGATED,
            int(totals.get("steps") or 0),
            failures,
            doc.get("scenario_durations") or {},
            (float(totals.get("steps_per_s") or 0), per_s(failures)),
            (int(totals.get("requests") or 0), float(totals.get("requests_per_s") or 0)),
        )
    )
    return rows


def _optional(row: Mapping[str, Any], key: str) -> Cell:
    """A value that older reports lack: a blank cell then."""
    value: Cell | None = row.get(key)
    return "" if value is None else value


def history_rows(doc: Mapping[str, Any]) -> list[list[Cell]]:
    """The rows of ``PREFIX_history.csv``: one per second of the series, run-wide."""
    rows = []
    requests = steps = failures = 0
    for row in doc.get("series") or []:
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
        rows.append(
            [
                int(row["t"]),
                _optional(row, "workers"),
                "",
                AGGREGATED,
                int(row.get("requests") or 0),
                int(row.get("steps") or 0),
                int(row.get("failures") or 0),
                "" if kinds is None else sum(int(n) for n in kinds.values()),
                _optional(row, "started"),
                _optional(row, "dropped"),
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


def paths(prefix: str | Path) -> tuple[Path, Path]:
    """``(PREFIX_stats.csv, PREFIX_history.csv)``."""
    return Path(f"{prefix}_stats.csv"), Path(f"{prefix}_history.csv")


def write(prefix: str | Path, doc: Mapping[str, Any]) -> None:
    """Write both files of ``doc`` next to ``prefix``, each atomically."""
    stats, history = paths(prefix)
    write_text(stats, _csv(STATS_COLUMNS, stats_rows(doc)))
    write_text(history, _csv(HISTORY_COLUMNS, history_rows(doc)))
