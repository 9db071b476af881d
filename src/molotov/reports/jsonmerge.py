"""Merging the reports of several load generators into the one a single run would have given.

Counters and histogram buckets add; series rows add over the same wall-clock interval (rows
joined past a horizon go on the coarsest grid of the reports', see :mod:`molotov.stats.series`).
Used by ``moloreport`` (see :mod:`molotov.reports.moloreport`) and the cluster's coordinator.

Two merges are refused (:class:`MergeError`): reports of both workload models, whose sum is no
one run's, and, for a report to be written, sums past the bounds that the reader
(:mod:`.jsonload`) enforces: a written report must read back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from molotov.reports import jsonload, jsonreport
from molotov.reports.fields import FieldError
from molotov.reports.jsonreport import RunReport
from molotov.stats.histogram import Histogram
from molotov.stats.series import SPARSE_MAX, Second, add_counts, merge_series
from molotov.stats.snapshot import (
    CheckStats,
    ErrorKind,
    ErrorStat,
    RequestStats,
    ScenarioStats,
    Snapshot,
)

UNREADABLE = "cannot merge: the merged report would be unreadable: "
_MODELS = {"open": "an open-model run (--rate)", "closed": "a closed-model run"}


class MergeError(ValueError):
    """Reports that do not merge into one report (``moloreport``: one line, exit 1)."""


def _one_model(reports: Sequence[RunReport], names: Sequence[str]) -> None:
    """Refuse open- and closed-model runs together: a closed run has no arrivals, no response
    times and no start lateness, and its series' ``target`` is workers, not arrivals/s, so
    their sum would be neither model's (arrivals = started + dropped would not hold, response
    time percentiles and thresholds would cover some steps only)."""
    first: dict[str, str] = {}
    for report, name in zip(reports, names, strict=True):
        first.setdefault(report.model, name)
    if len(first) > 1:
        (model, name), (other, other_name) = first.items()
        raise MergeError(
            f"cannot merge: {name} is {_MODELS[model]} and {other_name} {_MODELS[other]}; "
            "merge each model's reports apart"
        )


def _merge_series(reports: Sequence[RunReport]) -> tuple[Second, ...]:
    """The rows on the coarsest grid of the reports' (see stats.series.merge_series)."""
    try:
        return merge_series([report.series for report in reports])
    except OverflowError as exc:  # a bucket count past what a row's Sparse holds (int32)
        raise MergeError(
            f"{UNREADABLE}{exc} would count more than {SPARSE_MAX} values in one histogram bucket"
        ) from None


def _merge_errors(snapshots: Sequence[Snapshot]) -> tuple[ErrorStat, ...]:
    totals: dict[tuple[ErrorKind, str, str, str], int] = {}
    for snap in snapshots:
        for error in snap.errors:
            totals[error.key()] = totals.get(error.key(), 0) + error.count
    return tuple(
        ErrorStat(kind, message, count, scenario=scenario, request=request)
        for (kind, message, scenario, request), count in totals.items()
    )


def merge_requests(snapshots: Sequence[Snapshot]) -> tuple[RequestStats, ...]:
    """Every request name's numbers over several snapshots, by name."""
    merged: dict[str, RequestStats] = {}
    for snap in snapshots:
        for stats in snap.by_request:
            known = merged.get(stats.name)
            merged[stats.name] = stats if known is None else known.plus(stats)
    return tuple(merged.values())


def _merge_checks(snapshots: Sequence[Snapshot]) -> tuple[CheckStats, ...]:
    totals: dict[tuple[str, str], tuple[int, int]] = {}
    for snap in snapshots:
        for check in snap.checks:
            passes, failures = totals.get((check.name, check.request), (0, 0))
            totals[(check.name, check.request)] = (
                passes + check.passes,
                failures + check.failures,
            )
    return tuple(
        CheckStats(name, request, passes, failures)
        for (name, request), (passes, failures) in sorted(totals.items())
    )


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


def merge(reports: Sequence[RunReport], names: Sequence[str] = ()) -> RunReport:
    """One report with exactly the numbers a single run of all of them would have given.

    ``names`` name the reports in a :class:`MergeError` (by default ``report 1``, ...).
    """
    _one_model(reports, names or [f"report {i}" for i in range(1, len(reports) + 1)])
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
        statuses=add_counts([s.statuses for s in snaps]),
        request_errors_by_kind=add_counts([s.request_errors_by_kind for s in snaps]),
        request_latency=Histogram.merge([s.request_latency for s in snaps]),
        start_lateness=Histogram.merge([s.start_lateness for s in snaps]),
        by_request=merge_requests(snaps),
        checks=_merge_checks(snaps),
        **counters,
    )
    started = min(r.started_at for r in reports)
    ended = max(r.ended_at for r in reports)
    # The load lasted until the last generator's stop; what came after is the drain.
    stopped = max(r.ended_at - r.drain for r in reports)
    return RunReport(
        snapshot=snapshot,
        started_at=started,
        ended_at=ended,
        duration=ended - started,
        drain=max(0.0, ended - stopped),
        options=reports[0].options,
        series=_merge_series(reports),
        stop_reason="merged",
        merged_from=sum(r.merged_from for r in reports),
        lost_processes=tuple(line for r in reports for line in r.lost_processes),
    )


def merge_readable(reports: Sequence[RunReport], names: Sequence[str] = ()) -> RunReport:
    """:func:`merge`, for a report to be written: refused (:class:`MergeError`) when the
    reader would refuse the result.

    A merge only adds, so its sums may pass the reader's bounds: a count or a histogram's
    ``sum_us`` past int64, a duration over ten years. Rather than a check per field, the
    reader itself checks the merged document: writer and reader cannot disagree.
    """
    merged = merge(reports, names)
    if len(reports) > 1:
        try:
            jsonload.from_document(jsonreport.document(merged))
        except FieldError as exc:
            raise MergeError(f"{UNREADABLE}{exc}") from None
    return merged
