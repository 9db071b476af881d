"""The molotov.json file: its test entries read, checked and laid over a RunConfig.

A file is ``{"molotov": {"tests": {NAME: {option: value}}}}``; keys are the long option names
with underscores, each value checked and converted by its entry of :data:`JSON_OPTIONS`.
"""

from __future__ import annotations

import difflib
import math
import reprlib
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from molotov.config.errors import ConfigError, OptionValueError
from molotov.config.jsonfile import CONFIG_LIMIT, FileTooLarge, JSONFileError, read_json
from molotov.config.parsers import parse_duration, parse_rate, parse_stages, parse_start_at
from molotov.config.runconfig import DEFAULT_SCENARIO, RunConfig
from molotov.config.shape import Stage

DEFAULT_TEST = "test"


# How a JSON value of each option is checked and converted. Keys are exactly the options a
# test entry may set; anything else is an error.
def _json_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("an integer")
    return value


def _json_float(value: Any) -> float:
    # JSON readers accept NaN and Infinity: neither is a usable delay or tolerance.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TypeError("a finite number")
    return float(value)


def _json_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("true or false")
    return value


def _json_str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("a string")
    return value


def _json_duration(value: Any) -> float:
    try:
        return parse_duration(value)
    except ValueError:
        raise TypeError("a duration (seconds, or a string like '500ms', '30s', '5m')") from None


def _json_address(value: Any) -> str:
    """``"[HOST:]PORT"``, or a port as a number (``"dashboard": 8089``)."""
    return str(_json_int(value)) if isinstance(value, int) else _json_str(value)


def _json_verbose(value: Any) -> int:
    return int(value) if isinstance(value, bool) else _json_int(value)


def _json_str_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise TypeError("a string or a list of strings")


def _json_start_at(value: Any) -> float:
    try:
        return parse_start_at(value)
    except ValueError:
        raise TypeError("a start time (epoch seconds, or ISO 8601)") from None


def _json_rate(value: Any) -> float:
    try:
        return parse_rate(value)
    except ValueError:
        raise TypeError("a rate (a number, or a string like '100/s', '6000/m')") from None


class _JsonStages(tuple[Stage, ...]):
    """Stages read from JSON, remembering whether a target was written as a rate."""

    as_rate = False


def _json_stages(value: Any) -> _JsonStages:
    try:
        stages, as_rate = parse_stages(value)
    except ValueError as exc:
        raise TypeError(f"a list of stages ({exc})") from None
    result = _JsonStages(stages)
    result.as_rate = as_rate
    return result


def _optional(convert: Any) -> Any:
    def check(value: Any) -> Any:
        return None if value is None else convert(value)

    return check


JSON_OPTIONS: Mapping[str, Any] = {
    "scenario": _json_str,
    "workers": _json_int,
    "processes": _json_int,
    "duration": _optional(_json_duration),
    "max_runs": _optional(_json_int),
    "ramp_up": _json_duration,
    "delay": _json_duration,
    "sizing": _json_bool,
    "sizing_tolerance": _json_float,
    "console_update": _json_duration,
    "quiet": _json_bool,
    "verbose": _json_verbose,
    "exception": _json_bool,
    "fail": _optional(_json_int),
    "console": _json_bool,
    "statsd": _json_bool,
    "statsd_address": _json_str,
    "uvloop": _json_bool,
    "use_extension": _json_str_list,
    "force_shutdown": _json_bool,
    "single_mode": _optional(_json_str),
    "single_run": _json_bool,
    "disable_dns_resolve": _json_bool,
    "debug": _json_bool,
    "threshold": _json_str_list,
    "report": _optional(_json_str),
    "html": _optional(_json_str),
    "csv": _optional(_json_str),
    "statsd_prefix": _json_str,
    "statsd_interval": _json_duration,
    "prometheus_rw": _optional(_json_str),
    "prometheus_rw_interval": _json_duration,
    "start_at": _optional(_json_start_at),
    "step_timeout": _json_duration,
    "graceful_stop": _json_duration,
    "rate": _optional(_json_rate),
    "arrivals": _json_str,
    "seed": _optional(_json_int),
    "max_workers": _optional(_json_int),
    "max_request_names": _json_int,
    "max_lag": _json_duration,
    "iterations": _optional(_json_int),
    "stages": _json_stages,
    "dashboard": _optional(_json_address),
    "dashboard_public": _json_bool,
    "dashboard_linger": _json_duration,
}


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The parsed ``molotov`` section of a config file, with its ``tests`` mapping checked."""
    try:
        document = read_json(path, CONFIG_LIMIT, "a config file")
    except FileNotFoundError:
        raise ConfigError(f"Can't find the config file {str(path)!r}") from None
    except OSError as exc:
        raise ConfigError(f"Can't read the config file {str(path)!r}: {exc.strerror}") from None
    except FileTooLarge as exc:
        raise ConfigError(str(exc)) from None
    except JSONFileError as exc:
        raise ConfigError(f"Can't parse the config file {str(path)!r}: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("molotov"), dict):
        raise ConfigError(f"Bad config {str(path)!r}: no 'molotov' key")
    section: dict[str, Any] = document["molotov"]
    tests = section.get("tests")
    if not isinstance(tests, dict):
        raise ConfigError(f"Bad config {str(path)!r}: no 'molotov/tests' key")
    for name, entry in tests.items():
        if not isinstance(entry, dict):
            raise ConfigError(f"Bad config {str(path)!r}: test {name!r} must be an object")
    return section


# An unknown key this close to an option's name is taken for a typo of it (difflib's ratio).
TYPO_CUTOFF = 0.75
# Keys a test entry may carry for moloslave's sake (Molotov 2.x's own molotov.json does).
MOLOSLAVE_KEYS = ("env", "requirements")


def _stderr_line(line: str) -> None:
    sys.stderr.write(line + "\n")


def test_options(
    section: Mapping[str, Any],
    name: str,
    path: str | Path,
    warn: Callable[[str], None] = _stderr_line,
) -> dict[str, Any]:
    """The validated, converted options of test ``name`` in a config's ``molotov`` section.

    Molotov 2.x laid every key of a test over its options and used those it knew, so real
    configs carry keys that are not options (``env``, ``requirements``, notes): they are
    ignored, with one line to ``warn``. A key that looks like a typo of an option is refused.
    """
    tests: Mapping[str, Any] = section["tests"]
    if name not in tests:
        # Plain names as they are; the odd one (empty, a newline, ...) quoted, to stay one line.
        shown = [n if n.isprintable() and n.strip() == n and n else repr(n) for n in sorted(tests)]
        available = ", ".join(shown) or "none"
        raise ConfigError(f"Can't find {name!r} in the config (available: {available})")
    where = f"Bad config {str(path)!r}:"
    options: dict[str, Any] = {}
    ignored: list[str] = []
    for key, value in tests[name].items():
        convert = JSON_OPTIONS.get(key)
        if convert is None:
            close = difflib.get_close_matches(key, list(JSON_OPTIONS), 1, TYPO_CUTOFF)
            if close:
                raise ConfigError(
                    f"{where} unknown option {key!r} in test {name!r} (did you mean {close[0]!r}?)"
                )
            ignored.append(key)
            continue
        try:
            options[key] = convert(value)
        except TypeError as exc:
            raise ConfigError(
                f"{where} option {key!r} of test {name!r} must be {exc}, got {reprlib.repr(value)}"
            ) from None
    try:
        RunConfig().replace(**options).check_values()
    except OptionValueError as exc:
        raise ConfigError(f"{where} option {exc.option!r} of test {name!r} {exc.why}") from None
    if ignored:
        why = "not molotov options (Molotov 2.x ignored them too)"
        if set(ignored) & set(MOLOSLAVE_KEYS):
            why += "; moloslave reads 'env' and 'requirements' beside 'tests'"
        keys = ", ".join(repr(key) for key in ignored)
        warn(f"Warning: {str(path)!r}, test {name!r}: ignoring {keys}: {why}")
    return options


def apply_config_file(config: RunConfig, test_name: str) -> tuple[RunConfig, set[str]]:
    """``config`` with the options of ``test_name`` from ``config.config`` laid over it.

    Also returns the names of the options the test entry set.
    """
    assert config.config is not None
    path = Path(config.config)
    options = test_options(read_config_file(path), test_name, path)
    scenario = options.get("scenario", config.scenario)
    if scenario == test_name and "scenario" not in options:
        scenario = DEFAULT_SCENARIO
    # A relative scenario path is taken from the working directory, as Molotov did, or failing
    # that from the config file's own folder, so a config works from anywhere.
    beside = path.parent / scenario
    if not Path(scenario).exists() and beside.exists():
        scenario = str(beside)
    given = set(options)
    options["scenario"] = scenario
    stages = options.get("stages")
    if isinstance(stages, _JsonStages):
        options["stages"] = tuple(stages)
        if stages.as_rate and options.get("rate", config.rate) is None:
            options["rate"] = 0.0  # targets in arrivals/s: the open model, from 0
    return config.replace(**options), given
