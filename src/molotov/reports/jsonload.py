"""Reading a JSON report back into a :class:`RunReport`, checking every field on the way.

A report is input like any other (moloreport merges files from many machines): each field is
read and bounded by :class:`~molotov.reports.fields.Fields`, and the numbers that repeat or
derive from others must agree, so an impossible report is one readable line, not a crash.
"""

from __future__ import annotations

import itertools
import math
import reprlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from molotov._version import __version__
from molotov.config.jsonfile import REPORT_LIMIT, FileTooLarge, JSONFileError, read_json
from molotov.reports.fields import (
    MAX_COUNT,
    MAX_DURATION_US,
    MAX_EPOCH,
    MAX_SECONDS,
    FieldError,
    Fields,
)
from molotov.reports.jsonreport import HISTOGRAM_ENCODING, SCHEMA_VERSION, RunReport
from molotov.stats.histogram import Histogram
from molotov.stats.series import Second, Sparse
from molotov.stats.snapshot import (
    REQUEST_ERROR_KINDS,
    STATUS_CLASSES,
    ErrorKind,
    ErrorStat,
    ScenarioStats,
    Snapshot,
)


class ReportError(Exception):
    """A report that cannot be read or merged (one line, exit 1)."""


SPARSE_MAX = 2**31 - 1  # a series row's bucket counts live in Sparse's int32 array


def _scenario(data: Fields) -> tuple[int, int, Histogram, Histogram]:
    successes, failures = data.count("successes"), data.count("failures")
    durations = data.histogram("durations")
    data.number("steps_per_s", MAX_COUNT)
    if durations.count != successes + failures:
        raise FieldError(data.path("durations.count"), "must be its successes plus failures")
    return successes, failures, durations, data.histogram("response_times")


def _sparse(data: Fields, counted: bool = True) -> Sparse:
    """A series row's histogram; its ``max_us`` is the run's so far, a bound of the row's."""
    for name in ("p50_ms", "p99_ms"):
        data.number(name, MAX_DURATION_US / 1000)
    return Sparse.of(data.durations(counted, high=SPARSE_MAX))


def _series_row(row: Fields) -> Second:
    steps = row.count("steps")
    row.time("time")
    target = None if row.raw("target") is None else row.number("target", MAX_COUNT)
    statuses, request_errors = row.obj("status_classes"), row.obj("request_errors")
    return Second(
        t=row.count("t", high=MAX_EPOCH),
        steps=steps,
        failures=row.count("failures", high=steps),
        requests=row.count("requests"),
        durations=_sparse(row, counted=False),  # flat in the row, the schema's first form
        started=row.count("started"),
        dropped=row.count("dropped"),
        workers=row.count("workers"),
        target=target,
        statuses=tuple(statuses.count(name) for name in STATUS_CLASSES),
        request_errors=tuple(request_errors.count(k.label) for k in REQUEST_ERROR_KINDS),
        response_times=_sparse(row.obj("response_times")),
        request_latency=_sparse(row.obj("request_latency")),
    )


def _check_totals(top: Fields, totals: Fields, snapshot: Snapshot) -> None:
    """The derived and repeated numbers of a document agree with what it was read from."""
    expected = {
        ("", "successes"): snapshot.successes,
        ("", "failures"): snapshot.failures,
        ("totals", "successes"): snapshot.successes,
        ("totals", "failures"): snapshot.failures,
        ("totals", "steps"): snapshot.steps,
        ("totals", "request_errors"): snapshot.request_errors,
    }
    for (where, key), value in expected.items():
        fields = totals if where else top
        if fields.count(key) != value:
            raise FieldError(fields.path(key), f"must be {value}, as the rest of the report says")
    merged = {
        "scenario_durations": snapshot.durations,
        "scenario_response_times": snapshot.response_times,
    }
    for key, histogram in merged.items():
        if top.histogram(key) != histogram:
            raise FieldError(key, "must be the scenarios' histograms together")
    open_model = top.choice("model", {"open": True, "closed": False})
    arrivals = snapshot.started + snapshot.dropped if open_model else 0
    if totals.count("arrivals") != arrivals:
        raise FieldError(totals.path("arrivals"), f"must be {arrivals}, started plus dropped")
    totals.number("failure_rate", 1.0)
    totals.number("steps_per_s", MAX_COUNT)
    totals.number("requests_per_s", MAX_COUNT)


def _check_series(series: Sequence[Second], snapshot: Snapshot) -> None:
    for earlier, later in itertools.pairwise(series):
        if later.t <= earlier.t:
            raise FieldError("series", f"must be in time order (second {later.t} repeats)")
    for name in ("steps", "failures", "requests", "started", "dropped"):
        total = getattr(snapshot, name)
        if sum(getattr(row, name) for row in series) != total:
            raise FieldError("series", f"rows must add up to the run's {name} ({total})")


def _check_thresholds(top: Fields) -> None:
    for item in top.objects("thresholds"):
        item.text("expression")
        item.text("unit")
        item.flag("passed")
        if item.raw("observed") is not None:
            item.number("observed", math.inf)


def from_document(doc: Any) -> RunReport:
    """A :class:`RunReport` from a parsed document; any bad field is a :class:`FieldError`.

    Each field is read (and checked) in one line by :class:`~molotov.reports.fields.Fields`:
    a new field of the schema is a new line here.
    """
    top = Fields(doc, "")
    top.equal("histogram_encoding", HISTOGRAM_ENCODING)
    totals, scenarios = top.obj("totals"), top.obj("scenarios")
    statuses, request_errors = top.obj("status_classes"), top.obj("request_errors")
    kinds = {kind.name.lower(): kind for kind in ErrorKind}
    snapshot = Snapshot(
        taken_at=0.0,
        scenarios=tuple(
            ScenarioStats(name, *_scenario(scenarios.obj(name))) for name in scenarios.names()
        ),
        errors=tuple(
            ErrorStat(e.choice("kind", kinds), e.text("message"), e.count("count"))
            for e in top.objects("errors")
        ),
        workers_started=totals.count("workers_started"),
        pick_failures=totals.count("pick_failures"),
        connection_failures=totals.count("connection_failures"),
        setup_failures=totals.count("setup_failures"),
        session_setup_failures=totals.count("session_setup_failures"),
        errors_dropped=top.count("errors_dropped"),
        requests=totals.count("requests"),
        statuses=tuple(statuses.count(name) for name in STATUS_CLASSES),
        response_bytes=totals.count("response_bytes"),
        request_errors_by_kind=tuple(request_errors.count(k.label) for k in REQUEST_ERROR_KINDS),
        request_latency=top.histogram("request_latency"),
        started=totals.count("started"),
        dropped=totals.count("dropped"),
        start_lateness=top.histogram("start_lateness"),
    )
    _check_totals(top, totals, snapshot)
    _check_thresholds(top)
    series = tuple(_series_row(row) for row in top.objects("series"))
    _check_series(series, snapshot)
    started, ended = top.time("started_at"), top.time("ended_at")
    if ended < started:
        raise FieldError("ended_at", "must not be before started_at")
    return RunReport(
        snapshot=snapshot,
        started_at=started,
        ended_at=ended,
        duration=top.number("duration_s", MAX_SECONDS),
        options=top.obj("options").data(),
        series=series,
        stop_reason=top.text("stop_reason") if top.has("stop_reason") else "",
        merged_from=top.count("merged_from", low=1) if top.has("merged_from") else 1,
        tool_version=top.text("tool_version"),
    )


def load(path: str | Path) -> RunReport:
    """Read a report file; every problem is a :class:`ReportError` naming the file."""
    try:
        doc = read_json(path, REPORT_LIMIT, "a report")
    except FileNotFoundError:
        raise ReportError(f"{path}: no such report file") from None
    except OSError as exc:
        raise ReportError(f"{path}: cannot read it ({exc.strerror})") from None
    except FileTooLarge as exc:
        raise ReportError(str(exc)) from None
    except JSONFileError as exc:
        raise ReportError(f"{path}: not a JSON report: {exc}") from None
    if not isinstance(doc, dict) or "schema_version" not in doc:
        raise ReportError(f"{path}: not a molotov report (no schema_version)")
    if doc["schema_version"] != SCHEMA_VERSION or doc.get("tool_version") != __version__:
        raise ReportError(
            f"{path}: written by molotov {reprlib.repr(doc.get('tool_version'))} with report "
            f"schema {reprlib.repr(doc['schema_version'])}; this is molotov {__version__} "
            f"(schema {SCHEMA_VERSION}): merge reports of the same version"
        )
    try:
        return from_document(doc)
    except FieldError as exc:
        raise ReportError(f"{path}: impossible report: {exc}") from None
