"""The cluster's numbers: agents' snapshots summed live, their final reports merged.

Both use the report merge that ``moloreport`` uses (:func:`molotov.reports.jsonmerge.merge`),
so the live totals, the final report and ``moloreport`` of the agents' own reports agree to
the count. A lost agent's last snapshot stays in the totals as a report of one series row
(its whole run in the second it was last heard of), flagged in the ``cluster`` section.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime
from typing import Any

from molotov.cluster.follow import AgentView
from molotov.reports import jsonmerge
from molotov.reports.jsonreport import RunReport
from molotov.stats.coherent import coherent
from molotov.stats.series import SeriesRecorder
from molotov.stats.snapshot import Snapshot

EMPTY = Snapshot(taken_at=0.0, scenarios=())


def _as_report(
    snapshot: Snapshot, options: dict[str, Any], started: float, ended: float
) -> RunReport:
    """A (live) snapshot as a report whose series is one row (at ``ended``) holding all of
    it, made coherent: it was read while the agent's processes wrote."""
    snapshot = coherent(snapshot)
    series = SeriesRecorder(EMPTY, ended).finish(snapshot)
    return RunReport(snapshot, started, ended, max(0.0, ended - started), options, tuple(series))


def live_totals(views: list[AgentView]) -> Snapshot:
    """Every agent's latest snapshot, summed (taken now, for the console's rates)."""
    parts = [RunReport(v.snapshot, 0.0, 0.0, 0.0, {}) for v in views if v.snapshot is not None]
    if not parts:
        return dataclasses.replace(EMPTY, taken_at=time.monotonic())
    return dataclasses.replace(jsonmerge.merge(parts).snapshot, taken_at=time.monotonic())


def final_report(
    reports: list[RunReport], partial: list[AgentView], options: dict[str, Any], started: float
) -> RunReport:
    """The agents' reports merged, with the last snapshots of the agents lost (or whose
    report could not be had) added in; a :class:`~molotov.reports.jsonmerge.MergeError` when
    the merge could not be read back (as ``moloreport`` refuses it)."""
    now = time.time()
    extra = [_as_report(v.snapshot, options, started, now) for v in partial if v.snapshot]
    return jsonmerge.merge_readable([*reports, *extra])


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def cluster_section(views: list[AgentView], start_at: float | None) -> dict[str, Any]:
    """The report's additive ``cluster`` section (see the README)."""
    agents = []
    firsts = []
    for view in views:
        offset = view.clock.offset if view.clock else None
        first = None
        if view.first_step_at is not None and offset is not None:
            first = view.first_step_at - offset  # on the coordinator's clock
            firsts.append(first)
        agents.append(
            {
                "name": view.name,
                "index": view.index,
                "reported": not view.lost and view.error == "",
                "lost": view.lost or None,
                "error": view.error or None,
                "lost_processes": list(view.lost_processes),
                "clock_offset_ms": None if offset is None else round(offset * 1000, 3),
                "clock_rtt_ms": None if view.clock is None else round(view.clock.rtt * 1000, 3),
                "first_step_at": None if first is None else _iso(first),
                "first_step_after_start_ms": (
                    None
                    if first is None or start_at is None
                    else round((first - start_at) * 1e3, 3)
                ),
            }
        )
    return {
        "asked": len(views),
        "reported": sum(1 for a in agents if a["reported"]),
        "lost": [{"name": v.name, "why": v.lost} for v in views if v.lost],
        "lost_processes": [
            {"name": v.name, "why": line} for v in views for line in v.lost_processes
        ],
        "start_at": None if start_at is None else _iso(start_at),
        "start_spread_ms": round((max(firsts) - min(firsts)) * 1000, 3) if firsts else None,
        "agents": agents,
    }
