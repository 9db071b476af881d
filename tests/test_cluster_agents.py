"""Cluster runs with real parts: agent processes on 127.0.0.2, .3, ..., the real coordinator
(``python -m molotov ... --agents``), a real target on 127.0.0.1 that notes every request's
arrival and sender. No Kubernetes here (see test_cluster.py for the manual Job path)."""

from __future__ import annotations

import itertools
import json
import re
import signal
import statistics
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from agents import TOKEN, Agent, agents, coordinator, target
from molotov.cluster.follow import AgentView
from molotov.cluster.merge import live_totals
from molotov.cluster.wire import snapshot_from_wire
from support import closing, moloreport, statsd_listener, total

SCENARIO = """
import asyncio
import os

from molotov import global_setup, scenario, setup_session

URL = os.environ["TARGET_URL"]
AGENT = os.environ["AGENT"]


@global_setup()
def gs(args):
    print(f"global_setup agent {args.agent_index} of {args.agent_count}", flush=True)


@setup_session()
async def slow_setup(wid, session):
    await asyncio.sleep(float(os.environ.get("SETUP_SLEEP", "0")))


@scenario()
async def hit(session):
    async with session.get(URL, headers={"X-Agent": AGENT}) as resp:
        assert resp.status == 200
"""


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "loadtest.py"
    path.write_text(SCENARIO)
    return path


def _progress_successes(lines: list[str]) -> int:
    """The successes of the console's last progress line."""
    found = [re.search(r"successes=(\d+)", line) for line in lines]
    return [int(f[1]) for f in found if f][-1]


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_barrier_spread_live_totals_merge_and_statsd_index(scenario: Path, tmp_path: Path) -> None:
    """Agent 1's setup_session sleeps: no request reaches the target before the one start;
    the first requests of every agent come close together; the live totals and the report
    equal what the target saw, and the report is moloreport of the agents' own. Each agent's
    StatsD metrics carry its index in the coordinator's list as ``{index}``, whatever the
    agent's environment says (a Kubernetes ``JOB_COMPLETION_INDEX``, here in reverse)."""
    env = {i: {"JOB_COMPLETION_INDEX": str(2 - i)} for i in range(3)}
    env[1]["SETUP_SLEEP"] = "1.5"
    with (
        target() as hits,
        statsd_listener() as statsd,
        agents(3, scenario, target=hits.url, env=env) as fleet,
    ):
        run = coordinator(
            scenario,
            [a.url for a in fleet],
            "-p",
            "2",
            "-w",
            "2",
            "-d",
            "2.5",
            "--report",
            "r.json",
            "--statsd",
            "--statsd-address",
            statsd.address,
            "--statsd-prefix",
            "lt.{index}",
            target=hits.url,
        )
        assert run.wait(60) == 0, run.text
        codes = [a.proc.wait(20) for a in fleet]
        lines = statsd.lines()
    assert codes == [0, 0, 0]
    sent = {agent: len(times) for agent, times in hits.by_agent().items()}
    assert {i: total(lines, f"lt.{i}.requests") for i in range(3)} == {
        i: sent[str(i)] for i in range(3)
    }
    doc = json.loads((tmp_path / "r.json").read_text())
    section = doc.pop("cluster")
    start = _epoch(section["start_at"])
    assert hits.stamps and min(at for at, _ in hits.stamps) >= start - 0.005
    firsts = {agent: min(times) for agent, times in hits.by_agent().items()}
    assert set(firsts) == {"0", "1", "2"}
    spread = max(firsts.values()) - min(firsts.values())
    print(f"start spread at the target: {spread * 1000:.1f} ms")
    assert spread < 0.2
    assert section["reported"] == 3 and section["lost"] == []
    assert doc["totals"]["requests"] == len(hits.stamps) == doc["successes"]
    # Live totals (the console's, summed from cumulative snapshots) never count twice.
    assert 0 < _progress_successes(run.out) <= len(hits.stamps)
    assert closing("\n".join(run.out)) == (len(hits.stamps), 0)
    assert any(
        re.fullmatch(r"Cluster: 3 of 3 agent\(s\) reported; first steps within [\d.]+ ms", line)
        for line in run.out
    )
    for index, agent in enumerate(fleet):
        assert f"global_setup agent {index} of 3" in agent.proc.out
        (tmp_path / f"a{index}.json").write_text(agent.proc.out[-1])
    merged = moloreport("a0.json", "a1.json", "a2.json", "--report", "m.json", cwd=tmp_path)
    assert merged.returncode == 0, merged.stderr
    assert json.loads((tmp_path / "m.json").read_text()) == doc


def test_open_model_arrivals_evenly_spaced_across_agents(scenario: Path) -> None:
    """--rate is the cluster's: 2 agents x 2 processes share one schedule of 200/s."""
    with target() as hits, agents(2, scenario, target=hits.url) as fleet:
        run = coordinator(
            scenario,
            [a.url for a in fleet],
            "-p",
            "2",
            "-w",
            "4",
            "--rate",
            "200",
            "--iterations",
            "200",
            "-d",
            "3",
            target=hits.url,
        )
        assert run.wait(60) == 0, run.text
    per_agent = {agent: len(times) for agent, times in hits.by_agent().items()}
    assert per_agent == {"0": 100, "1": 100}
    times = sorted(at for at, _ in hits.stamps)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # Evenly spaced: 5 ms apart, not 2 bursts of 2 arrivals at once (arrivals from the
    # agents interleave: in order, the agents take turns by pairs of processes).
    assert 0.004 < statistics.median(gaps) < 0.006
    senders = [agent for _, agent in sorted(hits.stamps)]
    switches = sum(1 for a, b in itertools.pairwise(senders) if a != b)
    assert switches > 60


def test_agent_stopped_is_stale_then_recovers_and_killed_one_is_lost(
    scenario: Path, tmp_path: Path
) -> None:
    """SIGSTOP of agent 1: shown stale, the run goes on, SIGCONT recovers it; SIGKILL of
    agent 2: named, its last numbers kept, exit 3."""
    with target() as hits, agents(3, scenario, target=hits.url) as fleet:
        run = coordinator(
            scenario,
            [a.url for a in fleet],
            "-w",
            "1",
            "--delay",
            "0.01",
            "-d",
            "6",
            "--report",
            "r.json",
            target=hits.url,
        )
        run.wait_line(r"agents: 3 running")
        time.sleep(1)
        fleet[1].proc.signal(signal.SIGSTOP)
        fleet[2].proc.signal(signal.SIGKILL)
        run.wait_line(rf"stale \d+s \(.*{re.escape(fleet[1].url)}")
        time.sleep(1)
        fleet[1].proc.signal(signal.SIGCONT)
        assert run.wait(60) == 3, run.text
    assert any(f"agent {fleet[2].url} lost" in line for line in run.err), run.text
    section = json.loads((tmp_path / "r.json").read_text())["cluster"]
    assert [lost["name"] for lost in section["lost"]] == [fleet[2].url]
    assert section["reported"] == 2
    doc = json.loads((tmp_path / "r.json").read_text())
    # The killed agent's last snapshot stays in: at most its last second is missing.
    assert 0 < len(hits.stamps) - doc["totals"]["requests"] < len(hits.stamps) / 6


def test_an_agent_never_ready_aborts_naming_it(scenario: Path, tmp_path: Path) -> None:
    with (
        target() as hits,
        agents(2, scenario, target=hits.url, env={1: {"SETUP_SLEEP": "30"}}) as fleet,
    ):
        run = coordinator(
            scenario,
            [a.url for a in fleet],
            "-d",
            "1",
            "--ready-timeout",
            "2",
            "--graceful-stop",
            "0",
            target=hits.url,
        )
        assert run.wait(60) == 4, run.text
        assert (
            f"agent {fleet[1].url} not ready: still preparing after --ready-timeout 2s" in run.err
        )
        assert not any(fleet[0].url in line for line in run.err)
        assert hits.stamps == []  # no load at all
        assert fleet[0].proc.wait(20) == 0  # released


def test_an_unreachable_agent_aborts_naming_it(scenario: Path) -> None:
    run = coordinator(scenario, ["http://127.0.0.9:9"], "--ready-timeout", "1")
    assert run.wait(30) == 4, run.text
    assert any("agent http://127.0.0.9:9 not ready" in line for line in run.err), run.text


def test_coordinator_killed_agents_stop_by_their_deadman(scenario: Path) -> None:
    with target() as hits, agents(2, scenario, "--agent-deadman", "2", target=hits.url) as fleet:
        run = coordinator(
            scenario, [a.url for a in fleet], "--delay", "0.01", "-d", "60", target=hits.url
        )
        run.wait_line(r"agents: 2 running")
        run.signal(signal.SIGKILL)
        killed = time.monotonic()
        codes = [a.proc.wait(20) for a in fleet]
        took = time.monotonic() - killed
    assert codes == [0, 0]
    assert took < 2 + 10 + 5  # the dead-man's time, --graceful-stop, slack
    for agent in fleet:
        report = agent.report()
        assert report["totals"]["steps"] > 0 and report["stop_reason"] == "signal"
        assert "--agent-deadman" in "\n".join(agent.proc.err)


@pytest.mark.parametrize("presses", [1, 2, 3])
def test_ctrl_c(scenario: Path, tmp_path: Path, presses: int) -> None:
    """Once: stop all, collect, merge, report (exit 0); twice: release now, no report;
    three times: exit at once (the agents stop by their dead-man's switch)."""
    with target() as hits, agents(2, scenario, "--agent-deadman", "2", target=hits.url) as fleet:
        run = coordinator(
            scenario,
            [a.url for a in fleet],
            "--delay",
            "0.05",
            "-d",
            "60",
            "--graceful-stop",
            "5",
            "--report",
            "r.json",
            target=hits.url,
        )
        run.wait_line(r"agents: 2 running")
        deadline = time.monotonic() + 10
        while not hits.stamps:  # the load has begun
            assert time.monotonic() < deadline
            time.sleep(0.02)
        if presses > 1:
            # Agent 1 stopped (SIGSTOP): the stop cannot complete, so the second Ctrl-C
            # releases now, and that release hangs: the third one does not wait for it.
            fleet[1].proc.signal(signal.SIGSTOP)
        for press in range(presses):
            run.signal(signal.SIGINT)
            if press == 1:
                run.wait_line("Releasing every agent now")
            time.sleep(0.2)
        code = run.wait(30)
        fleet[1].proc.signal(signal.SIGCONT)
        agent_codes = [a.proc.wait(20) for a in fleet]
    assert agent_codes == [0, 0]
    report = tmp_path / "r.json"
    if presses == 1:
        assert code == 0, run.text
        doc = json.loads(report.read_text())
        assert doc["totals"]["requests"] == len(hits.stamps) > 0
        assert doc["duration_s"] < 30
    else:
        assert code == 1, run.text
        assert not report.exists()
        wanted = "Releasing every agent now" if presses == 2 else "Exiting at once"
        assert any(wanted in line for line in run.err), run.text


def _call(
    agent: Agent, method: str, path: str, body: dict | None = None, token: str | None = TOKEN
) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(agent.url + path, data=data, method=method)
    if token is not None:
        request.add_header("X-Molotov-Token", token)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_token_and_late_start_refused(scenario: Path) -> None:
    """401 without the token or with a wrong one (ready needs none); a start instant already
    past is refused with 409, and one ahead is taken."""
    with target() as hits, agents(1, scenario, target=hits.url) as (agent,):
        assert _call(agent, "GET", "/v1/ready", token=None) == (200, {"ready": True})
        assert _call(agent, "GET", "/v1/status", token=None)[0] == 401
        assert _call(agent, "GET", "/v1/status", token="wrong")[0] == 401
        assert _call(agent, "POST", "/v1/release", {}, token="wrong")[0] == 401
        run = coordinator(scenario, [agent.url], "-d", "1", MOLOTOV_AGENT_TOKEN="wrong")
        assert run.wait(30) == 4 and "HTTP 401" in run.text, run.text
        options = {"workers": 1, "duration": 1}
        body = {"run_id": "t", "options": options, "index": 0, "count": 1}
        assert _call(agent, "POST", "/v1/prepare", body)[0] == 202
        deadline = time.monotonic() + 20
        while _call(agent, "GET", "/v1/status")[1]["state"] != "held":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        status, answer = _call(agent, "POST", "/v1/start", {"at": time.time() - 1})
        assert status == 409 and "too late" in answer["error"]
        assert hits.stamps == []
        assert _call(agent, "POST", "/v1/start", {"at": time.time() + 0.3})[0] == 200
        assert _call(agent, "GET", "/v1/report")[0] == 409  # not finished yet
        while _call(agent, "GET", "/v1/status")[1]["state"] != "finished":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        report = _call(agent, "GET", "/v1/report")[1]
        assert report["totals"]["requests"] == len(hits.stamps) > 0
        # The live view's numbers (a snapshot on the wire, summed as the coordinator does)
        # are the final ones once the agent has finished.
        view = AgentView(0, None)  # type: ignore[arg-type]
        view.snapshot = snapshot_from_wire(_call(agent, "GET", "/v1/snapshot")[1]["snapshot"])
        totals = live_totals([view, view])
        assert totals.requests == 2 * len(hits.stamps)
        assert totals.durations.count == 2 * report["scenario_durations"]["count"]
        assert _call(agent, "POST", "/v1/release", {})[0] == 200
        assert agent.proc.wait(20) == 0
        assert json.loads(agent.proc.out[-1]) == report


if sys.platform != "linux":  # 127.0.0.2 and up answer on Linux's loopback only
    pytestmark = pytest.mark.skip("needs the whole 127.0.0.0/8 on the loopback")


def test_closed_model_stages_are_cluster_totals(scenario: Path, tmp_path: Path) -> None:
    """--stages in the closed model: 6 workers for the whole cluster, shared by the 4
    processes of 2 agents (2, 2, 1, 1), not 6 per agent."""
    with target() as hits, agents(2, scenario, target=hits.url) as fleet:
        run = coordinator(
            scenario,
            [a.url for a in fleet],
            "-p",
            "2",
            "--stages",
            "1s:6",
            "--delay",
            "0.05",
            "--report",
            "r.json",
            target=hits.url,
        )
        assert run.wait(60) == 0, run.text
        reports = [agent.report() for agent in fleet if agent.proc.wait(20) == 0]
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["totals"]["workers_started"] == 6
    assert [r["totals"]["workers_started"] for r in reports] == [4, 2]
    assert doc["totals"]["requests"] == len(hits.stamps)


# The one worker process that creates the VICTIM file (agent 1's, below) exits at its third
# step, after two successful ones.
DYING = """
import os

from molotov import scenario

URL = os.environ["TARGET_URL"]
AGENT = os.environ["AGENT"]
VICTIM = os.environ.get("VICTIM")
STEPS = []


@scenario()
async def hit(session):
    if VICTIM and not STEPS:
        try:
            os.close(os.open(VICTIM, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            STEPS.append("victim")
        except FileExistsError:
            STEPS.append("survivor")
    STEPS.append("step")
    if STEPS[0] == "victim" and len(STEPS) == 4:
        os._exit(7)
    async with session.get(URL, headers={"X-Agent": AGENT}) as resp:
        assert resp.status == 200
"""


def test_a_worker_process_dead_in_an_agent_is_named_and_the_result_partial(
    tmp_path: Path,
) -> None:
    """One of agent 1's two worker processes exits mid-run: the agent goes on and reports it,
    and the coordinator names the agent and the process in its summary and the report's
    ``cluster`` section, counts the process's numbers until then, and exits 3 (partial)."""
    scenario = tmp_path / "loadtest.py"
    scenario.write_text(DYING)
    env = {1: {"VICTIM": str(tmp_path / "victim")}}
    with target() as hits, agents(2, scenario, target=hits.url, env=env) as fleet:
        run = coordinator(
            scenario,
            [a.url for a in fleet],
            "-p",
            "2",
            "--delay",
            "0.05",
            "-d",
            "1.5",
            "--report",
            "r.json",
            target=hits.url,
        )
        assert run.wait(60) == 3, run.text
        assert [a.proc.wait(20) for a in fleet] == [0, 0]
    died = fleet[1].proc.wait_line(r"^worker process [01] exited with code 7; the others go on")
    line = died.removesuffix("; the others go on")
    assert fleet[1].report()["lost_processes"] == [line]
    assert fleet[0].report()["lost_processes"] == []
    assert f"agent {fleet[1].url}: {line} (its numbers until then are counted)" in run.err
    summary = f"Cluster: 2 of 2 agent(s) reported, 1 worker process(es) lost in {fleet[1].url};"
    assert any(out.startswith(summary) for out in run.out), run.text
    doc = json.loads((tmp_path / "r.json").read_text())
    section = doc["cluster"]
    assert section["lost_processes"] == [{"name": fleet[1].url, "why": line}]
    assert [a["lost_processes"] for a in section["agents"]] == [[], [line]]
    assert section["reported"] == 2 and section["lost"] == []
    assert doc["lost_processes"] == [line]
    # The dead process's two steps are in; the agent's other process went on.
    assert doc["totals"]["requests"] == len(hits.stamps) == doc["successes"]
    assert len(hits.by_agent()["1"]) > 2
    # The merge is moloreport's, lost processes included.
    for index, agent in enumerate(fleet):
        (tmp_path / f"a{index}.json").write_text(agent.proc.out[-1])
    merged = moloreport("a0.json", "a1.json", "--report", "m.json", cwd=tmp_path)
    assert merged.returncode == 0, merged.stderr
    del doc["cluster"]
    assert json.loads((tmp_path / "m.json").read_text()) == doc


# Each request says which agent and which worker sent it; the first worker of agent 1 sets up
# slowly, so the other agent holds (set up, waiting) until the start.
RAMPING = """
import asyncio
import os

from molotov import get_context, scenario, setup_session

URL = os.environ["TARGET_URL"]
AGENT = os.environ["AGENT"]


@setup_session()
async def slow_first_setup(wid, session):
    if wid == 0:
        await asyncio.sleep(float(os.environ.get("SETUP_SLEEP", "0")))


@scenario()
async def hit(session):
    sender = f"{AGENT}/{get_context(session).worker_id}"
    async with session.get(URL, headers={"X-Agent": sender}) as resp:
        assert resp.status == 200
"""


def test_closed_model_ramp_up_starts_at_the_one_start(tmp_path: Path) -> None:
    """--ramp-up 1.5 over 3 workers, agent 1's first setup 1 s long: no request before the
    start instant, and worker w of every agent starts w * 0.5 s after it, not after its own
    agent's prepare (agent 0 was held, set up, for most of that second)."""
    scenario = tmp_path / "loadtest.py"
    scenario.write_text(RAMPING)
    with (
        target() as hits,
        agents(2, scenario, target=hits.url, env={1: {"SETUP_SLEEP": "1"}}) as fleet,
    ):
        run = coordinator(
            scenario,
            [a.url for a in fleet],
            "-w",
            "3",
            "--ramp-up",
            "1.5",
            "-d",
            "1",
            "--delay",
            "0.05",
            "--report",
            "r.json",
            target=hits.url,
        )
        assert run.wait(60) == 0, run.text
    doc = json.loads((tmp_path / "r.json").read_text())
    start = _epoch(doc["cluster"]["start_at"])
    firsts = {sender: min(times) for sender, times in hits.by_agent().items()}
    assert set(firsts) == {f"{agent}/{worker}" for agent in "01" for worker in "012"}
    for sender, first in sorted(firsts.items()):
        worker = int(sender.split("/")[1])
        print(f"{sender}: first request {first - start:+.3f}s from the start")
        assert first >= start + worker * 0.5 - 0.005, sender
    assert doc["totals"]["workers_started"] == 6
    assert doc["totals"]["requests"] == len(hits.stamps)


def test_merged_thresholds_that_fail_exit_99_with_the_verdict_last(scenario: Path) -> None:
    """The coordinator judges the merge as a local run is judged: a failed threshold is 99,
    said after the summary."""
    with target() as hits, agents(2, scenario, target=hits.url) as fleet:
        run = coordinator(
            scenario, [a.url for a in fleet], "-r", "2", "--threshold", "p99<1us",
            "--threshold", "failures<1", target=hits.url,
        )  # fmt: skip
        assert run.wait(60) == 99, run.text
    assert closing("\n".join(run.out)) == (4, 0)
    assert run.err[-1] == "threshold(s) failed: p99<1us", run.text


def test_an_unwritable_report_stops_the_coordinator_before_any_agent_works(
    scenario: Path, tmp_path: Path
) -> None:
    """The coordinator writes the merged files: their destinations are checked first."""
    (tmp_path / "file").write_text("")
    with target() as hits, agents(1, scenario, target=hits.url) as fleet:
        run = coordinator(
            scenario, [a.url for a in fleet], "-r", "2", "--csv", "file/run", target=hits.url
        )
        assert run.wait(60) == 2, run.text
        assert fleet[0].proc.popen.poll() is None  # never prepared: still waiting for a run
    assert run.out == []
    assert run.err == [
        f"--csv 'file/run': cannot write there ('file/run_stats.csv'): '{tmp_path}/file' is a "
        "file, not a folder"
    ]
    assert hits.stamps == []


def test_a_stop_signal_to_an_agent_prints_its_report_at_once(scenario: Path) -> None:
    """A pod deleted (or its Job's deadline) sends SIGTERM, then SIGKILL after its grace period:
    the agent stops its run and prints its report as the last line of its log at once, without
    waiting for a coordinator that may be gone (here, killed first)."""
    with target() as hits, agents(2, scenario, "--agent-deadman", "120", target=hits.url) as fleet:
        run = coordinator(
            scenario,
            [a.url for a in fleet],
            "--delay", "0.01", "-d", "2", "--graceful-stop", "1",
            target=hits.url,
        )  # fmt: skip
        run.wait_line(r"agents: 2 running")
        time.sleep(0.5)  # past the start instant: both agents send requests
        run.signal(signal.SIGKILL)
        fleet[0].proc.signal(signal.SIGTERM)  # during its run
        codes = [fleet[0].proc.wait(15)]
        time.sleep(3)  # agent 1's -d 2 is over
        fleet[1].proc.signal(signal.SIGTERM)  # its run over: waiting to be released
        codes.append(fleet[1].proc.wait(15))
    assert codes == [0, 0], [a.proc.text for a in fleet]
    for agent in fleet:
        report = agent.report()
        assert report["totals"]["steps"] > 0, agent.proc.text
