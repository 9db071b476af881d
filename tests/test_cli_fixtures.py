"""Fixtures, ``args``, ``get_context`` and events, seen from inside a real ``molotov`` run.

Worker processes are forked children: every fixture and scenario below appends JSON records
to ``log.jsonl`` beside the scenario module, and the tests read them once the run is over.
"""

from __future__ import annotations

import re
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from support import read_log

HEADER = textwrap.dedent(
    """\
    import asyncio
    import json
    import os
    import pathlib
    import time

    import molotov

    URL = os.environ["TARGET_URL"]
    LOG = pathlib.Path(__file__).with_name("log.jsonl")


    def log(**record):
        record.setdefault("pid", os.getpid())
        record.setdefault("t", time.monotonic())
        with LOG.open("a") as f:
            f.write(json.dumps(record) + "\\n")

    """
)

# Every fixture of the API, each leaving a record of when, where and with what it ran.
ALL_FIXTURES = """
SESSIONS = {}


@molotov.global_setup()
def init(args):
    log(
        what="global_setup",
        workers=args.workers,
        processes=args.processes,
        duration=args.duration,
        verbose=args.verbose,
        max_runs=args.max_runs,
    )
    molotov.set_var("token", "from-global-setup")


@molotov.setup()
async def init_worker(worker_id, args):
    log(what="setup", wid=worker_id, ppid=os.getppid(), workers=args.workers)
    return {"headers": {"X-Worker": f"worker-{worker_id}"}}


@molotov.setup_session()
async def init_session(worker_id, session):
    SESSIONS[worker_id] = session
    log(what="setup_session", wid=worker_id, closed=session.closed)


@molotov.teardown_session()
async def end_session(worker_id, session):
    log(
        what="teardown_session",
        wid=worker_id,
        closed=session.closed,
        same=session is SESSIONS[worker_id],
    )


@molotov.teardown()
def end_worker(worker_id):
    log(what="teardown", wid=worker_id, closed=SESSIONS[worker_id].closed)


@molotov.global_teardown()
def end():
    log(what="global_teardown")


@molotov.scenario()
async def step(session):
    ctx = molotov.get_context(session)
    previous = getattr(ctx, "previous_step", None)
    ctx.previous_step = ctx.step
    log(
        what="step",
        wid=ctx.worker_id,
        ppid=os.getppid(),
        step=ctx.step,
        previous=previous,
        token=molotov.get_var("token"),
        header=session.headers.get("X-Worker"),
        statsd_is_none=ctx.statsd is None,
        args_workers=ctx.args.workers,
        args_max_runs=ctx.args.max_runs,
    )
    async with session.post(URL + "/echo", json={"wid": ctx.worker_id}) as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body["got"] == {"wid": ctx.worker_id}
"""

FIXTURE_ARGS = ("-p", "2", "-w", "3", "-r", "2", "-d", "20", "-v", "loadtest.py")


@pytest.fixture
def scenario_file(write_scenario):
    def write(body: str, name: str = "loadtest.py") -> Path:
        return write_scenario(HEADER + textwrap.dedent(body), name)

    return write


def records_of(records: list[dict], what: str) -> list[dict]:
    return [record for record in records if record.get("what") == what]


def summary(stdout: str) -> tuple[int, int]:
    found = re.findall(r"^SUCCESSES: (\d+) \| FAILURES: (\d+)$", stdout, re.MULTILINE)
    assert len(found) == 1, stdout
    return int(found[0][0]), int(found[0][1])


@pytest.fixture
def fixtures_run(scenario_file, run_molotov, tmp_path, target):
    """Run ALL_FIXTURES with 2 processes x 3 workers x 2 steps; return (result, records)."""
    scenario_file(ALL_FIXTURES)
    result = run_molotov(*FIXTURE_ARGS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert summary(result.stdout) == (12, 0)
    assert target.hits["/echo"] == 12
    return result, read_log(tmp_path)


# -- fixtures -------------------------------------------------------------------------------


def test_global_setup_runs_once_in_the_parent_before_the_workers(fixtures_run):
    _, records = fixtures_run
    (setup,) = records_of(records, "global_setup")
    assert setup["workers"] == 3
    assert setup["processes"] == 2
    assert setup["duration"] == 20.0
    assert setup["verbose"] == 1
    assert setup["max_runs"] == 2
    workers = records_of(records, "setup")
    assert len(workers) == 6
    # The parent ran it, and the worker processes are its children, started afterwards.
    assert all(w["pid"] != setup["pid"] for w in workers)
    assert {w["ppid"] for w in workers} == {setup["pid"]}
    assert all(w["t"] >= setup["t"] for w in workers)


def test_set_var_in_global_setup_reaches_every_worker_of_every_process(fixtures_run):
    _, records = fixtures_run
    steps = records_of(records, "step")
    assert len(steps) == 12
    assert len({step["pid"] for step in steps}) == 2
    assert {step["token"] for step in steps} == {"from-global-setup"}


def test_worker_ids_per_process_and_setup_options(fixtures_run):
    _, records = fixtures_run
    by_process: dict[int, list[int]] = {}
    for record in records_of(records, "setup"):
        assert record["workers"] == 3
        by_process.setdefault(record["pid"], []).append(record["wid"])
    assert len(by_process) == 2
    assert all(sorted(wids) == [0, 1, 2] for wids in by_process.values())
    # setup() returned ClientSession options: the worker's session carries its header.
    for step in records_of(records, "step"):
        assert step["header"] == f"worker-{step['wid']}"


def test_session_fixtures_and_teardowns_once_per_worker_in_order(fixtures_run):
    _, records = fixtures_run
    for what in ("setup", "setup_session", "teardown_session", "teardown"):
        keys = Counter((r["pid"], r["wid"]) for r in records_of(records, what))
        assert len(keys) == 6, what
        assert set(keys.values()) == {1}, what
    assert all(not r["closed"] for r in records_of(records, "setup_session"))
    # teardown_session gets the worker's own session, still open; teardown comes after close.
    for record in records_of(records, "teardown_session"):
        assert record["same"]
        assert not record["closed"]
    assert all(r["closed"] for r in records_of(records, "teardown"))
    order = ["setup", "setup_session", "step", "teardown_session", "teardown"]
    for pid, wid in {(r["pid"], r["wid"]) for r in records_of(records, "setup")}:
        seen = [r["what"] for r in records if r.get("pid") == pid and r.get("wid") == wid]
        assert seen == ["setup", "setup_session", "step", "step", "teardown_session", "teardown"]
        assert [w for w in order if w in seen] == order


def test_global_teardown_runs_once_at_the_very_end(fixtures_run):
    _, records = fixtures_run
    (setup,) = records_of(records, "global_setup")
    (teardown,) = records_of(records, "global_teardown")
    assert teardown["pid"] == setup["pid"]
    assert records[-1]["what"] == "global_teardown"
    assert all(teardown["t"] >= r["t"] for r in records)


def test_get_context_describes_the_worker(fixtures_run):
    _, records = fixtures_run
    steps: dict[tuple[int, int], list[dict]] = {}
    for record in records_of(records, "step"):
        steps.setdefault((record["pid"], record["wid"]), []).append(record)
    assert len(steps) == 6
    for (_, wid), records_of_worker in steps.items():
        assert [r["wid"] for r in records_of_worker] == [wid, wid]
        assert [r["step"] for r in records_of_worker] == [1, 2]
        # The context keeps attributes a scenario adds to it, from one step to the next.
        assert [r["previous"] for r in records_of_worker] == [None, 1]
        assert all(r["statsd_is_none"] for r in records_of_worker)
        assert all(r["args_workers"] == 3 for r in records_of_worker)
        assert all(r["args_max_runs"] == 2 for r in records_of_worker)


# -- events ---------------------------------------------------------------------------------

RECORD_EVENTS = """
def describe(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {key: describe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [describe(item) for item in value]
    return type(value).__name__


@molotov.events()
async def record_event(event, **info):
    if event == "current_workers":
        return
    record = {"what": "event", "event": event, "keys": sorted(info)}
    scenario = info.get("scenario")
    if scenario is not None:
        record["scenario"] = sorted(scenario)
        record["name"] = scenario["name"]
        record["weight"] = scenario["weight"]
        record["delay"] = scenario["delay"]
        record["func"] = scenario["func"].__name__
        record["args"] = describe(scenario["args"])
        record["kw"] = describe(scenario["kw"])
    if "wid" in info:
        record["wid"] = info["wid"]
    if "session" in info:
        record["session"] = type(info["session"]).__name__
        record["session_headers"] = dict(info["session"].headers)
    if "request" in info:
        request = info["request"]
        record["request"] = [request.method, str(request.url)]
        record["sent_header"] = request.headers.get("X-Worker")
    if "response" in info:
        record["status"] = info["response"].status
    if "exception" in info:
        record["exception"] = [type(info["exception"]).__name__, str(info["exception"])]
    log(**record)


@molotov.setup()
async def init_worker(worker_id, args):
    return {"headers": {"X-Worker": f"worker-{worker_id}"}}


@molotov.scenario(weight=3, delay=0.01)
async def second_step_fails(session):
    async with session.get(URL + "/data") as resp:
        assert resp.status == 200
    assert molotov.get_context(session).step != 2, "second step"
"""


def test_events_order_and_keywords(scenario_file, run_molotov, tmp_path, target):
    scenario_file(RECORD_EVENTS)
    result = run_molotov("-w", "1", "-r", "3", "loadtest.py")
    assert result.returncode == 0, result.stderr
    assert summary(result.stdout) == (2, 1)
    events = records_of(read_log(tmp_path), "event")
    step = ["scenario_start", "sending_request", "response_received"]
    assert [e["event"] for e in events] == [
        *step,
        "scenario_success",
        *step,
        "scenario_failure",
        *step,
        "scenario_success",
    ]
    keys = {e["event"]: e["keys"] for e in events}
    assert keys == {
        "scenario_start": ["scenario", "wid"],
        "sending_request": ["request", "session"],
        "response_received": ["request", "response", "session"],
        "scenario_success": ["scenario", "wid"],
        "scenario_failure": ["exception", "scenario", "wid"],
    }
    url = f"{target.url}/data"
    for event in events:
        if "scenario" in event:
            assert event["scenario"] == ["args", "delay", "func", "kw", "name", "weight"]
            assert event["name"] == event["func"] == "second_step_fails"
            assert (event["weight"], event["delay"]) == (3, 0.01)
            assert (event["args"], event["kw"]) == ([], {})
            assert event["wid"] == 0
        if "request" in event:
            assert event["session"] == "ClientSession"
            assert event["request"] == ["GET", url]
            # The headers setup() asked for are on the session and really sent.
            assert event["session_headers"]["X-Worker"] == "worker-0"
            assert event["sent_header"] == "worker-0"
        if event["event"] == "response_received":
            assert event["status"] == 200
    (failure,) = [e for e in events if e["event"] == "scenario_failure"]
    assert failure["exception"] == ["AssertionError", "second step"]


def test_current_workers_event_about_every_second(scenario_file, run_molotov, tmp_path):
    scenario_file(
        """
        @molotov.events()
        async def count_workers(event, **info):
            if event == "current_workers":
                log(what="current_workers", keys=sorted(info), workers=info["workers"])


        @molotov.scenario()
        async def idle(session):
            await asyncio.sleep(0.1)
        """
    )
    result = run_molotov("-w", "2", "-d", "2.5", "loadtest.py", timeout=30)
    assert result.returncode == 0, result.stderr
    ticks = records_of(read_log(tmp_path), "current_workers")
    assert len(ticks) >= 1
    assert all(tick["keys"] == ["workers"] for tick in ticks)
    # As in Molotov 2.x, the first tick comes at the start (so a run shorter than a second
    # gets one too), and it sees both workers, which run from the start.
    assert ticks[0]["workers"] == 2, ticks
    assert all(0 <= tick["workers"] <= 2 for tick in ticks), ticks


def test_failing_event_handler_is_reported_but_the_run_succeeds(scenario_file, run_molotov):
    scenario_file(
        """
        @molotov.events()
        async def broken_handler(event, **info):
            if event == "scenario_success":
                raise RuntimeError("handler broke")


        @molotov.scenario()
        async def fine(session):
            async with session.get(URL + "/") as resp:
                assert resp.status == 200
        """
    )
    result = run_molotov("-w", "1", "-r", "3", "loadtest.py")
    assert result.returncode == 0, result.stderr
    assert summary(result.stdout) == (3, 0)
    output = result.stdout + result.stderr
    assert "handler broke" in output
    assert "event (event handler failed on 'scenario_success': " in output
    assert re.search(r"event \(event handler failed on 'scenario_success': .*\): 3$", output, re.M)


def test_statsd_flag_puts_a_client_in_the_context(scenario_file, run_molotov, tmp_path):
    pytest.importorskip("statsd")
    scenario_file(
        """
        @molotov.scenario()
        async def with_statsd(session):
            statsd = molotov.get_context(session).statsd
            log(what="statsd", kind=type(statsd).__name__)
        """
    )
    # UDP to a closed local port: sending never fails, nothing listens.
    result = run_molotov(
        "--statsd", "--statsd-address", "udp://127.0.0.1:9", "-r", "1", "loadtest.py"
    )
    assert result.returncode == 0, result.stderr
    (record,) = records_of(read_log(tmp_path), "statsd")
    assert record["kind"] != "NoneType"
