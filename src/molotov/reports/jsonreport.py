"""The machine-readable report: one JSON document per run, and merging many into one.

The document carries the raw histogram buckets (sparse: ``[[index, count], ...]`` of the
log-linear scheme in :mod:`molotov.stats.histogram`, see ``histogram_encoding``) and a per-second
time series, so reports of several load generators merge exactly: counters and buckets add,
series rows add on the same wall-clock second. Files are written atomically.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import reprlib
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from molotov._version import __version__
from molotov.config.jsonfile import JSONFileError, parse_json
from molotov.reports.atomic import write_text
from molotov.reports.fields import (
    MAX_COUNT,
    MAX_DURATION_US,
    MAX_EPOCH,
    MAX_SECONDS,
    FieldError,
    Fields,
)
from molotov.reports.thresholds import PERCENTILES, ThresholdResult
from molotov.stats.histogram import MAX_US, NBUCKETS, Histogram
from molotov.stats.snapshot import (
    REQUEST_ERROR_KINDS,
    STATUS_CLASSES,
    ErrorKind,
    ErrorStat,
    ScenarioStats,
    Snapshot,
)

SCHEMA_VERSION = 1
HISTOGRAM_ENCODING = {
    "unit": "us",
    "buckets": NBUCKETS,
    "linear_below_us": 256,
    "sub_buckets_per_power_of_two": 128,
    "max_us": MAX_US,
    "format": "[[bucket_index, count], ...] for the non-empty buckets; see README",
}


class ReportError(Exception):
    """A report that cannot be read or merged (one line, exit 1)."""


@dataclass(frozen=True)
class Sparse:
    """A histogram kept sparse: the non-empty buckets' (index, count), interleaved in an int32
    array (a series keeps a few of these per second of the run: dense ones would make a long
    run's parent grow by ~20 KB a second each), with its count, sum and max."""

    pairs: array[int]
    count: int = 0
    sum_us: int = 0
    max_us: int = 0

    @classmethod
    def of(cls, histogram: Histogram) -> Sparse:
        pairs = array("i")
        for index, count in enumerate(histogram.buckets):
            if count:
                pairs.extend((index, count))
        return cls(pairs, histogram.count, histogram.total_us, histogram.max_us)

    @classmethod
    def empty(cls) -> Sparse:
        return cls(array("i"))

    def items(self) -> list[tuple[int, int]]:
        return list(zip(self.pairs[::2], self.pairs[1::2], strict=True))

    @property
    def histogram(self) -> Histogram:
        buckets = [0] * NBUCKETS
        for index, count in self.items():
            buckets[index] += count
        return Histogram(tuple(buckets), self.count, self.sum_us, self.max_us)

    def plus(self, other: Sparse) -> Sparse:
        if not other.count:
            return self
        if not self.count:
            return other
        return Sparse.of(Histogram.merge([self.histogram, other.histogram]))


def _zeros(n: int) -> tuple[int, ...]:
    return (0,) * n


@dataclass(frozen=True)
class Second:
    """One row of the time series: what happened during one wall-clock second.

    Counters are what finished (steps, requests) or started (``started``), or was dropped,
    during the second; ``workers`` is the number active at its end, ``target`` what the rate
    or the stages asked for at its middle. Each histogram's max is the run's largest value so
    far: a bound of the second's values, so its percentiles never exceed a value really seen.
    """

    t: int  # epoch seconds
    steps: int
    failures: int
    requests: int
    durations: Sparse
    started: int = 0
    dropped: int = 0
    workers: int = 0
    target: float | None = None
    statuses: tuple[int, ...] = _zeros(len(STATUS_CLASSES))
    request_errors: tuple[int, ...] = _zeros(len(REQUEST_ERROR_KINDS))
    response_times: Sparse = dataclasses.field(default_factory=Sparse.empty)
    request_latency: Sparse = dataclasses.field(default_factory=Sparse.empty)

    def plus(self, other: Second) -> Second:
        """Two load generators' rows of the same second, as one."""
        target = None
        if self.target is not None or other.target is not None:
            target = (self.target or 0.0) + (other.target or 0.0)
        return Second(
            t=self.t,
            steps=self.steps + other.steps,
            failures=self.failures + other.failures,
            requests=self.requests + other.requests,
            durations=self.durations.plus(other.durations),
            started=self.started + other.started,
            dropped=self.dropped + other.dropped,
            workers=self.workers + other.workers,
            target=target,
            statuses=_add([self.statuses, other.statuses]),
            request_errors=_add([self.request_errors, other.request_errors]),
            response_times=self.response_times.plus(other.response_times),
            request_latency=self.request_latency.plus(other.request_latency),
        )


class SeriesRecorder:
    """Cuts a run's snapshots into per-second rows whose sums equal the final totals."""

    def __init__(
        self,
        first: Snapshot,
        wall_start: float,
        target: Callable[[float], float | None] | None = None,
    ) -> None:
        self._base = first
        self._second = int(wall_start)
        self._target = target
        self.rows: list[Second] = []

    def _row(self, snapshot: Snapshot) -> Second:
        base = self._base
        return Second(
            t=self._second,
            steps=snapshot.steps - base.steps,
            failures=snapshot.failures - base.failures,
            requests=snapshot.requests - base.requests,
            durations=Sparse.of(snapshot.durations.minus(base.durations)),
            started=snapshot.started - base.started,
            dropped=snapshot.dropped - base.dropped,
            workers=snapshot.workers,
            target=self._target(self._second + 0.5) if self._target else None,
            statuses=_minus(snapshot.statuses, base.statuses),
            request_errors=_minus(snapshot.request_errors_by_kind, base.request_errors_by_kind),
            response_times=Sparse.of(snapshot.response_times.minus(base.response_times)),
            request_latency=Sparse.of(snapshot.request_latency.minus(base.request_latency)),
        )

    def update(self, snapshot: Snapshot, wall_now: float) -> None:
        if int(wall_now) > self._second:
            self.rows.append(self._row(snapshot))
            self._base = snapshot
            self._second = int(wall_now)

    def finish(self, snapshot: Snapshot) -> list[Second]:
        """Close the last, partial second; returns every row."""
        self.rows.append(self._row(snapshot))
        self._base = snapshot
        return self.rows


def _minus(now: tuple[int, ...], before: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(a - b for a, b in zip(now, before, strict=True))


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


# -- encoding -------------------------------------------------------------------------------


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat().replace("+00:00", "Z")


def _ms(us: float) -> float:
    return round(us / 1000, 3)


def histogram_json(histogram: Histogram) -> dict[str, Any]:
    percentiles = {f"{name}_ms": _ms(histogram.percentile_us(p)) for name, p in PERCENTILES.items()}
    return {
        "count": histogram.count,
        **percentiles,
        "max_ms": _ms(histogram.max_us),
        "mean_ms": _ms(histogram.mean_us),
        "sum_us": histogram.total_us,
        "max_us": histogram.max_us,
        "buckets": [[i, n] for i, n in enumerate(histogram.buckets) if n],
    }


def _brief_json(sparse: Sparse) -> dict[str, Any]:
    """A series row's histogram: count, p50 and p99 (bucket tops), sum, max, buckets."""
    histogram = sparse.histogram
    return {
        "count": sparse.count,
        "p50_ms": _ms(histogram.percentile_us(50)),
        "p99_ms": _ms(histogram.percentile_us(99)),
        "sum_us": sparse.sum_us,
        "max_us": sparse.max_us,
        "buckets": [list(pair) for pair in sparse.items()],
    }


def _row_json(row: Second) -> dict[str, Any]:
    durations = _brief_json(row.durations)
    return {
        "t": row.t,
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
        "request_errors": {
            kind.label: n for kind, n in zip(REQUEST_ERROR_KINDS, row.request_errors, strict=True)
        },
        "response_times": _brief_json(row.response_times),
        "request_latency": _brief_json(row.request_latency),
    }


def _rate(count: int, seconds: float) -> float:
    return round(count / seconds, 3) if seconds > 0 else 0.0


def document(report: RunReport, thresholds: Sequence[ThresholdResult] = ()) -> dict[str, Any]:
    """The JSON document of a report (see the README for the schema)."""
    snap = report.snapshot
    seconds = report.duration
    return {
        "schema_version": SCHEMA_VERSION,
        "tool_version": report.tool_version,
        "successes": snap.successes,
        "failures": snap.failures,
        "started_at": _iso(report.started_at),
        "ended_at": _iso(report.ended_at),
        "duration_s": round(seconds, 3),
        "stop_reason": report.stop_reason,
        "merged_from": report.merged_from,
        "model": "open" if report.options.get("rate") is not None else "closed",
        "options": report.options,
        "totals": {
            "steps": snap.steps,
            "successes": snap.successes,
            "failures": snap.failures,
            "failure_rate": round(snap.failures / snap.steps, 6) if snap.steps else 0.0,
            "steps_per_s": _rate(snap.steps, seconds),
            "requests": snap.requests,
            "requests_per_s": _rate(snap.requests, seconds),
            "response_bytes": snap.response_bytes,
            "request_errors": snap.request_errors,
            "workers_started": snap.workers_started,
            "pick_failures": snap.pick_failures,
            "connection_failures": snap.connection_failures,
            "setup_failures": snap.setup_failures,
            "session_setup_failures": snap.session_setup_failures,
            "started": snap.started,
            "dropped": snap.dropped,
            "arrivals": snap.arrivals if report.options.get("rate") is not None else 0,
        },
        "status_classes": dict(zip(STATUS_CLASSES, snap.statuses, strict=True)),
        "request_errors": {
            kind.label: count
            for kind, count in zip(REQUEST_ERROR_KINDS, snap.request_errors_by_kind, strict=True)
        },
        "errors": [
            {"kind": e.kind.name.lower(), "message": e.message, "count": e.count}
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
        "series": [_row_json(row) for row in report.series],
        "thresholds": [
            {
                "expression": r.threshold.text,
                "observed": None if math.isnan(r.observed) else r.observed,
                "unit": r.threshold.unit,
                "passed": r.passed,
            }
            for r in thresholds
        ],
        "histogram_encoding": HISTOGRAM_ENCODING,
    }


def write(path: str | Path, doc: dict[str, Any]) -> None:
    """Write ``doc`` to ``path`` atomically (see :mod:`molotov.reports.atomic`)."""
    write_text(path, json.dumps(doc, indent=1) + "\n")


def dumps_line(doc: dict[str, Any]) -> str:
    """The document on one line (``--report -``)."""
    return json.dumps(doc, separators=(",", ":"))


# -- decoding and merging -------------------------------------------------------------------

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
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ReportError(f"{path}: no such report file") from None
    except OSError as exc:
        raise ReportError(f"{path}: cannot read it ({exc.strerror})") from None
    try:
        doc = parse_json(data)
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


def _merge_errors(snapshots: Sequence[Snapshot]) -> tuple[ErrorStat, ...]:
    totals: dict[tuple[ErrorKind, str], int] = {}
    for snap in snapshots:
        for error in snap.errors:
            key = (error.kind, error.message)
            totals[key] = totals.get(key, 0) + error.count
    return tuple(ErrorStat(kind, message, count) for (kind, message), count in totals.items())


def _merge_scenarios(snapshots: Sequence[Snapshot]) -> tuple[ScenarioStats, ...]:
    names = sorted({s.name for snap in snapshots for s in snap.scenarios})
    merged = []
    for name in names:
        parts = [s for snap in snapshots for s in snap.scenarios if s.name == name]
        merged.append(
            ScenarioStats(
                name,
                sum(p.successes for p in parts),
                sum(p.failures for p in parts),
                Histogram.merge([p.durations for p in parts]),
                Histogram.merge([p.response_times for p in parts]),
            )
        )
    return tuple(merged)


def _add(rows: Sequence[tuple[int, ...]]) -> tuple[int, ...]:
    return tuple(map(sum, zip(*rows, strict=True)))


def merge(reports: Sequence[RunReport]) -> RunReport:
    """One report with exactly the numbers a single run of all of them would have given."""
    if len(reports) == 1:
        return reports[0]
    snaps = [r.snapshot for r in reports]
    # Every plain integer field of a snapshot is a counter: the merge adds them.
    counters = {
        f.name: sum(getattr(s, f.name) for s in snaps)
        for f in dataclasses.fields(Snapshot)
        if f.type in ("int", int)
    }
    snapshot = Snapshot(
        taken_at=0.0,
        scenarios=_merge_scenarios(snaps),
        errors=_merge_errors(snaps),
        statuses=_add([s.statuses for s in snaps]),
        request_errors_by_kind=_add([s.request_errors_by_kind for s in snaps]),
        request_latency=Histogram.merge([s.request_latency for s in snaps]),
        start_lateness=Histogram.merge([s.start_lateness for s in snaps]),
        **counters,
    )
    seconds: dict[int, Second] = {}
    for report in reports:
        for row in report.series:
            seconds[row.t] = seconds[row.t].plus(row) if row.t in seconds else row
    started = min(r.started_at for r in reports)
    ended = max(r.ended_at for r in reports)
    return RunReport(
        snapshot=snapshot,
        started_at=started,
        ended_at=ended,
        duration=ended - started,
        options=reports[0].options,
        series=tuple(seconds[t] for t in sorted(seconds)),
        stop_reason="merged",
        merged_from=sum(r.merged_from for r in reports),
    )
