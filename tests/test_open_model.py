"""The open workload model (``--rate``) and stages, through the real CLI and the live target.

The target stamps every request it gets with ``time.monotonic()`` (the clock of the worker
processes too), so what is asserted about arrivals is what the server saw.
"""

from __future__ import annotations

import collections
import itertools
import json
import re
import signal
import statistics
import subprocess
import sys
import time

import pytest

from support import closing, moloreport, molotov_env, read_log, summary_table
from support import read_report as report

GET_ROOT = """
@molotov.scenario()
async def root(session):
    async with session.get(URL + "/") as resp:
        assert resp.status == 200
"""

SLOW = """
@molotov.scenario()
async def slow(session):
    async with session.get(URL + "/slow", params={"s": os.environ.get("SLOW", "1")}) as resp:
        assert resp.status == 200
"""


LOGGED_SETUP = """
@molotov.setup()
async def setup(worker_id, args):
    log(what="setup", wid=worker_id)
"""


def per_second(stamps: list[float]) -> list[int]:
    """Requests in each second from the first one."""
    first = stamps[0]
    counts = collections.Counter(int(at - first) for at in stamps)
    return [counts[i] for i in range(max(counts) + 1)]


def test_the_rate_is_what_the_server_sees(scenario_file, run_molotov, target, tmp_path):
    scenario_file(GET_ROOT)
    result = run_molotov("--rate", "50", "-d", "3", "-w", "5", "--report", "r.json", "loadtest.py")
    assert result.returncode == 0, result.stderr
    doc = report(tmp_path)
    # Arrival n is due at n/50 s: exactly 150 in 3 s, every one served.
    assert target.total == 150
    assert closing(result.stdout) == (150, 0)
    assert doc["model"] == "open"
    assert doc["totals"]["started"] == 150
    assert doc["totals"]["dropped"] == 0
    seconds = per_second(target.arrivals("/"))
    assert len(seconds) == 3, seconds
    assert all(abs(n - 50) <= 4 for n in seconds), seconds
    # Service and response times: one histogram each, the response time the longer one.
    for key in ("scenario_durations", "scenario_response_times", "start_lateness"):
        assert doc[key]["count"] == 150, key
    assert doc["scenario_response_times"]["sum_us"] >= doc["scenario_durations"]["sum_us"]
    assert doc["scenarios"]["root"]["response_times"]["count"] == 150
    # The series: the target next to what was achieved, summing to the totals.
    rows = doc["series"]
    assert sum(row["started"] for row in rows) == 150
    assert sum(row["response_times"]["count"] for row in rows) == 150
    assert sum(row["request_latency"]["count"] for row in rows) == 150
    assert {row["target"] for row in rows} == {50.0}
    assert "Arrivals: 150 | started: 150" in result.stdout
    assert re.search(r"\| start lateness p99: \S+, max: \S+$", result.stdout, re.M)
    times = summary_table(result.stdout, "Times (ms)")
    assert list(times) == [
        "step durations", "step durations/root", "response times", "response times/root",
        "start lateness", "request latency",
    ]  # fmt: skip
    assert float(times["response times"]["max"]) >= float(times["step durations"]["max"])


def test_processes_share_one_clock_with_phase_offsets(scenario_file, run_molotov, target):
    scenario_file(GET_ROOT)
    result = run_molotov("--rate", "40", "-d", "2", "-p", "2", "-w", "3", "loadtest.py")
    assert result.returncode == 0, result.stderr
    assert target.total == 80
    stamps = target.arrivals("/")
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    # Evenly spaced merged arrivals (25 ms apart), not two processes' bursts of two.
    assert statistics.median(gaps) == pytest.approx(0.025, abs=0.005)
    bunched = sum(gap < 0.006 for gap in gaps)
    assert bunched <= len(gaps) // 10, sorted(gaps)[:20]


def test_arrivals_without_a_free_worker_are_dropped_and_counted(
    scenario_file, run_molotov, target, tmp_path
):
    scenario_file(SLOW + LOGGED_SETUP)
    result = run_molotov(
        "--rate", "20", "--iterations", "20", "-w", "1", "--max-workers", "2",
        "--max-lag", "0.1", "--report", "r.json", "--threshold", "dropped<1", "loadtest.py",
        SLOW="1",
    )  # fmt: skip
    doc = report(tmp_path)
    totals = doc["totals"]
    # Two workers, each busy for a second: of 20 arrivals in a second, a few started.
    assert 2 <= totals["started"] <= 5
    assert totals["started"] + totals["dropped"] == 20
    assert target.hits["/slow"] == totals["started"] == totals["steps"]
    assert totals["workers_started"] == 2
    assert [r["wid"] for r in read_log(tmp_path)] == [0, 1]
    assert sum(row["dropped"] for row in doc["series"]) == totals["dropped"]
    # The generator, not the target, was the limit: said in words, and the gate fails.
    dropped = totals["dropped"]
    assert f"{dropped:,} arrivals dropped: all 2 workers busy" in result.stdout
    assert "raise --max-workers" in result.stdout
    assert result.returncode == 99
    assert "threshold(s) failed: dropped<1" in result.stderr
    # Response times count the wait: the last arrivals waited for a worker.
    assert doc["scenario_response_times"]["max_us"] > doc["scenario_durations"]["max_us"]


def test_the_pool_grows_up_to_max_workers(scenario_file, run_molotov, target, tmp_path):
    scenario_file(SLOW + LOGGED_SETUP)
    result = run_molotov(
        "--rate", "40", "-d", "1.5", "-w", "1", "--max-workers", "6", "--report", "r.json",
        "loadtest.py", SLOW="0.1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    totals = report(tmp_path)["totals"]
    # 40 steps a second of 100 ms each: about 4 busy at once; never more than 6.
    setups = [r["wid"] for r in read_log(tmp_path)]
    assert setups == list(range(len(setups)))
    assert 3 <= len(setups) <= 6
    assert totals["workers_started"] == len(setups)
    assert totals["started"] + totals["dropped"] == 60
    assert totals["dropped"] <= 3


def test_open_stages_ramp_the_rate(scenario_file, run_molotov, target, tmp_path):
    scenario_file(GET_ROOT)
    started = time.monotonic()
    result = run_molotov(
        "--stages", "1s:40/s,1s:40/s,1s:0", "-w", "4", "--report", "r.json", "loadtest.py"
    )
    assert result.returncode == 0, result.stderr
    # Up to 40/s over 1 s, 1 s at 40/s, down to 0 over 1 s: 20 + 40 + 20 arrivals.
    assert target.total == 80
    seconds = per_second(target.arrivals("/"))
    assert len(seconds) == 3
    assert all(abs(n - want) <= 5 for n, want in zip(seconds, (20, 40, 20), strict=True)), seconds
    # The run ends with its last stage.
    assert time.monotonic() - started < 15
    doc = report(tmp_path)
    assert doc["stop_reason"] == "duration"
    targets = [row["target"] for row in doc["series"]]
    assert max(targets) <= 40
    assert min(targets) >= 0
    assert doc["options"]["stages"] == [
        {"duration": 1.0, "target": 40.0},
        {"duration": 1.0, "target": 40.0},
        {"duration": 1.0, "target": 0.0},
    ]


def test_closed_stages_start_and_park_workers(scenario_file, run_molotov, target, tmp_path):
    scenario_file(
        """
@molotov.scenario()
async def paced(session):
    ctx = molotov.get_context(session)
    log(wid=ctx.worker_id, t=time.monotonic())
    async with session.get(URL + "/slow", params={"s": "0.02"}) as resp:
        assert resp.status == 200
"""
    )
    result = run_molotov("--stages", "1s:4,1s:4,1s:0", "--report", "r.json", "loadtest.py")
    assert result.returncode == 0, result.stderr
    steps = read_log(tmp_path)
    first = min(s["t"] for s in steps)
    by_worker: dict[int, list[float]] = collections.defaultdict(list)
    for s in steps:
        by_worker[s["wid"]].append(s["t"] - first)
    assert sorted(by_worker) == [0, 1, 2, 3]
    starts = [min(by_worker[w]) for w in range(4)]
    ends = [max(by_worker[w]) for w in range(4)]
    # From -w 1 up to 4 over the first second: worker k joins when the target reaches k + 1.
    assert starts == sorted(starts), starts
    for wid, expected in enumerate((0.0, 0.17, 0.5, 0.83)):
        assert starts[wid] == pytest.approx(expected, abs=0.25), starts
    # Down to 0 over the last second: the highest worker parks first.
    assert ends == sorted(ends, reverse=True), ends
    for wid, expected in enumerate((2.88, 2.63, 2.38, 2.13)):
        assert ends[wid] == pytest.approx(expected, abs=0.25), ends
    doc = report(tmp_path)
    workers = [row["workers"] for row in doc["series"]]
    assert max(workers) == 4
    assert max(row["target"] for row in doc["series"]) == pytest.approx(4, abs=0.5)
    assert doc["model"] == "closed"


def test_reports_of_open_runs_merge_exactly(scenario_file, run_molotov, target, tmp_path):
    scenario_file(SLOW)
    for name in ("a.json", "b.json"):
        result = run_molotov(
            "--rate", "30", "--iterations", "15", "-w", "2", "--max-lag", "0.05",
            "--report", name, "loadtest.py", SLOW="0.1",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
    merged = moloreport(
        "a.json", "b.json", "--report", "m.json", "--threshold", "response_p99<60s",
        "--threshold", "dropped<1000", cwd=tmp_path,
    )  # fmt: skip
    assert merged.returncode == 0, merged.stderr
    a, b, m = (report(tmp_path, name) for name in ("a.json", "b.json", "m.json"))
    for key in ("started", "dropped", "steps"):
        assert m["totals"][key] == a["totals"][key] + b["totals"][key], key
    assert m["totals"]["started"] + m["totals"]["dropped"] == 30
    for key in ("scenario_response_times", "start_lateness", "scenario_durations"):
        expected = collections.Counter(dict(map(tuple, a[key]["buckets"])))
        expected.update(dict(map(tuple, b[key]["buckets"])))
        assert dict(map(tuple, m[key]["buckets"])) == dict(expected), key
        assert m[key]["count"] == a[key]["count"] + b[key]["count"]
    responses = m["scenarios"]["slow"]["response_times"]
    assert responses["count"] == m["totals"]["started"]
    assert "Arrivals: 30 |" in merged.stdout


def test_thresholds_on_response_times(scenario_file, run_molotov, target):
    scenario_file(SLOW)
    common = ("--rate", "20", "--iterations", "6", "-w", "2", "loadtest.py")
    passed = run_molotov(
        "--threshold", "response_p99<60s", "--threshold", "slow:response_mean<60s",
        "--threshold", "dropped<=0", *common, SLOW="0.05",
    )  # fmt: skip
    assert passed.returncode == 0, passed.stderr
    failed = run_molotov("--threshold", "response_p50<1us", *common, SLOW="0.05")
    assert failed.returncode == 99
    assert re.search(r"response_p50<1us\s+\S+ms\s+FAIL", failed.stdout), failed.stdout
    closed = run_molotov("--threshold", "response_p99<1s", "-r", "1", "loadtest.py")
    assert closed.returncode == 2
    assert "response times are measured in the open model" in closed.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rate", "0"], "rate must be positive"),
        (["--rate", "-1"], "not a rate: '-1'"),
        (["--rate", "fast"], "not a rate: 'fast'"),
        (["--stages", "garbage"], "not a stage: 'garbage'"),
        (["--stages", "5s:x"], "not a rate: 'x'"),
        (["--rate", "10", "--delay", "1"], "--delay does not apply to the open model"),
        (["--rate", "10", "-w", "5", "--max-workers", "2"], "--max-workers 2 is below -w 5"),
        (["--rate", "10", "--ramp-up", "2"], "--ramp-up does not apply to the open model"),
        (["--rate", "10", "--arrivals", "bursty"], "arrivals must be one of constant, poisson"),
        (["--rate", "10", "--max-lag", "0"], "max_lag must be above 0"),
        (["--iterations", "5"], "--iterations is an option of the open model"),
        (["--stages", "2s:1.5"], "a target is a number of workers"),
        (["--stages", "2s:5", "--ramp-up", "1"], "--ramp-up and --stages"),
    ],
)
def test_bad_open_model_options_are_usage_errors(run_molotov, target, args, message):
    result = run_molotov(*args, "loadtest.py")
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert target.total == 0


def test_open_model_from_molotov_json_and_the_environment(
    scenario_file, run_molotov, target, tmp_path
):
    scenario_file(GET_ROOT)
    (tmp_path / "molotov.json").write_text(
        json.dumps(
            {"molotov": {"tests": {
                "rated": {"rate": "1200/m", "duration": "1s", "workers": 2},
                "staged": {"stages": [{"duration": "1s", "target": "20/s"}], "workers": 2},
            }}}
        )
    )  # fmt: skip
    rated = run_molotov("--config", "molotov.json", "rated")
    assert rated.returncode == 0, rated.stderr
    assert target.total == 20
    target.reset()
    staged = run_molotov("--config", "molotov.json", "staged")
    assert staged.returncode == 0, staged.stderr
    assert target.total == 10  # from 0 to 20/s over 1 s
    target.reset()
    env = run_molotov("-d", "1", "loadtest.py", MOLOTOV_RATE="15")
    assert env.returncode == 0, env.stderr
    assert target.total == 15


def test_max_runs_and_poisson_arrivals(scenario_file, run_molotov, target):
    scenario_file(GET_ROOT)
    # -r keeps its meaning: P x W x N steps in all (here as many arrivals).
    result = run_molotov("--rate", "200", "-r", "3", "-w", "2", "-p", "2", "loadtest.py")
    assert result.returncode == 0, result.stderr
    assert target.total == 12
    counts = []
    for _ in range(2):
        target.reset()
        poisson = ("--rate", "100", "-d", "1", "--arrivals", "poisson", "--seed", "5", "-w", "3")
        result = run_molotov(*poisson, "loadtest.py")
        assert result.returncode == 0, result.stderr
        counts.append(target.total)
    assert counts[0] == counts[1]  # the same seed, the same arrivals
    assert 60 <= counts[0] <= 140


def test_stop_conditions_in_the_open_model(scenario_file, run_molotov, target, tmp_path):
    scenario_file(
        """
@molotov.scenario()
async def broken(session):
    async with session.get(URL + "/") as resp:
        assert resp.status == 500
"""
    )
    stopped = run_molotov("--rate", "50", "-d", "10", "-x", "--report", "x.json", "loadtest.py")
    assert stopped.returncode == 1
    assert report(tmp_path, "x.json")["stop_reason"] == "exception"
    failed = run_molotov("--rate", "50", "-d", "10", "-f", "3", "--report", "f.json", "loadtest.py")
    assert failed.returncode == 1
    doc = report(tmp_path, "f.json")
    assert doc["stop_reason"] == "fail"
    assert doc["duration_s"] < 5


def test_step_timeout_in_the_open_model(scenario_file, run_molotov, target, tmp_path):
    scenario_file(SLOW)
    result = run_molotov(
        "--rate", "5", "--iterations", "3", "-w", "3", "--step-timeout", "0.3",
        "--report", "r.json", "loadtest.py", SLOW="5",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    doc = report(tmp_path)
    assert doc["totals"]["failures"] == 3
    assert [e["message"] for e in doc["errors"]] == [
        "StepTimeout: the step ran over 0.3s and was cancelled"
    ]


def test_sigint_stops_an_open_run_gracefully(scenario_file, target, tmp_path):
    scenario_file(GET_ROOT)
    process = subprocess.Popen(
        [sys.executable, "-m", "molotov", "--rate", "30", "-w", "2", "--report", "r.json",
         "loadtest.py"],
        cwd=tmp_path, env=molotov_env(target.url), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while target.total < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    doc = report(tmp_path)
    assert doc["stop_reason"] == "signal"
    assert doc["totals"]["started"] == target.total
    assert closing(stdout) == (target.total, 0)


SLOW_SESSION_SETUP = """
@molotov.setup_session()
async def slow_setup(worker_id, session):
    await asyncio.sleep(1.0)
"""


def test_the_run_starts_once_the_first_workers_are_set_up(scenario_file, run_molotov, target):
    """The start instant comes after the setups, not before them: no arrival is due while the
    workers are still setting up, so none starts a second late (or is dropped for it)."""
    scenario_file("import asyncio\n" + SLOW_SESSION_SETUP + GET_ROOT)
    result = run_molotov("--rate", "20", "-d", "1.5", "-w", "2", "loadtest.py")
    assert result.returncode == 0, result.stderr
    assert target.total == 30
    assert "Arrivals: 30 | started: 30" in result.stdout
    lateness = summary_table(result.stdout, "Times (ms)")["start lateness"]
    # Started before the setups, arrivals due during them would start ~1000 ms late.
    assert float(lateness["max"]) < 500, lateness


@pytest.mark.parametrize("count", [("--iterations", "40"), ("-r", "20", "-w", "2")])
def test_a_counted_run_ends_with_its_last_arrival_within_d(
    scenario_file, run_molotov, target, tmp_path, count
):
    """-d bounds a counted run (--iterations, -r); it does not make it wait to its end."""
    scenario_file(GET_ROOT)
    args = ("--rate", "200", *count, "-d", "60", "--report", "r.json", "loadtest.py")
    result = run_molotov(*args, timeout=30)
    assert result.returncode == 0, result.stderr
    assert target.total == 40
    doc = report(tmp_path)
    assert doc["stop_reason"] == "finished"
    # 40 arrivals at 200/s take 0.2 s: the run's rate is the target's, not 40 over 60 s.
    assert doc["totals"]["steps"] == 40
    assert doc["totals"]["steps_per_s"] > 100, doc["duration_s"]


def test_drops_behind_a_target_that_never_answers_blame_the_target(
    scenario_file, run_molotov, target, tmp_path
):
    """Every step waits on the target until the stop cuts it: the arrivals were dropped
    because the target did not answer, and the summary says so (not 'raise --max-workers')."""
    scenario_file(SLOW)
    result = run_molotov(
        "--rate", "20", "-d", "1", "-w", "1", "--max-workers", "2", "--max-lag", "0.1",
        "--graceful-stop", "0.3", "--report", "r.json", "loadtest.py",
        SLOW="30",
    )  # fmt: skip
    totals = report(tmp_path)["totals"]
    assert totals["dropped"] > 0 and totals["successes"] == 0
    assert totals["failures"] == totals["steps"] == target.hits["/slow"] == 2
    assert "the target, not the load generator, was the limit" in result.stdout
    assert "raise --max-workers" not in result.stdout
