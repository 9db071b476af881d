"""The real ``molotov`` command against a live local target: counts, gates, pacing, modes.

Every run is bounded (a few steps or a second or two). Evidence from inside the forked worker
processes is collected through ``log.jsonl``, a file next to the scenario module.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest

from molotov import __version__
from support import read_log, run_on_a_terminal, summary_table

# Every scenario module starts with this: the target URL and a line-per-record log file.

GET_ROOT = """
@molotov.scenario()
async def get_root(session):
    async with session.get(URL + "/") as resp:
        assert resp.status == 200
"""


def summary(stdout: str) -> tuple[int, int]:
    """The (successes, failures) of the ``SUCCESSES: N | FAILURES: M`` closing line."""
    found = re.findall(r"^SUCCESSES: (\d+) \| FAILURES: (\d+)$", stdout, re.MULTILINE)
    assert len(found) == 1, stdout
    return int(found[0][0]), int(found[0][1])


def check_closing_lines(stdout: str, successes: int, failures: int) -> None:
    assert stdout.splitlines()[-3:] == [
        f"**** Molotov v{__version__}. Happy breaking! ****",
        f"SUCCESSES: {successes} | FAILURES: {failures}",
        "*** Bye ***",
    ]


# -- counts and the summary ----------------------------------------------------------------


def test_workers_times_runs_is_exact(scenario_file, run_molotov, target):
    scenario_file(GET_ROOT)
    result = run_molotov("-w", "3", "-r", "5", "loadtest.py")
    assert result.returncode == 0, result.stderr
    check_closing_lines(result.stdout, 15, 0)
    assert target.hits["/"] == 15
    assert target.total == 15
    # Counts, and times in ms, overall and for the scenario.
    steps = summary_table(result.stdout, "Steps")
    assert steps["all"] == steps["get_root"]
    assert steps["get_root"] | {"/s": ""} == {
        "count": "15",
        "failed": "0",
        "fail%": "0.0%",
        "/s": "",
    }
    times = summary_table(result.stdout, "Times (ms)")
    assert list(times) == ["step durations", "step durations/get_root", "request latency"]
    durations = [float(times["step durations/get_root"][c]) for c in ("min", "p50", "p99", "max")]
    assert 0 < durations[0] <= durations[1] <= durations[2] <= durations[3]
    assert "Workers started: 3" in result.stdout


def test_processes_times_workers_times_runs_is_exact(scenario_file, run_molotov, target):
    scenario_file(GET_ROOT)
    result = run_molotov("-p", "2", "-w", "3", "-r", "4", "loadtest.py")
    assert result.returncode == 0, result.stderr
    check_closing_lines(result.stdout, 24, 0)
    assert summary(result.stdout) == (24, 0)
    assert target.hits["/"] == 24
    assert target.total == 24
    assert "Workers started: 6" in result.stdout


# -- failures and gates -------------------------------------------------------------------


def test_assertion_error_is_a_failure_and_errors_are_aggregated(scenario_file, run_molotov, target):
    scenario_file(
        """
        @molotov.scenario()
        async def broken(session):
            async with session.get(URL + "/") as resp:
                assert resp.status == 404, "wrong status"
        """
    )
    result = run_molotov("-w", "2", "-r", "5", "loadtest.py")
    # Failures alone do not fail a run without a gate.
    assert result.returncode == 0, result.stderr
    check_closing_lines(result.stdout, 0, 10)
    assert target.hits["/"] == 10
    error_lines = [line for line in result.lines if "AssertionError: wrong status" in line]
    counted = [line for line in error_lines if re.search(r": \d+$", line)]
    assert len(counted) == 1, result.stdout
    assert counted[0] == "  broken: AssertionError: wrong status: 10"
    broken = summary_table(result.stdout, "Steps")["broken"]
    assert (broken["count"], broken["failed"], broken["fail%"]) == ("10", "10", "100.0%")


def test_unchecked_http_500_is_a_success(scenario_file, run_molotov, target):
    scenario_file(
        """
        @molotov.scenario()
        async def server_error(session):
            async with session.get(URL + "/status/500") as resp:
                await resp.text()
        """
    )
    result = run_molotov("-w", "2", "-r", "3", "loadtest.py")
    assert result.returncode == 0, result.stderr
    check_closing_lines(result.stdout, 6, 0)
    assert target.hits["/status/500"] == 6


def test_exception_flag_stops_at_the_first_failure(scenario_file, run_molotov, target):
    scenario_file(
        """
        @molotov.scenario()
        async def third_fails(session):
            step = molotov.get_context(session).step
            async with session.get(URL + "/") as resp:
                assert resp.status == 200
            assert step < 3, f"step {step}"
        """
    )
    result = run_molotov("-x", "-w", "1", "-r", "50", "loadtest.py")
    assert result.returncode == 1
    check_closing_lines(result.stdout, 2, 1)
    assert target.hits["/"] == 3
    assert "-x: stopped at the first failure" in result.stderr


FAILS_SLOWLY = """
@molotov.scenario()
async def always_fails(session):
    await asyncio.sleep(0.05)
    raise AssertionError("always")
"""


def test_fail_gate_stops_the_run_early_and_exits_1(scenario_file, run_molotov):
    scenario_file(FAILS_SLOWLY)
    # -d 30 would outlive the subprocess timeout: the run has to end on the failures.
    result = run_molotov("-w", "1", "-d", "30", "-f", "3", "loadtest.py", timeout=25)
    assert result.returncode == 1
    successes, failures = summary(result.stdout)
    assert successes == 0
    # One failure every 50 ms: a run that went on would have hundreds.
    assert 3 <= failures < 200, failures
    assert "--fail 3" in result.stderr


def test_fail_gate_with_quiet_prints_nothing_and_exits_1(scenario_file, run_molotov):
    scenario_file(FAILS_SLOWLY)
    result = run_molotov("-q", "-w", "1", "-d", "30", "--fail", "3", "loadtest.py", timeout=25)
    assert result.returncode == 1
    assert result.stdout == ""
    match = re.search(r"--fail 3: (\d+) failure", result.stderr)
    assert match, result.stderr
    assert 3 <= int(match.group(1)) < 200


def test_failures_below_the_fail_gate_exit_0(scenario_file, run_molotov):
    scenario_file(
        """
        @molotov.scenario()
        async def once(session):
            assert molotov.get_context(session).step != 1, "first"
        """
    )
    result = run_molotov("-w", "1", "-r", "3", "-f", "2", "loadtest.py")
    assert result.returncode == 0, result.stderr
    check_closing_lines(result.stdout, 2, 1)


# -- how long, how fast, which scenario -----------------------------------------------------


@pytest.mark.parametrize("duration", ["1", "1s"])
def test_duration_ends_the_run_by_itself(scenario_file, run_molotov, target, duration):
    scenario_file(
        """
        @molotov.scenario()
        async def paced(session):
            async with session.get(URL + "/") as resp:
                assert resp.status == 200
            await asyncio.sleep(0.05)
        """
    )
    result = run_molotov("-w", "2", "-d", duration, "loadtest.py", timeout=30)
    assert result.returncode == 0, result.stderr
    assert "for 1s" in result.lines[0]
    successes, failures = summary(result.stdout)
    assert failures == 0
    assert successes > 0
    assert target.hits["/"] == successes
    match = re.search(r"^Duration: (\d+\.\d+)s", result.stdout, re.MULTILINE)
    assert match
    assert float(match.group(1)) >= 1.0


def test_ramp_up_still_runs_every_worker(scenario_file, run_molotov, target, tmp_path):
    scenario_file(
        """
        @molotov.scenario()
        async def started(session):
            log(wid=molotov.get_context(session).worker_id, t=time.monotonic())
            async with session.get(URL + "/") as resp:
                assert resp.status == 200
        """
    )
    result = run_molotov("-w", "4", "--ramp-up", "1", "-r", "1", "loadtest.py")
    assert result.returncode == 0, result.stderr
    check_closing_lines(result.stdout, 4, 0)
    assert target.hits["/"] == 4
    starts = {record["wid"]: record["t"] for record in read_log(tmp_path)}
    assert sorted(starts) == [0, 1, 2, 3]
    # Worker i waits i * ramp_up / workers: the last one starts at least 0.75 s after the first.
    assert starts[3] - starts[0] >= 0.7


def step_times(tmp_path: Path) -> list[float]:
    return [record["t"] for record in read_log(tmp_path)]


def test_delay_flag_spaces_the_steps(scenario_file, run_molotov, tmp_path):
    scenario_file(
        """
        @molotov.scenario()
        async def stamped(session):
            log(t=time.monotonic())
        """
    )
    result = run_molotov("-w", "1", "-r", "3", "--delay", "0.3", "loadtest.py")
    assert result.returncode == 0, result.stderr
    check_closing_lines(result.stdout, 3, 0)
    times = step_times(tmp_path)
    assert len(times) == 3
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(gap >= 0.29 for gap in gaps), gaps


def test_scenario_delay_spaces_the_steps(scenario_file, run_molotov, tmp_path):
    scenario_file(
        """
        @molotov.scenario(delay=0.3)
        async def stamped(session):
            log(t=time.monotonic())
        """
    )
    result = run_molotov("-w", "1", "-r", "3", "loadtest.py")
    assert result.returncode == 0, result.stderr
    check_closing_lines(result.stdout, 3, 0)
    times = step_times(tmp_path)
    assert len(times) == 3
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(gap >= 0.29 for gap in gaps), gaps


TWO_SCENARIOS = """
@molotov.scenario()
async def alpha(session):
    async with session.get(URL + "/") as resp:
        assert resp.status == 200


@molotov.scenario()
async def beta(session):
    async with session.get(URL + "/data") as resp:
        assert resp.status == 200
"""


def test_single_mode_runs_only_that_scenario(scenario_file, run_molotov, target):
    scenario_file(TWO_SCENARIOS)
    result = run_molotov("-s", "beta", "-w", "2", "-r", "5", "loadtest.py")
    assert result.returncode == 0, result.stderr
    check_closing_lines(result.stdout, 10, 0)
    assert target.hits["/data"] == 10
    assert target.hits["/"] == 0
    assert summary_table(result.stdout, "Steps")["alpha"] == {
        "count": "0", "failed": "0", "fail%": "-", "/s": "0.0"
    }  # fmt: skip
    assert set(summary_table(result.stdout, "Times (ms)")["step durations/alpha"].values()) == {"-"}


def test_single_mode_unknown_scenario_exits_1(scenario_file, run_molotov, target):
    scenario_file(TWO_SCENARIOS)
    result = run_molotov("-s", "gamma", "-r", "1", "loadtest.py")
    assert result.returncode == 1
    assert "Can't find 'gamma'" in result.stderr
    assert target.total == 0


def test_single_run_runs_each_scenario_once_per_worker_in_name_order(
    scenario_file, run_molotov, tmp_path
):
    scenario_file(
        """
        async def record(session, name):
            log(wid=molotov.get_context(session).worker_id, name=name)


        @molotov.scenario(weight=1)
        async def charlie(session):
            await record(session, "charlie")


        @molotov.scenario(weight=100)
        async def alpha(session):
            await record(session, "alpha")


        @molotov.scenario(weight=5)
        async def bravo(session):
            await record(session, "bravo")
        """
    )
    result = run_molotov("--single-run", "-w", "2", "loadtest.py")
    assert result.returncode == 0, result.stderr
    check_closing_lines(result.stdout, 6, 0)
    by_worker: dict[int, list[str]] = {}
    for record in read_log(tmp_path):
        by_worker.setdefault(record["wid"], []).append(record["name"])
    assert by_worker == {0: ["alpha", "bravo", "charlie"], 1: ["alpha", "bravo", "charlie"]}


def test_scenario_picker_chooses_and_ignores_weights(scenario_file, run_molotov, tmp_path):
    scenario_file(
        """
        @molotov.scenario_picker()
        def pick(worker_id, step_id):
            log(wid=worker_id, step=step_id)
            return "rare" if step_id % 2 else "common"


        @molotov.scenario(weight=1)
        async def rare(session):
            async with session.get(URL + "/data") as resp:
                assert resp.status == 200


        @molotov.scenario(weight=1000)
        async def common(session):
            async with session.get(URL + "/") as resp:
                assert resp.status == 200
        """
    )
    result = run_molotov("-w", "2", "-r", "5", "loadtest.py")
    assert result.returncode == 0, result.stderr
    check_closing_lines(result.stdout, 10, 0)
    steps: dict[int, list[int]] = {}
    for record in read_log(tmp_path):
        steps.setdefault(record["wid"], []).append(record["step"])
    assert steps == {0: [1, 2, 3, 4, 5], 1: [1, 2, 3, 4, 5]}
    # Odd steps (3 of 5 per worker) are "rare" whatever its weight.
    steps_table = summary_table(result.stdout, "Steps")
    assert (steps_table["rare"]["count"], steps_table["rare"]["failed"]) == ("6", "0")
    assert (steps_table["common"]["count"], steps_table["common"]["failed"]) == ("4", "0")


def test_weights_are_roughly_respected(scenario_file, run_molotov, target):
    scenario_file(
        """
        @molotov.scenario(weight=9)
        async def heavy(session):
            async with session.get(URL + "/") as resp:
                assert resp.status == 200


        @molotov.scenario(weight=1)
        async def light(session):
            async with session.get(URL + "/data") as resp:
                assert resp.status == 200


        @molotov.scenario(weight=0)
        async def never(session):
            async with session.get(URL + "/status/418") as resp:
                assert resp.status == 418
        """
    )
    result = run_molotov("-w", "2", "-r", "100", "loadtest.py")
    assert result.returncode == 0, result.stderr
    check_closing_lines(result.stdout, 200, 0)
    assert target.hits["/status/418"] == 0
    assert target.hits["/"] + target.hits["/data"] == 200
    # Expected 180 / 20: far from a coin toss, and the light one still runs.
    assert target.hits["/"] > 2 * target.hits["/data"] > 0
    assert "never" not in result.stdout


# -- molotov.json -------------------------------------------------------------------------


def write_config(tmp_path: Path, tests: dict) -> None:
    (tmp_path / "molotov.json").write_text(json.dumps({"molotov": {"tests": tests}}))


def test_config_file_test_entry(scenario_file, run_molotov, target, tmp_path):
    scenario_file(GET_ROOT)
    write_config(tmp_path, {"smoke": {"scenario": "loadtest.py", "workers": 2, "max_runs": 3}})
    result = run_molotov("--config", "molotov.json", "smoke")
    assert result.returncode == 0, result.stderr
    check_closing_lines(result.stdout, 6, 0)
    assert target.hits["/"] == 6


def test_config_file_default_test_name(scenario_file, run_molotov, target, tmp_path):
    scenario_file(GET_ROOT)
    write_config(
        tmp_path,
        {
            "smoke": {"scenario": "loadtest.py", "workers": 5, "max_runs": 5},
            "test": {"scenario": "loadtest.py", "workers": 1, "max_runs": 4},
        },
    )
    result = run_molotov("--config", "molotov.json")
    assert result.returncode == 0, result.stderr
    check_closing_lines(result.stdout, 4, 0)
    assert target.hits["/"] == 4


def test_config_file_values_override_flags(scenario_file, run_molotov, target, tmp_path):
    scenario_file(GET_ROOT)
    write_config(tmp_path, {"smoke": {"scenario": "loadtest.py", "workers": 2, "max_runs": 3}})
    result = run_molotov("--config", "molotov.json", "-w", "5", "-r", "10", "smoke")
    assert result.returncode == 0, result.stderr
    check_closing_lines(result.stdout, 6, 0)
    assert target.hits["/"] == 6


@pytest.mark.parametrize("in_cwd", [True, False], ids=["cwd-first", "beside-the-config"])
def test_the_banner_names_the_scenario_file_that_was_loaded(
    scenario_file, run_molotov, target, tmp_path, in_cwd
):
    """A relative scenario of molotov.json is looked for in the working directory first: the
    banner says which file that was, by its absolute path."""
    suite = tmp_path / "suite"
    suite.mkdir()
    scenario_file(GET_ROOT, "suite/loadtest.py")
    if in_cwd:
        scenario_file(GET_ROOT)  # another loadtest.py, where molotov is typed
    tests = {"smoke": {"scenario": "loadtest.py", "max_runs": 1}}
    (suite / "molotov.json").write_text(json.dumps({"molotov": {"tests": tests}}))
    result = run_molotov("-c", "--config", "suite/molotov.json", "smoke")
    assert result.returncode == 0, result.stderr
    loaded = tmp_path / "loadtest.py" if in_cwd else suite / "loadtest.py"
    assert result.lines[0].startswith(f"Molotov: 1 scenario(s) from '{loaded}', "), result.lines


def test_the_banner_names_a_dotted_module_by_its_file(scenario_file, run_molotov, tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    scenario_file(GET_ROOT, "pkg/scenarios.py")
    result = run_molotov("-c", "-r", "1", "pkg.scenarios")
    assert result.returncode == 0, result.stderr
    where = tmp_path / "pkg" / "scenarios.py"
    assert result.lines[0].startswith(f"Molotov: 1 scenario(s) from '{where}', "), result.lines


# -- extensions ---------------------------------------------------------------------------

EXTENSION = """
@molotov.events()
async def on_event(event, **info):
    if event == "scenario_success":
        log(extension=EXTENSION_NAME, event=event, wid=info["wid"])
"""


def test_use_extension_is_loaded(scenario_file, run_molotov, tmp_path):
    scenario_file(GET_ROOT)
    scenario_file('EXTENSION_NAME = "ext"\n' + EXTENSION, "ext.py")
    result = run_molotov("-w", "2", "-r", "2", "loadtest.py", "--use-extension", "ext.py")
    assert result.returncode == 0, result.stderr
    check_closing_lines(result.stdout, 4, 0)
    records = read_log(tmp_path)
    assert len(records) == 4
    assert {record["extension"] for record in records} == {"ext"}
    assert sorted(record["wid"] for record in records) == [0, 0, 1, 1]


def test_use_extension_takes_several_values(scenario_file, run_molotov, tmp_path):
    scenario_file(GET_ROOT)
    scenario_file('EXTENSION_NAME = "a"\n' + EXTENSION, "ext_a.py")
    scenario_file('EXTENSION_NAME = "b"\n' + EXTENSION, "ext_b.py")
    result = run_molotov(
        "loadtest.py", "--use-extension", "ext_a.py", "ext_b.py", "-w", "1", "-r", "3"
    )
    assert result.returncode == 0, result.stderr
    check_closing_lines(result.stdout, 3, 0)
    # Molotov 2.x's notice, one per extension, before the run's banner.
    assert result.lines[:3] == [
        "Loading extension 'ext_a.py'",
        "Loading extension 'ext_b.py'",
        result.lines[2],
    ]
    assert result.lines[2].startswith("Molotov: 1 scenario(s)")
    names = [record["extension"] for record in read_log(tmp_path)]
    assert sorted(names) == ["a", "a", "a", "b", "b", "b"]


# -- console modes --------------------------------------------------------------------------


def test_plain_console_when_stdout_is_not_a_tty(scenario_file, run_molotov, tmp_path):
    scenario_file(GET_ROOT)
    result = run_molotov("-w", "1", "-r", "2", "loadtest.py")
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout  # no terminal control sequences
    assert result.lines[0].startswith(f"Molotov: 1 scenario(s) from '{tmp_path}/loadtest.py'")
    assert any(re.match(r"\[\d\d:\d\d\] ", line) for line in result.lines), result.stdout


def test_terminal_gets_a_live_view_and_the_same_closing_lines(scenario_file, target, tmp_path):
    scenario_file(GET_ROOT)
    code, output = run_on_a_terminal(tmp_path, target.url, "-w", "2", "-r", "3", "loadtest.py")
    assert code == 0, output
    assert "\x1b[" in output  # a live view draws with terminal control sequences
    assert "SUCCESSES" in output
    check_closing_lines(output, 6, 0)
    assert target.hits["/"] == 6


def test_the_live_view_shows_recent_rates_and_goes_away_before_the_summary(
    scenario_file, target, tmp_path
):
    scenario_file(
        """
        @molotov.scenario()
        async def paced(session):
            async with session.get(URL + "/") as resp:
                await resp.read()
            await asyncio.sleep(0.05)
        """
    )
    code, output = run_on_a_terminal(tmp_path, target.url, "-w", "2", "-d", "1.5", "loadtest.py")
    assert code == 0, output
    # Rates and percentiles over the last seconds, next to the whole run's.
    assert re.search(r"steps/s", output)
    assert re.search(r"last 5s: p50=\S+ p95=\S+ p99=\S+\s+run: p50=", output), output
    # The view is erased at the end: the summary's numbers are the only final ones.
    last_frame = output.rindex("last 5s:")
    summary = output.index("Duration: ")
    assert last_frame < summary
    assert "\x1b[2K" in output[last_frame:summary]  # the view's lines erased


def test_console_flag_gives_plain_lines_on_a_terminal(scenario_file, target, tmp_path):
    scenario_file(GET_ROOT)
    code, output = run_on_a_terminal(
        tmp_path, target.url, "-c", "-w", "1", "-r", "2", "loadtest.py"
    )
    assert code == 0, output
    assert "\x1b" not in output
    assert output.startswith(f"Molotov: 1 scenario(s) from '{tmp_path}/loadtest.py'")
    check_closing_lines(output, 2, 0)


def test_quiet_prints_nothing_at_all(scenario_file, run_molotov, target):
    scenario_file(GET_ROOT)
    result = run_molotov("-q", "-w", "2", "-r", "3", "loadtest.py")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert target.hits["/"] == 6


def test_verbose_shows_one_traceback_per_distinct_error(scenario_file, run_molotov):
    scenario_file(
        """
        @molotov.scenario()
        async def two_errors(session):
            if molotov.get_context(session).step % 2:
                raise ValueError("odd step")
            raise KeyError("even step")
        """
    )
    result = run_molotov("-v", "-p", "2", "-w", "2", "-r", "4", "loadtest.py")
    assert result.returncode == 0, result.stderr
    check_closing_lines(result.stdout, 0, 16)
    assert result.stdout.count("Traceback (most recent call last)") == 2, result.stdout
    assert "ValueError: odd step" in result.stdout
    assert "KeyError: 'even step'" in result.stdout
    assert "two_errors: ValueError: odd step: 8" in result.stdout
    assert "two_errors: KeyError: 'even step': 8" in result.stdout


def test_without_verbose_there_is_no_traceback(scenario_file, run_molotov):
    scenario_file(
        """
        @molotov.scenario()
        async def failing(session):
            raise ValueError("nope")
        """
    )
    result = run_molotov("-w", "1", "-r", "2", "loadtest.py")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "failing: ValueError: nope: 2" in result.stdout


def test_very_verbose_dumps_requests_and_responses(scenario_file, run_molotov, target):
    scenario_file(GET_ROOT)
    result = run_molotov("-vv", "-w", "1", "-r", "2", "loadtest.py")
    assert result.returncode == 0, result.stderr
    check_closing_lines(result.stdout, 2, 0)
    assert result.lines.count(f"GET {target.url}/") == 2, result.stdout
    assert result.lines.count("HTTP/1.1 200 OK") == 2, result.stdout


# -- sizing ---------------------------------------------------------------------------------


def test_sizing_stops_when_failures_exceed_the_tolerance(scenario_file, run_molotov):
    scenario_file(
        """
        DONE = 0


        @molotov.scenario()
        async def wears_out(session):
            global DONE
            await asyncio.sleep(0.005)
            DONE += 1
            assert DONE <= 150, "overloaded"
        """
    )
    result = run_molotov(
        "--sizing", "-w", "5", "--ramp-up", "0.5", "--sizing-tolerance", "5", "loadtest.py"
    )
    assert result.returncode == 0, result.stderr
    assert "Sizing is over!" in result.lines
    assert any(line.startswith("Error Ratio ") for line in result.lines), result.stdout
    overall = [line for line in result.lines if line.startswith("OVERALL: SUCCESSES: ")]
    assert len(overall) == 1
    assert overall[0].startswith("OVERALL: SUCCESSES: 150 | FAILURES: ")
    assert any(line.startswith("LAST MINUTE: SUCCESSES: ") for line in result.lines)
    successes, failures = summary(result.stdout)
    assert successes == 150
    assert failures > 0
