"""Steps that never end: sessions have no total timeout, --step-timeout guards instead."""

from __future__ import annotations

SLOW = """
import os

from molotov import scenario, setup

URL = os.environ["TARGET_URL"]


@scenario()
async def slow(session):
    with open("timeouts", "a") as out:
        out.write(f"{session.timeout.total}\\n")
    async with session.get(URL + "/slow?s=30") as resp:
        await resp.read()
"""


def test_a_step_over_the_step_timeout_fails_and_the_worker_goes_on(
    write_scenario, run_molotov, target, tmp_path
):
    write_scenario(SLOW)
    result = run_molotov("-w", "2", "-r", "2", "-c", "--step-timeout", "0.5")
    assert result.returncode == 0, result.stderr
    # Each worker's two steps were cancelled in turn: the worker went on after the first.
    assert "SUCCESSES: 0 | FAILURES: 4" in result.stdout
    assert target.hits["/slow"] == 4
    errors = [line for line in result.lines if line.startswith("  slow: timeout (")]
    assert errors == ["  slow: timeout (StepTimeout: the step ran over 0.5s and was cancelled): 4"]
    # The requests the timeout cut off count, as requests and as timeout errors.
    assert "Requests: 4 (" in result.stdout
    assert "Request errors: timeout=4" in result.stdout
    # The default session has no total timeout: the step timeout is the guard.
    assert (tmp_path / "timeouts").read_text().split() == ["None"] * 4


def test_setup_can_still_give_sessions_a_timeout(write_scenario, run_molotov, target, tmp_path):
    write_scenario(
        SLOW
        + """

@setup()
async def options(worker_id, args):
    import aiohttp

    return {"timeout": aiohttp.ClientTimeout(total=0.3)}
"""
    )
    result = run_molotov("-r", "1", "-c")
    assert result.returncode == 0, result.stderr
    assert "SUCCESSES: 0 | FAILURES: 1" in result.stdout
    assert "Request errors: timeout=1" in result.stdout
    assert (tmp_path / "timeouts").read_text().split() == ["0.3"]


def test_a_timed_out_step_sends_scenario_failure(write_scenario, run_molotov, target, tmp_path):
    write_scenario(
        SLOW
        + """

from molotov import events


@events()
async def seen(event, **info):
    if event == "scenario_failure":
        with open("failures", "a") as out:
            out.write(type(info["exception"]).__name__ + "\\n")
"""
    )
    result = run_molotov("-r", "1", "-c", "--step-timeout", "0.5")
    assert result.returncode == 0, result.stderr
    assert "SUCCESSES: 0 | FAILURES: 1" in result.stdout
    assert (tmp_path / "failures").read_text().split() == ["StepTimeout"]
