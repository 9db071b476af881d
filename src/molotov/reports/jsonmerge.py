"""Merging the reports of several load generators into the one a single run would have given.

Counters and histogram buckets add; series rows add on the same wall-clock second. Used by
``moloreport`` (see :mod:`molotov.reports.moloreport`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from molotov.reports.jsonreport import RunReport
from molotov.stats.histogram import Histogram
from molotov.stats.series import Second, add_counts
from molotov.stats.snapshot import (
    CheckStats,
    ErrorKind,
    ErrorStat,
    RequestStats,
    ScenarioStats,
    Snapshot,
)


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
        statuses=add_counts([s.statuses for s in snaps]),
        request_errors_by_kind=add_counts([s.request_errors_by_kind for s in snaps]),
        request_latency=Histogram.merge([s.request_latency for s in snaps]),
        start_lateness=Histogram.merge([s.start_lateness for s in snaps]),
        by_request=merge_requests(snaps),
        checks=_merge_checks(snaps),
        **counters,
    )
    seconds: dict[int, Second] = {}
    for report in reports:
        for row in report.series:
            seconds[row.t] = seconds[row.t].plus(row) if row.t in seconds else row
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
        series=tuple(seconds[t] for t in sorted(seconds)),
        stop_reason="merged",
        merged_from=sum(r.merged_from for r in reports),
        lost_processes=tuple(line for r in reports for line in r.lost_processes),
    )
