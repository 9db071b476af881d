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
from molotov.stats.series import SPARSE_MAX, WIDTHS, RequestSecond, Second, Sparse
from molotov.stats.snapshot import (
    REQUEST_ERROR_KINDS,
    STATUS_CLASSES,
    CheckStats,
    ErrorKind,
    ErrorStat,
    RequestStats,
    ScenarioStats,
    Snapshot,
)

MAX_STATUS = 999  # HTTP's status codes have three digits


class ReportError(Exception):
    """A report that cannot be read or merged (one line, exit 1)."""


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


def _error_counts(data: Fields) -> tuple[int, ...]:
    return tuple(data.count(kind.label) for kind in REQUEST_ERROR_KINDS)


def _status_codes(data: Fields) -> tuple[tuple[int, int], ...]:
    codes = []
    for key in data.names():
        if not (key.isdigit() and int(key) <= MAX_STATUS):
            raise FieldError(data.path(key), "must be a status code (0 to 999)")
        codes.append((int(key), data.count(key)))
    return tuple(sorted(codes))


def _request(name: str, data: Fields) -> RequestStats:
    stats = RequestStats(
        name,
        requests=data.count("requests"),
        response_bytes=data.count("response_bytes"),
        errors_by_kind=_error_counts(data.obj("request_errors")),
        status_codes=_status_codes(data.obj("status_codes")),
        latency=data.histogram("latency"),
        host=data.text("host"),
    )
    # A response whose body broke is a response and an error: see RequestStats.
    if stats.errors > stats.requests or not (
        stats.latency is None
        or stats.requests - stats.errors <= stats.latency.count <= stats.requests
    ):
        raise FieldError(
            data.path("latency.count"), "must be from its requests less its errors to its requests"
        )
    for key, value in (("failures", stats.failures), ("requests", stats.requests)):
        if data.count(key) != value:
            raise FieldError(data.path(key), f"must be {value}, as the rest of the row says")
    data.number("failure_rate", 1.0)
    data.number("requests_per_s", MAX_COUNT)
    return stats


def _checks(data: Fields) -> tuple[tuple[CheckStats, ...], int, int, int]:
    items = tuple(
        CheckStats(c.text("name"), c.text("request"), c.count("passes"), c.count("failures"))
        for c in data.objects("items")
    )
    passed, failed = data.count("passed"), data.count("failed")
    dropped = data.count("dropped")
    if sum(c.count for c in items) + dropped != passed + failed:
        raise FieldError(data.path("items"), "must add up to passed plus failed, less dropped")
    data.number("rate", 1.0)
    return items, passed, failed, dropped


def _request_second(name: str, data: Fields) -> RequestSecond:
    requests = data.count("requests")
    return RequestSecond(
        name, requests, data.count("failures", high=requests), _sparse(data.obj("latency"))
    )


def _width(row: Fields, t: int) -> int:
    """The seconds a row covers: one (no ``s``), or one of WIDTHS from a multiple of it, so
    that the rows of any reports nest (see molotov.stats.series)."""
    if not row.has("s"):
        return 1
    seconds = row.count("s", low=1, high=WIDTHS[-1])
    if seconds not in WIDTHS or t % seconds:
        raise FieldError(
            row.path("s"), f"must be one of {WIDTHS} that divides t ({t}), got {seconds}"
        )
    return seconds


def _series_row(row: Fields) -> Second:
    steps = row.count("steps")
    row.time("time")
    t = row.count("t", high=MAX_EPOCH)
    target = None if row.raw("target") is None else row.number("target", MAX_COUNT)
    statuses, request_errors = row.obj("status_classes"), row.obj("request_errors")
    names = row.obj("by_request")
    return Second(
        t=t,
        steps=steps,
        failures=row.count("failures", high=steps),
        requests=row.count("requests"),
        durations=_sparse(row, counted=False),  # flat in the row, the schema's first form
        started=row.count("started"),
        dropped=row.count("dropped"),
        workers=row.count("workers"),
        target=target,
        statuses=tuple(statuses.count(name) for name in STATUS_CLASSES),
        request_errors=_error_counts(request_errors),
        response_times=_sparse(row.obj("response_times")),
        request_latency=_sparse(row.obj("request_latency")),
        by_request=tuple(_request_second(name, names.obj(name)) for name in sorted(names.names())),
        seconds=_width(row, t),
    )


def _check_totals(top: Fields, totals: Fields, report: RunReport) -> None:
    """The derived and repeated numbers of a document agree with what it was read from."""
    snapshot = report.snapshot
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
    # The model is the options' (``rate``), as the writer says it: one answer per report.
    if top.choice("model", {"open": "open", "closed": "closed"}) != report.model:
        raise FieldError("model", f"must be {report.model!r}, as options.rate says")
    arrivals = snapshot.started + snapshot.dropped if report.model == "open" else 0
    if totals.count("arrivals") != arrivals:
        raise FieldError(totals.path("arrivals"), f"must be {arrivals}, started plus dropped")
    totals.number("failure_rate", 1.0)
    totals.number("steps_per_s", MAX_COUNT)
    totals.number("requests_per_s", MAX_COUNT)
    # Every request is counted once for the run and once under its name.
    by_name = sum(r.requests for r in snapshot.by_request)
    if by_name != snapshot.requests:
        raise FieldError("by_request", f"must add up to the run's requests ({snapshot.requests})")
    if _status_codes(top.obj("status_codes")) != tuple(snapshot.status_codes().items()):
        raise FieldError("status_codes", "must be the request names' status codes together")


def _check_series(series: Sequence[Second], snapshot: Snapshot) -> None:
    for earlier, later in itertools.pairwise(series):
        if later.t < earlier.t + earlier.seconds:
            raise FieldError(
                "series", f"must be in time order, rows apart (second {later.t} repeats)"
            )
    for name in ("steps", "failures", "requests", "started", "dropped"):
        total = getattr(snapshot, name)
        if sum(getattr(row, name) for row in series) != total:
            raise FieldError("series", f"rows must add up to the run's {name} ({total})")


def _check_thresholds(top: Fields) -> None:
    for item in top.objects("thresholds"):
        item.text("expression")
        item.text("unit")
        item.flag("passed")
        if item.has("reason"):  # optional: reports written before it was
            item.text("reason")
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
    by_request = top.obj("by_request")
    checks, passed, failed, dropped = _checks(top.obj("checks"))
    snapshot = Snapshot(
        taken_at=0.0,
        scenarios=tuple(
            ScenarioStats(name, *_scenario(scenarios.obj(name))) for name in scenarios.names()
        ),
        errors=tuple(
            ErrorStat(
                e.choice("kind", kinds),
                e.text("message"),
                e.count("count"),
                scenario=e.text("scenario"),
                request=e.text("request"),
            )
            for e in top.objects("errors")
        ),
        workers_started=totals.count("workers_started"),
        pick_failures=totals.count("pick_failures"),
        connection_failures=totals.count("connection_failures"),
        setup_failures=totals.count("setup_failures"),
        session_setup_failures=totals.count("session_setup_failures"),
        errors_dropped=top.count("errors_dropped"),
        requests=totals.count("requests"),
        retried=totals.count("retried", high=totals.count("request_errors"))
        if totals.has("retried")
        else 0,
        statuses=tuple(statuses.count(name) for name in STATUS_CLASSES),
        response_bytes=totals.count("response_bytes"),
        request_errors_by_kind=tuple(request_errors.count(k.label) for k in REQUEST_ERROR_KINDS),
        request_latency=top.histogram("request_latency"),
        started=totals.count("started"),
        dropped=totals.count("dropped"),
        start_lateness=top.histogram("start_lateness"),
        by_request=tuple(_request(name, by_request.obj(name)) for name in by_request.names()),
        checks=checks,
        checks_passed=passed,
        checks_failed=failed,
        checks_dropped=dropped,
    )
    _check_thresholds(top)
    series = tuple(_series_row(row) for row in top.objects("series"))
    _check_series(series, snapshot)
    started, ended = top.time("started_at"), top.time("ended_at")
    duration = top.number("duration_s", MAX_SECONDS)
    drain = top.number("drain_s", duration) if top.has("drain_s") else 0.0
    if ended < started:
        raise FieldError("ended_at", "must not be before started_at")
    report = RunReport(
        snapshot=snapshot,
        started_at=started,
        ended_at=ended,
        duration=duration,
        drain=drain,
        options=top.obj("options").data(),
        series=series,
        stop_reason=top.text("stop_reason") if top.has("stop_reason") else "",
        merged_from=top.count("merged_from", low=1) if top.has("merged_from") else 1,
        tool_version=top.text("tool_version"),
        lost_processes=tuple(top.texts("lost_processes")) if top.has("lost_processes") else (),
    )
    _check_totals(top, totals, report)
    return report


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
