"""A snapshot read while its processes wrote (torn), made coherent before it is a report.

The snapshot comes from a real run's report (two scenarios, two request names, checks); each
torn read is what a reader sees between two stores of one record on the bus (see
``molotov.stats.coherent``). Torn, the report would not read back; coherent, it is the
run's own snapshot again: the record in flight is left out, nothing else moves.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable

import pytest

from molotov.cluster.follow import AgentView
from molotov.cluster.merge import final_report
from molotov.reports import jsonload, jsonmerge
from molotov.reports.jsonreport import RunReport
from molotov.stats.coherent import coherent
from molotov.stats.snapshot import Snapshot
from support import molotov_env, run_command

SCENARIOS = """
import os

import molotov

URL = os.environ["TARGET_URL"]


@molotov.scenario()
async def home(session):
    async with session.get(URL + "/") as resp:
        molotov.check(resp.status == 200, "home answers")


@molotov.scenario()
async def refused(session):
    async with session.get("http://127.0.0.1:1/") as resp:
        await resp.read()


@molotov.scenario()
async def broken(session):
    async with session.get(URL + "/status/500") as resp:
        molotov.check(resp.status == 200, "broken answers")
        assert resp.status == 200
"""


@pytest.fixture(scope="module")
def report(_target_server, tmp_path_factory) -> RunReport:
    folder = tmp_path_factory.mktemp("coherent")
    (folder / "loadtest.py").write_text(SCENARIOS)
    argv = [sys.executable, "-m", "molotov", "-w", "2", "-r", "20", "--report", "r.json"]
    done = run_command([*argv, "loadtest.py"], folder, molotov_env(_target_server.url), 60)
    assert done.returncode == 0, done.stderr
    loaded = jsonload.from_document(json.loads((folder / "r.json").read_text()))
    snap = loaded.snapshot
    assert len(snap.by_request) == 2 and snap.checks_failed > 0 and snap.request_errors > 0
    return loaded


def _run_counted_before_the_name(snap: Snapshot) -> Snapshot:
    return dataclasses.replace(snap, requests=snap.requests + 1)


def _name_counted_before_its_latency(snap: Snapshot) -> Snapshot:
    first, *rest = snap.by_request
    return dataclasses.replace(
        snap, by_request=(dataclasses.replace(first, requests=first.requests + 1), *rest)
    )


def _step_counted_before_its_duration(snap: Snapshot) -> Snapshot:
    first, *rest = snap.scenarios
    return dataclasses.replace(
        snap, scenarios=(dataclasses.replace(first, successes=first.successes + 1), *rest)
    )


def _check_counted_before_its_row(snap: Snapshot) -> Snapshot:
    return dataclasses.replace(snap, checks_failed=snap.checks_failed + 1)


def _errors_counted_before_the_name(snap: Snapshot) -> Snapshot:
    """The run's error counters read before a request error was stored, its name's after:
    the run's count of the kind one behind."""
    kinds = snap.request_errors_by_kind
    named = [k for k, n in enumerate(kinds) if n]
    assert named, kinds  # the run's report has request errors to tear
    first = named[0]
    return dataclasses.replace(
        snap, request_errors_by_kind=(*kinds[:first], kinds[first] - 1, *kinds[first + 1 :])
    )


TORN = [
    _run_counted_before_the_name,
    _name_counted_before_its_latency,
    _step_counted_before_its_duration,
    _check_counted_before_its_row,
    _errors_counted_before_the_name,
]


def test_a_coherent_snapshot_is_left_as_it_is(report):
    assert coherent(report.snapshot) == report.snapshot


@pytest.mark.parametrize("tear", TORN)
def test_a_torn_snapshot_is_its_run_again_once_coherent(report, tear: Callable):
    torn = dataclasses.replace(report, snapshot=tear(report.snapshot))
    if tear is not _errors_counted_before_the_name:  # a total the reader derives anyway
        with pytest.raises(jsonmerge.MergeError, match="unreadable"):
            jsonmerge.merge_readable([report, torn])
    assert coherent(torn.snapshot) == report.snapshot
    settled = dataclasses.replace(torn, snapshot=coherent(torn.snapshot))
    merged = jsonmerge.merge_readable([report, settled])
    assert merged.snapshot.requests == 2 * report.snapshot.requests


def test_a_request_error_of_no_name_stays_the_run_s(report):
    """A body that broke in a task that made no request is counted for the run only: not a
    torn read, and coherent() keeps it."""
    snap = report.snapshot
    kinds = snap.request_errors_by_kind
    unnamed = dataclasses.replace(snap, request_errors_by_kind=(kinds[0] + 1, *kinds[1:]))
    assert coherent(unnamed) == unnamed


class _Named:
    """An agent that is only a name: a lost agent is never called again."""

    name = "agent-1"


def test_a_lost_agents_torn_last_snapshot_still_merges(report):
    """What the cluster does with an agent lost mid-run (a pod OOM-killed): its last live
    snapshot, read while its processes wrote, goes into the report."""
    torn = _name_counted_before_its_latency(_run_counted_before_the_name(report.snapshot))
    view = AgentView(0, _Named(), snapshot=torn, lost="OOMKilled")  # type: ignore[arg-type]
    merged = final_report([report], [view], report.options, report.started_at)
    assert merged.snapshot.requests == 2 * report.snapshot.requests
    assert merged.snapshot.steps == 2 * report.snapshot.steps
