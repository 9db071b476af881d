"""Options from MOLOTOV_<LONG_OPTION> variables, and --start-at."""

from __future__ import annotations

import time
from datetime import UTC, datetime

GET_ROOT = """
import os
import time

from molotov import scenario

URL = os.environ["TARGET_URL"]


@scenario()
async def get_root(session):
    with open("first-request", "a") as out:
        out.write(f"{time.time()}\\n")
    async with session.get(URL + "/") as resp:
        assert resp.status == 200
"""


def test_options_come_from_the_environment(write_scenario, run_molotov, target):
    write_scenario(GET_ROOT)
    result = run_molotov("-c", MOLOTOV_WORKERS="3", MOLOTOV_MAX_RUNS="2")
    assert result.returncode == 0, result.stderr
    assert "SUCCESSES: 6 | FAILURES: 0" in result.stdout
    assert target.total == 6


def test_the_command_line_wins_over_the_environment(write_scenario, run_molotov, target):
    write_scenario(GET_ROOT)
    result = run_molotov("-c", "-w", "1", MOLOTOV_WORKERS="3", MOLOTOV_MAX_RUNS="2")
    assert result.returncode == 0, result.stderr
    assert "SUCCESSES: 2 | FAILURES: 0" in result.stdout
    assert target.total == 2


def test_a_bad_value_in_the_environment_is_a_usage_error(write_scenario, run_molotov, target):
    write_scenario(GET_ROOT)
    result = run_molotov("-r", "1", MOLOTOV_WORKERS="many")
    assert result.returncode == 2
    assert "workers" in result.stderr.lower()
    assert target.total == 0


def test_a_version_variable_does_not_hijack_a_run(write_scenario, run_molotov, target):
    write_scenario(GET_ROOT)
    result = run_molotov("-r", "1", "-c", MOLOTOV_VERSION="1")
    assert result.returncode == 0, result.stderr
    assert "SUCCESSES: 1 | FAILURES: 0" in result.stdout


def test_start_at_waits_for_the_start_time(write_scenario, run_molotov, target, tmp_path):
    write_scenario(GET_ROOT)
    start_at = time.time() + 1.5
    result = run_molotov("-w", "2", "-r", "2", "-c", "--start-at", f"{start_at:.3f}")
    assert result.returncode == 0, result.stderr
    assert "Waiting " in result.stdout
    assert "SUCCESSES: 4 | FAILURES: 0" in result.stdout
    stamps = [float(line) for line in (tmp_path / "first-request").read_text().split()]
    assert len(stamps) == 4
    assert min(stamps) >= start_at


def test_start_at_in_iso_8601_from_the_environment(write_scenario, run_molotov, target, tmp_path):
    write_scenario(GET_ROOT)
    # Far enough ahead that a slow start-up on a loaded machine still waits.
    start_at = datetime.fromtimestamp(time.time() + 3.0, UTC)
    # The instant molotov is given is the one written in milliseconds: compare with that one.
    start_at = start_at.replace(microsecond=start_at.microsecond // 1000 * 1000)
    iso = start_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    result = run_molotov("-r", "1", "-c", MOLOTOV_START_AT=iso)
    assert result.returncode == 0, result.stderr
    assert "Waiting " in result.stdout
    stamp = float((tmp_path / "first-request").read_text())
    assert stamp >= start_at.timestamp()


def test_a_start_time_in_the_past_starts_at_once_with_a_warning(
    write_scenario, run_molotov, target
):
    write_scenario(GET_ROOT)
    result = run_molotov("-r", "1", "-c", "--start-at", "2020-01-01T00:00:00Z")
    assert result.returncode == 0, result.stderr
    assert "past; starting now" in result.stdout
    assert "SUCCESSES: 1 | FAILURES: 0" in result.stdout


def test_a_malformed_start_time_is_a_usage_error(write_scenario, run_molotov, target):
    write_scenario(GET_ROOT)
    result = run_molotov("-r", "1", "--start-at", "tomorrow")
    assert result.returncode == 2
    assert "not a start time" in result.stderr
    assert target.total == 0
