"""Every duration option takes the same spellings, whichever way it is given.

Flags, ``MOLOTOV_*`` variables and ``molotov.json`` keys all go through one parser
(``config.parsers.parse_duration``): the real command is run with each, and the report's
``options`` say what the run used.
"""

from __future__ import annotations

import json

import pytest

from support import read_report

GOOD = """
    import os
    from molotov import scenario

    URL = os.environ["TARGET_URL"]

    @scenario()
    async def hello(session):
        async with session.get(URL + "/") as resp:
            assert resp.status == 200
"""

# Each duration option of a closed-model run: its value written with a unit, and in seconds.
CLOSED = {
    "duration": ("1m", 60.0),
    "ramp_up": ("10ms", 0.01),
    "delay": ("5ms", 0.005),
    "console_update": ("500ms", 0.5),
    "statsd_interval": ("2s", 2.0),
    "step_timeout": ("2m", 120.0),
    "graceful_stop": ("1h", 3600.0),
}


def flags(values: dict[str, tuple[str, float]]) -> list[str]:
    return [
        arg for name, (text, _) in values.items() for arg in ("--" + name.replace("_", "-"), text)
    ]


def used(options: dict, values: dict[str, tuple[str, float]]) -> dict[str, float]:
    return {name: pytest.approx(options[name]) for name in values}


def expected(values: dict[str, tuple[str, float]]) -> dict[str, float]:
    return {name: seconds for name, (_, seconds) in values.items()}


def test_every_duration_flag_takes_units(run_molotov, write_scenario, target, tmp_path):
    write_scenario(GOOD)
    result = run_molotov("-w", "2", "-r", "2", "--report", "r.json", *flags(CLOSED), "loadtest.py")
    assert result.returncode == 0, result.stderr
    assert target.total == 4
    assert used(read_report(tmp_path)["options"], CLOSED) == expected(CLOSED)


def test_the_open_model_max_lag_takes_units_too(run_molotov, write_scenario, target, tmp_path):
    write_scenario(GOOD)
    result = run_molotov(
        "--rate", "50", "--iterations", "2", "--max-lag", "500ms", "--report", "r.json"
    )
    assert result.returncode == 0, result.stderr
    assert read_report(tmp_path)["options"]["max_lag"] == 0.5


def test_every_duration_variable_takes_units(run_molotov, write_scenario, target, tmp_path):
    write_scenario(GOOD)
    env = {f"MOLOTOV_{name.upper()}": text for name, (text, _) in CLOSED.items()}
    result = run_molotov("-w", "2", "-r", "2", "--report", "r.json", **env)
    assert result.returncode == 0, result.stderr
    assert used(read_report(tmp_path)["options"], CLOSED) == expected(CLOSED)


def test_every_duration_key_of_molotov_json_takes_units(
    run_molotov, write_scenario, target, tmp_path
):
    write_scenario(GOOD)
    entry = {name: text for name, (text, _) in CLOSED.items()}
    entry.update(workers=2, max_runs=2, report="r.json")
    (tmp_path / "molotov.json").write_text(json.dumps({"molotov": {"tests": {"t": entry}}}))
    result = run_molotov("--config", "molotov.json", "t")
    assert result.returncode == 0, result.stderr
    assert used(read_report(tmp_path)["options"], CLOSED) == expected(CLOSED)


def test_molotov_2_plain_seconds_still_work(run_molotov, write_scenario, target, tmp_path):
    write_scenario(GOOD)
    plain = {"duration": ("30", 30.0), "ramp_up": ("0.01", 0.01), "delay": ("0.005", 0.005)}
    result = run_molotov("-r", "2", "--report", "r.json", *flags(plain), "loadtest.py")
    assert result.returncode == 0, result.stderr
    assert used(read_report(tmp_path)["options"], plain) == expected(plain)


@pytest.mark.parametrize(
    "flag",
    [
        "--duration",
        "--ramp-up",
        "--delay",
        "--console-update",
        "--statsd-interval",
        "--step-timeout",
        "--graceful-stop",
        "--max-lag",
    ],
)
def test_a_bad_duration_names_its_flag_in_the_same_words(run_molotov, write_scenario, target, flag):
    write_scenario(GOOD)
    result = run_molotov("-r", "1", flag, "10x", "loadtest.py")
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert errors == [
        f"Error: Invalid value for '{flag}': not a duration: '10x' "
        "(use seconds, or e.g. 500ms, 30s, 5m, 1h)"
    ]
    assert target.total == 0
