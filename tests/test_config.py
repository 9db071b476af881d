"""molotov.config: durations, StatsD addresses, RunConfig checks and molotov.json files."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import pytest

from molotov.config.errors import ConfigError, OptionValueError
from molotov.config.jsonconfig import JSON_OPTIONS, apply_config_file, read_config_file
from molotov.config.jsonconfig import test_options as options_of
from molotov.config.parsers import parse_duration, parse_statsd_address
from molotov.config.runconfig import (
    BOUNDS,
    DEFAULT_SCENARIO,
    MIN_CONSOLE_UPDATE,
    SIZING_RAMP_UP,
    SIZING_WORKERS,
    RunConfig,
    apply_sizing_defaults,
)
from molotov.config.shape import Stage

# -- parse_duration -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30", 30.0),
        ("1.5", 1.5),
        ("0.25", 0.25),
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("1d", 86400.0),
        ("1h30m", 5400.0),
        ("1m30s", 90.0),
        ("2h0m5s", 7205.0),
        ("250ms", 0.25),
        ("1s500ms", 1.5),
        ("1.5m", 90.0),
        (" 10S ", 10.0),
        ("5M", 300.0),
    ],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("number", [0, 7, 2.5])
def test_parse_duration_of_numbers(number):
    assert parse_duration(number) == float(number)
    assert isinstance(parse_duration(number), float)


@pytest.mark.parametrize(
    "text", ["abc", "5x", "", "   ", "s", "m5", "5 m", "1h30", "30s!", "1,5", "nan", "inf", "-inf"]
)
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_parse_duration_rejects_overflow():
    # float() of a huge number of seconds is inf: no run could ever reach that deadline.
    with pytest.raises(ValueError, match="finite"):
        parse_duration("9" * 400 + "s")
    with pytest.raises(ValueError, match="finite"):
        parse_duration("1e400")


@pytest.mark.parametrize("value", [True, None, [30], float("nan"), float("inf")])
def test_parse_duration_rejects_non_text(value):
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(value)


# -- parse_statsd_address -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("udp://localhost:8125", ("udp", "localhost", 8125)),
        ("tcp://127.0.0.1:9125", ("tcp", "127.0.0.1", 9125)),
        ("udp://statsd.example.com:1", ("udp", "statsd.example.com", 1)),
        ("tcp://[::1]:65535", ("tcp", "::1", 65535)),
    ],
)
def test_parse_statsd_address(address, expected):
    assert parse_statsd_address(address) == expected


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("http://localhost:8125", "scheme must be udp:// or tcp://"),
        ("localhost:8125", "scheme must be udp:// or tcp://"),
        ("", "scheme must be udp:// or tcp://"),
        ("udp://localhost", "expected udp://HOST:PORT"),
        ("tcp://localhost", "expected tcp://HOST:PORT"),
        ("udp://:8125", "expected udp://HOST:PORT"),
        ("udp://localhost:70000", "out of range"),
        ("udp://localhost:0", "expected udp://HOST:PORT"),
        ("udp://localhost:port", "statsd address"),
    ],
)
def test_parse_statsd_address_errors(address, message):
    with pytest.raises(ConfigError, match=message):
        parse_statsd_address(address)


# -- RunConfig ----------------------------------------------------------------------------


def test_default_config_is_valid():
    config = RunConfig()
    config.check()
    assert config.scenario == DEFAULT_SCENARIO
    assert config.workers == 1
    assert config.processes == 1
    assert config.duration is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"quiet": True, "verbose": 1}, "-q and -v"),
        ({"single_mode": "one", "single_run": True}, "--single-mode and --single-run"),
        ({"workers": 0}, "workers must be at least 1"),
        ({"workers": -3}, "workers must be at least 1"),
        ({"processes": 0}, "processes must be at least 1"),
        ({"max_runs": 0}, "max_runs must be at least 1"),
        ({"fail": 0}, "fail must be at least 1"),
        ({"duration": 0.0}, "duration must be positive"),
        ({"duration": -1.0}, "duration must be positive"),
        ({"ramp_up": -0.5}, "ramp_up must be at least 0"),
        ({"delay": -1.0}, "delay must be at least 0"),
        ({"console_update": -0.1}, "console_update must be at least 0"),
        ({"statsd_address": "http://x:1"}, "statsd address"),
        ({"workers": 100_001}, "workers must be at most 100000"),
        ({"processes": 10**23}, r"processes must be at most 1024 \(got 1e\+23\)"),
        ({"duration": 1e20}, r"duration must be at most 31536000 s \(a year\)"),
        ({"ramp_up": 1e308}, r"ramp_up must be at most 31536000 s \(a year\) \(got 1e\+308\)"),
        ({"ramp_up": float("inf")}, r"ramp_up must be a finite number \(got inf\)"),
        ({"delay": float("inf")}, "delay must be a finite number"),
        ({"step_timeout": float("inf")}, "step_timeout must be a finite number"),
        ({"step_timeout": 0.0}, "step_timeout must be at least 0.001"),
        ({"sizing_tolerance": float("nan")}, "sizing_tolerance must be a finite number"),
        ({"sizing_tolerance": 101.0}, "sizing_tolerance must be at most 100 %"),
        ({"max_runs": 10**13}, "max_runs must be at most 1000000000000"),
        ({"fail": 10**13}, "fail must be at most"),
        ({"verbose": -1}, "verbose must be at least 0"),
        ({"statsd_interval": 0.01}, "statsd_interval must be at least 0.05"),
        ({"start_at": 1e20}, "start_at must be between 1970 and a year from now"),
        ({"start_at": -1.0}, "start_at must be between 1970 and a year from now"),
    ],
)
def test_check_errors(changes, message):
    with pytest.raises(ConfigError, match=message):
        RunConfig(**changes).check()


@pytest.mark.parametrize(
    "changes",
    [
        {"quiet": True},
        {"verbose": 2},
        {"single_mode": "one"},
        {"single_run": True},
        {"max_runs": 1, "fail": 1, "duration": 0.001},
        {"ramp_up": 0.0, "delay": 0.0},
        {"statsd": True, "statsd_address": "tcp://localhost:8125"},
        {"workers": 100_000, "processes": 1024, "duration": 365 * 86400.0},
        {"ramp_up": 365 * 86400.0, "delay": 365 * 86400.0, "step_timeout": 365 * 86400.0},
        {"start_at": 0.0},
        {"console_update": 3600.0},
    ],
)
def test_check_accepts(changes):
    RunConfig(**changes).check()


@pytest.mark.parametrize("value", [0, 0.0, 0.01, 0.049])
def test_console_update_below_the_floor_means_the_floor(value):
    """Molotov 2.x took 0 ("every tick"); anything under 0.05 s redraws every 0.05 s."""
    config = RunConfig(console_update=value)
    assert config.console_update == MIN_CONSOLE_UPDATE == 0.05
    config.check()
    assert RunConfig().replace(console_update=value).console_update == MIN_CONSOLE_UPDATE
    assert RunConfig(console_update=0.5).console_update == 0.5


def test_check_values_names_the_option():
    with pytest.raises(OptionValueError) as info:
        RunConfig(delay=float("inf")).check_values()
    assert (info.value.option, info.value.why) == ("delay", "must be a finite number (got inf)")


def test_every_numeric_option_is_bounded():
    # Checked elsewhere in RunConfig: start_at against the clock, max_lag by check_model; any
    # integer seeds the random generators.
    elsewhere = {"start_at", "max_lag", "seed"}
    numeric = {
        f.name
        for f in dataclasses.fields(RunConfig)
        if any(t in str(f.type) for t in ("int", "float")) and f.name not in elsewhere
    }
    assert numeric == set(BOUNDS)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"stages": (Stage(366 * 86400.0, 5),)}, "stages must last at most a year in all"),
        ({"stages": (Stage(10, 200_000),)}, "stages must target at most 100000 workers"),
        ({"rate": 2e6}, r"rate must be at most 1000000/s"),
        ({"rate": 10.0, "max_workers": 10**6}, "max_workers must be at most 100000"),
        ({"rate": 10.0, "iterations": 10**13}, "iterations must be at most"),
        ({"rate": 10.0, "iterations": 0}, "iterations must be at least 1"),
    ],
)
def test_open_model_bounds(changes, message):
    with pytest.raises(ConfigError, match=message):
        RunConfig(**changes).check()


def test_config_is_frozen_and_replace_copies():
    config = RunConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.workers = 3  # type: ignore[misc]
    other = config.replace(workers=3, duration=10.0)
    assert (other.workers, other.duration) == (3, 10.0)
    assert (config.workers, config.duration) == (1, None)


def test_as_args_is_a_mutable_namespace_named_after_long_flags():
    config = RunConfig(workers=4, max_runs=9, ramp_up=2.0, use_extension=("ext.py",))
    args = config.as_args()
    assert isinstance(args, argparse.Namespace)
    assert set(vars(args)) == {f.name for f in dataclasses.fields(RunConfig)}
    assert args.workers == 4
    assert args.max_runs == 9
    assert args.ramp_up == 2.0
    assert args.scenario == DEFAULT_SCENARIO
    assert args.statsd_address == config.statsd_address
    assert args.single_mode is None
    assert tuple(args.use_extension) == ("ext.py",)
    args.workers = 100
    args.something_new = "ok"
    assert args.workers == 100
    assert args.something_new == "ok"
    assert config.workers == 4
    # A fresh namespace each time.
    assert config.as_args().workers == 4


# -- config files -------------------------------------------------------------------------


def _write(path: Path, document: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def _config(tmp_path: Path, tests: dict, **extra: object) -> Path:
    return _write(tmp_path / "molotov.json", {"molotov": {"tests": tests, **extra}})


def test_read_config_file(tmp_path):
    path = _config(tmp_path, {"smoke": {"workers": 2}}, env={"SERVER": "x"})
    section = read_config_file(path)
    assert section["tests"] == {"smoke": {"workers": 2}}
    assert section["env"] == {"SERVER": "x"}
    assert read_config_file(str(path)) == section


def test_missing_config_file(tmp_path):
    path = tmp_path / "nope.json"
    with pytest.raises(ConfigError, match="Can't find the config file") as info:
        read_config_file(path)
    assert str(path) in str(info.value)


def test_config_file_that_is_a_directory(tmp_path):
    with pytest.raises(ConfigError, match="Can't read the config file"):
        read_config_file(tmp_path)


def test_unparseable_config_file(tmp_path):
    path = _write(tmp_path / "molotov.json", '{"molotov": {"tests": {}}')
    with pytest.raises(ConfigError, match=r"Can't parse the config file .*\(line 1, column"):
        read_config_file(path)


@pytest.mark.parametrize("document", [{}, {"other": 1}, {"molotov": 1}, [], "just text"])
def test_config_without_molotov_key(tmp_path, document):
    path = _write(tmp_path / "molotov.json", json.dumps(document))
    with pytest.raises(ConfigError, match="no 'molotov' key"):
        read_config_file(path)


@pytest.mark.parametrize("section", [{}, {"tests": []}, {"tests": "smoke"}, {"env": {}}])
def test_config_without_tests_key(tmp_path, section):
    path = _write(tmp_path / "molotov.json", {"molotov": section})
    with pytest.raises(ConfigError, match="no 'molotov/tests' key"):
        read_config_file(path)


def test_test_entry_must_be_an_object(tmp_path):
    path = _config(tmp_path, {"smoke": ["-w", "2"]})
    with pytest.raises(ConfigError, match="test 'smoke' must be an object"):
        read_config_file(path)


def test_options_of_a_test(tmp_path):
    path = _config(
        tmp_path,
        {
            "big": {
                "workers": 10,
                "processes": 2,
                "duration": "5m",
                "max_runs": None,
                "ramp_up": 3,
                "verbose": True,
                "use_extension": "ext.py",
                "single_mode": "one",
                "statsd_address": "tcp://localhost:1",
            }
        },
    )
    options = options_of(read_config_file(path), "big", path)
    assert options == {
        "workers": 10,
        "processes": 2,
        "duration": 300.0,
        "max_runs": None,
        "ramp_up": 3.0,
        "verbose": 1,
        "use_extension": ("ext.py",),
        "single_mode": "one",
        "statsd_address": "tcp://localhost:1",
    }
    assert isinstance(options["ramp_up"], float)


@pytest.mark.parametrize(
    ("value", "seconds"), [("30", 30.0), ("30s", 30.0), ("1h30m", 5400.0), (90, 90.0), (1.5, 1.5)]
)
def test_durations_in_a_config_file(tmp_path, value, seconds):
    path = _config(tmp_path, {"t": {"duration": value}})
    assert options_of(read_config_file(path), "t", path) == {"duration": seconds}


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_duration_in_a_config_file(tmp_path, value):
    # json.dumps writes NaN / Infinity, which json.loads accepts.
    path = _config(tmp_path, {"t": {"duration": value}})
    with pytest.raises(ConfigError, match="option 'duration' of test 't' must be a duration"):
        options_of(read_config_file(path), "t", path)


def test_unknown_test_name(tmp_path):
    path = _config(tmp_path, {"smoke": {}, "big": {}})
    with pytest.raises(ConfigError, match="Can't find 'missing' in the config") as info:
        options_of(read_config_file(path), "missing", path)
    assert "available: big, smoke" in str(info.value)


def test_unknown_test_name_with_no_tests(tmp_path):
    path = _config(tmp_path, {})
    with pytest.raises(ConfigError, match=r"Can't find 'test' in the config \(available: none\)"):
        options_of(read_config_file(path), "test", path)


@pytest.mark.parametrize(
    ("key", "option"),
    [
        ("max-runs", "max_runs"),
        ("maxruns", "max_runs"),
        ("wokers", "workers"),
        ("workres", "workers"),
        ("proceses", "processes"),
        ("rampup", "ramp_up"),
        ("consol", "console"),
    ],
)
def test_a_typo_of_an_option_is_refused(tmp_path, key, option):
    path = _config(tmp_path, {"smoke": {key: 1}})
    with pytest.raises(ConfigError) as info:
        options_of(read_config_file(path), "smoke", path, warn=pytest.fail)
    assert f"unknown option '{key}' in test 'smoke' (did you mean '{option}'?)" in str(info.value)


@pytest.mark.parametrize(
    ("entry", "warning"),
    [
        (
            {"env": {"SERVER_URL": "http://x"}, "requirements": "r.txt", "workers": 2},
            "ignoring 'env', 'requirements': not molotov options (Molotov 2.x ignored them "
            "too); moloslave reads 'env' and 'requirements' beside 'tests'",
        ),
        ({"description": "nightly", "workers": 2}, "ignoring 'description': not molotov"),
        ({"config": "x.json", "demo": True, "workers": 2}, "ignoring 'config', 'demo': not"),
    ],
)
def test_keys_molotov_2_ignored_are_ignored_with_one_warning(tmp_path, entry, warning):
    path = _config(tmp_path, {"smoke": entry})
    warnings: list[str] = []
    options = options_of(read_config_file(path), "smoke", path, warn=warnings.append)
    assert options == {"workers": 2}
    assert len(warnings) == 1
    assert warnings[0].startswith(f"Warning: {str(path)!r}, test 'smoke': {warning}")


def test_no_warning_without_ignored_keys(tmp_path):
    path = _config(tmp_path, {"smoke": {"workers": 2}})
    assert options_of(read_config_file(path), "smoke", path, warn=pytest.fail) == {"workers": 2}


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("workers", 0, "must be at least 1 (got 0)"),
        ("processes", 10**23, "must be at most 1024 (got 1e+23)"),
        ("ramp_up", 1e308, "must be at most 31536000 s (a year) (got 1e+308)"),
        ("start_at", 1e20, "must be between 1970 and a year from now (got 1e+20)"),
        ("console_update", -1, "must be at least 0 (got -1)"),
        ("duration", "400d", "must be at most 31536000 s (a year) (got 34560000)"),
    ],
)
def test_out_of_bounds_value_in_a_config_file(tmp_path, key, value, expected):
    path = _config(tmp_path, {"smoke": {key: value}})
    with pytest.raises(ConfigError) as info:
        options_of(read_config_file(path), "smoke", path)
    assert str(info.value) == f"Bad config {str(path)!r}: option {key!r} of test 'smoke' {expected}"


def test_console_update_zero_in_a_config_file(tmp_path):
    """Molotov's own root molotov.json says ``"console_update": 0``."""
    path = _config(tmp_path, {"test": {"console_update": 0}})
    options = options_of(read_config_file(path), "test", path)
    assert RunConfig().replace(**options).console_update == MIN_CONSOLE_UPDATE


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"molotov": {"tests": {"t\xff": {}}}}', "not UTF-8 text (invalid start byte at byte"),
        (b'{"molotov": {"tests": {"t": {"workers": 1' + b"0" * 5000 + b"}}}}", "4300 digits"),
        (b"\xff\xfe" + "{}".encode("utf-16-le") + b"\0", "not UTF-16-LE text (truncated data"),
        (b"\xef\xbb\xbf{nope", "Expecting property name"),
    ],
    ids=["deep", "invalid-utf8", "huge-int", "truncated-utf16", "bom-then-bad-json"],
)
def test_undecodable_config_file(tmp_path, data, expected):
    path = tmp_path / "molotov.json"
    path.write_bytes(data)
    with pytest.raises(ConfigError) as info:
        read_config_file(path)
    message = str(info.value)
    assert message.startswith(f"Can't parse the config file {str(path)!r}: ")
    assert expected in message
    assert "\n" not in message


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-32"])
def test_config_file_in_other_unicode_encodings(tmp_path, encoding):
    """UTF-16 with a BOM is what Windows' PowerShell writes: read, as JSON readers do."""
    path = tmp_path / "molotov.json"
    path.write_text(json.dumps({"molotov": {"tests": {"té": {"workers": 2}}}}), encoding=encoding)
    assert read_config_file(path)["tests"] == {"té": {"workers": 2}}


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("workers", "ten", "an integer"),
        ("workers", 1.5, "an integer"),
        ("workers", True, "an integer"),
        ("processes", None, "an integer"),
        ("max_runs", "3", "an integer"),
        ("ramp_up", "soon", "a duration"),
        ("delay", False, "a duration"),
        ("sizing_tolerance", float("nan"), "a finite number"),
        ("ramp_up", float("inf"), "a duration"),
        ("quiet", 1, "true or false"),
        ("scenario", 3, "a string"),
        ("duration", "forever", "a duration"),
        ("duration", True, "a duration"),
        ("use_extension", ["a.py", 2], "a string or a list of strings"),
        ("verbose", "2", "an integer"),
    ],
)
def test_wrong_value_type(tmp_path, key, value, expected):
    path = _config(tmp_path, {"smoke": {key: value}})
    with pytest.raises(ConfigError, match=f"option '{key}' of test 'smoke' must be {expected}"):
        options_of(read_config_file(path), "smoke", path)


def test_every_json_option_is_a_run_config_field():
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    assert set(JSON_OPTIONS) <= fields


def test_apply_config_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "loadtest.py", "")
    path = _config(tmp_path, {"smoke": {"workers": 3, "duration": "1m", "quiet": True}})
    base = RunConfig(config=str(path), processes=2, scenario="smoke")
    config, given = apply_config_file(base, "smoke")
    assert given == {"workers", "duration", "quiet"}
    assert (config.workers, config.duration, config.quiet) == (3, 60.0, True)
    # Untouched options keep the command line's values.
    assert config.processes == 2
    assert config.config == str(path)
    # The positional argument named the test, not a scenario: the default scenario is used.
    assert config.scenario == DEFAULT_SCENARIO


def test_apply_config_file_with_a_scenario(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "mine.py", "")
    path = _config(tmp_path, {"smoke": {"scenario": "mine.py"}})
    config, given = apply_config_file(RunConfig(config=str(path)), "smoke")
    assert given == {"scenario"}
    assert config.scenario == "mine.py"


def test_scenario_found_beside_the_config_file(tmp_path, monkeypatch):
    conf_dir = tmp_path / "conf"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _write(conf_dir / "mine.py", "")
    path = _config(conf_dir, {"smoke": {"scenario": "mine.py"}})
    monkeypatch.chdir(elsewhere)
    config, _ = apply_config_file(RunConfig(config=str(path)), "smoke")
    assert config.scenario == str(conf_dir / "mine.py")
    assert Path(config.scenario).is_file()


def test_default_scenario_found_beside_the_config_file(tmp_path, monkeypatch):
    conf_dir = tmp_path / "conf"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _write(conf_dir / DEFAULT_SCENARIO, "")
    path = _config(conf_dir, {"smoke": {}})
    monkeypatch.chdir(elsewhere)
    config, given = apply_config_file(RunConfig(config=str(path), scenario="smoke"), "smoke")
    assert given == set()
    assert config.scenario == str(conf_dir / DEFAULT_SCENARIO)


def test_scenario_in_cwd_wins_over_the_config_folder(tmp_path, monkeypatch):
    conf_dir = tmp_path / "conf"
    cwd = tmp_path / "cwd"
    _write(conf_dir / "mine.py", "")
    _write(cwd / "mine.py", "")
    path = _config(conf_dir, {"smoke": {"scenario": "mine.py"}})
    monkeypatch.chdir(cwd)
    config, _ = apply_config_file(RunConfig(config=str(path)), "smoke")
    assert config.scenario == "mine.py"


def test_scenario_found_nowhere_is_left_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = _config(tmp_path / "conf", {"smoke": {"scenario": "missing.py"}})
    config, _ = apply_config_file(RunConfig(config=str(path)), "smoke")
    assert config.scenario == "missing.py"


def test_apply_config_file_errors_propagate(tmp_path):
    path = _config(tmp_path, {"smoke": {"workers": "ten"}})
    with pytest.raises(ConfigError, match="must be an integer"):
        apply_config_file(RunConfig(config=str(path)), "smoke")
    with pytest.raises(ConfigError, match="Can't find 'other' in the config"):
        apply_config_file(RunConfig(config=str(path)), "other")


# -- sizing -------------------------------------------------------------------------------


def test_sizing_defaults():
    config = apply_sizing_defaults(RunConfig(sizing=True), set())
    assert config.workers == SIZING_WORKERS == 500
    assert config.ramp_up == SIZING_RAMP_UP == 300.0


def test_sizing_defaults_keep_explicit_values():
    base = RunConfig(sizing=True, workers=20, ramp_up=10.0)
    assert apply_sizing_defaults(base, {"workers", "ramp_up"}) == base
    only_workers = apply_sizing_defaults(base, {"workers"})
    assert (only_workers.workers, only_workers.ramp_up) == (20, SIZING_RAMP_UP)
    only_ramp = apply_sizing_defaults(base, {"ramp_up"})
    assert (only_ramp.workers, only_ramp.ramp_up) == (SIZING_WORKERS, 10.0)


def test_no_sizing_no_change():
    base = RunConfig(workers=2)
    assert apply_sizing_defaults(base, set()) is base
