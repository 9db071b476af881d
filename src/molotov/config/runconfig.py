"""The run's configuration: one frozen :class:`RunConfig`, built once at the edge.

It comes from the command line, optionally overridden by a test entry of a ``molotov.json``
file (``{"molotov": {"tests": {NAME: {option: value}}}}``, keys are the long option names with
underscores). Everything after the CLI reads this value and nothing else.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import math
import os
import re
import reprlib
import socket
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from molotov.config.jsonfile import JSONFileError, parse_json
from molotov.config.shape import Stage

DEFAULT_SCENARIO = "loadtest.py"
DEFAULT_TEST = "test"
DEFAULT_STATSD_ADDRESS = "udp://localhost:8125"
DEFAULT_STATSD_PREFIX = "molotov"
SIZING_WORKERS = 500
SIZING_RAMP_UP = 300.0
# Below this, "console_update" (0 included: Molotov 2.x's "every tick") means this: redrawing
# more than 20 times a second shows nothing more, and costs the parent a snapshot each time.
MIN_CONSOLE_UPDATE = 0.05
YEAR = 365 * 86400.0  # the longest time an option may say: a longer one is a typo or a hang
MAX_WORKERS = 100_000  # per process: each is a session with its own connections
MAX_PROCESSES = 1024  # each has a ~0.4 MB slot of the shared-memory bus
MAX_COUNT = 10**12  # steps per worker (-r), failures (-f), arrivals: more than any run reaches
ARRIVALS = ("constant", "poisson")
MAX_RATE = 1_000_000.0  # arrivals per second: far beyond what one machine generates
MAX_AGENTS = 10_000  # a cluster run's agents: far beyond what one coordinator follows


class ConfigError(Exception):
    """A configuration problem worth one readable line (exit code 1)."""


class OptionValueError(ConfigError):
    """One option's value is out of its bounds; ``why`` says so without naming it."""

    def __init__(self, option: str, why: str) -> None:
        super().__init__(f"{option} {why}")
        self.option = option
        self.why = why


def _show(value: float) -> str:
    return f"{value:.15g}"


@dataclass(frozen=True)
class Bound:
    """The values a numeric option may take, from ``low`` to ``high``; ``positive``: not 0."""

    low: float
    high: float
    positive: bool = False
    unit: str = ""

    def problem(self, value: float) -> str | None:
        """Why ``value`` is out of bounds, or None."""
        if not math.isfinite(value):
            return f"must be a finite number (got {value})"
        if self.positive and value <= 0:
            return f"must be positive (got {_show(value)})"
        if value < self.low:
            return f"must be at least {_show(self.low)} (got {_show(value)})"
        if value > self.high:
            return f"must be at most {_show(self.high)}{self.unit} (got {_show(value)})"
        return None


_TIME = " s (a year)"
# Every numeric option's bounds, for flags, environment variables and JSON alike (checked by
# RunConfig.check_values). An option added to RunConfig with a number adds a line here.
BOUNDS: Mapping[str, Bound] = {
    "workers": Bound(1, MAX_WORKERS),
    "processes": Bound(1, MAX_PROCESSES),
    "duration": Bound(0, YEAR, positive=True, unit=_TIME),
    "max_runs": Bound(1, MAX_COUNT),
    "ramp_up": Bound(0, YEAR, unit=_TIME),
    "delay": Bound(0, YEAR, unit=_TIME),
    "sizing_tolerance": Bound(0, 100, unit=" %"),
    "console_update": Bound(0, 3600, unit=" s"),
    "verbose": Bound(0, 10),
    "fail": Bound(1, MAX_COUNT),
    "statsd_interval": Bound(0.05, 3600, unit=" s"),
    "step_timeout": Bound(0.001, YEAR, unit=_TIME),
    "graceful_stop": Bound(0, 3600, unit=_TIME),
    "rate": Bound(0, MAX_RATE, unit="/s"),
    "max_workers": Bound(1, MAX_WORKERS),
    "iterations": Bound(1, MAX_COUNT),
    "agent_index": Bound(0, MAX_AGENTS - 1),
    "agent_count": Bound(1, MAX_AGENTS),
}


@dataclass(frozen=True)
class RunConfig:
    """Every option of a run, named after the long command-line flags."""

    scenario: str = DEFAULT_SCENARIO
    workers: int = 1
    processes: int = 1
    duration: float | None = None
    max_runs: int | None = None
    ramp_up: float = 0.0
    delay: float = 0.0
    sizing: bool = False
    sizing_tolerance: float = 5.0
    console_update: float = 0.2
    quiet: bool = False
    verbose: int = 0
    exception: bool = False
    fail: int | None = None
    console: bool = False
    statsd: bool = False
    statsd_address: str = DEFAULT_STATSD_ADDRESS
    uvloop: bool = True
    use_extension: tuple[str, ...] = ()
    force_shutdown: bool = False
    single_mode: str | None = None
    single_run: bool = False
    disable_dns_resolve: bool = False
    config: str | None = None
    debug: bool = False
    demo: bool = False
    threshold: tuple[str, ...] = ()
    report: str | None = None
    html: str | None = None  # --html PATH: the HTML report
    csv: str | None = None  # --csv PREFIX: PREFIX_stats.csv and PREFIX_history.csv
    statsd_prefix: str = DEFAULT_STATSD_PREFIX
    statsd_interval: float = 1.0
    start_at: float | None = None  # epoch seconds
    step_timeout: float = 300.0
    graceful_stop: float = 10.0  # seconds in-flight steps get after a stop, then cancelled
    # The open model (see molotov.worker.scheduler): on when ``rate`` is set (the start rate when
    # there are stages, so 0 is allowed then).
    rate: float | None = None
    arrivals: str = "constant"
    seed: int | None = None
    max_workers: int | None = None
    max_lag: float = 1.0
    iterations: int | None = None
    stages: tuple[Stage, ...] = ()
    # A cluster run (molotov.cluster): this load generator is agent ``agent_index`` of
    # ``agent_count``, each with ``processes`` processes. --rate, --stages and --iterations
    # are the cluster's totals: process p here is process agent_index * processes + p of
    # agent_count * processes in the shares (see process_offset). Set by an agent, not a flag;
    # fixtures read them as ``args.agent_index`` and ``args.agent_count``.
    agent_index: int = 0
    agent_count: int = 1

    @property
    def process_offset(self) -> int:
        """This machine's first process in the cluster-wide numbering of the shares."""
        return self.agent_index * self.processes

    @property
    def process_total(self) -> int:
        """Processes sharing the run's load: every process of every agent."""
        return self.agent_count * self.processes

    @property
    def open_model(self) -> bool:
        return self.rate is not None

    @property
    def pool_limit(self) -> int:
        """Workers a process may have: ``--max-workers`` in the open model, else ``-w``."""
        return self.max_workers if self.max_workers is not None else self.workers

    @property
    def run_length(self) -> float | None:
        """Seconds the run lasts at most: ``-d``, cut short by the end of the last stage.

        With ``--ramp-up`` (closed model), ``-d`` is each worker's, from its start, as in
        Molotov 2.x: the run lasts until the last worker's ``-d`` is over.
        """
        if self.duration and self.ramp_up and not self.stages and not self.open_model:
            return self.duration + self.ramp_start(self.workers - 1)
        ends = [d for d in (self.duration, sum(s.duration for s in self.stages)) if d]
        return min(ends) if ends else None

    def ramp_start(self, worker: int) -> float:
        """Seconds from the start of the run to worker ``worker``'s start (``--ramp-up``)."""
        return worker * self.ramp_up / self.workers

    @property
    def arrival_total(self) -> int | None:
        """The open model's arrivals in all: ``--iterations``, or ``-r`` per worker."""
        if self.iterations is not None:
            return self.iterations
        if self.max_runs is not None:
            return self.max_runs * self.workers * self.process_total
        return None

    def __post_init__(self) -> None:
        if 0 <= self.console_update < MIN_CONSOLE_UPDATE:
            object.__setattr__(self, "console_update", MIN_CONSOLE_UPDATE)

    def replace(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, **changes)

    def as_args(self) -> argparse.Namespace:
        """The ``args`` handed to fixtures: a mutable copy, as Molotov 2.x's argparse namespace."""
        return argparse.Namespace(**dataclasses.asdict(self))

    def check_values(self) -> None:
        """Refuse a numeric option out of its :data:`BOUNDS` (:class:`OptionValueError`)."""
        for name, bound in BOUNDS.items():
            value = getattr(self, name)
            why = None if value is None else bound.problem(value)
            if why is not None:
                raise OptionValueError(name, why)
        # A start time is epoch seconds: before 1970 or past next year is a mistake, and a
        # far one would overflow the clock or wait for ever.
        latest = time.time() + YEAR
        if self.start_at is not None and not 0 <= self.start_at <= latest:
            raise OptionValueError(
                "start_at", f"must be between 1970 and a year from now (got {self.start_at:g})"
            )
        if sum(stage.duration for stage in self.stages) > YEAR:
            raise OptionValueError("stages", "must last at most a year in all")
        if not self.open_model and any(stage.target > MAX_WORKERS for stage in self.stages):
            raise OptionValueError("stages", f"must target at most {MAX_WORKERS} workers")

    def check(self) -> None:
        """Reject values and combinations that no run can honour (raises :class:`ConfigError`)."""
        self.check_values()
        if self.quiet and self.verbose:
            raise ConfigError("You can't use -q and -v at the same time")
        if self.single_mode and self.single_run:
            raise ConfigError("You can't use --single-mode and --single-run at the same time")
        parse_statsd_address(self.statsd_address)
        self.check_model()

    def check_model(self) -> None:
        """The open model's options, and what each model cannot take."""
        if self.stages and self.ramp_up:
            raise ConfigError("--ramp-up and --stages both shape the start: use --stages alone")
        if not self.open_model:
            for name, value in (
                ("max_workers", self.max_workers),
                ("iterations", self.iterations),
            ):
                if value is not None:
                    flag = "--" + name.replace("_", "-")
                    raise ConfigError(f"{flag} is an option of the open model: add --rate")
            for stage in self.stages:
                if stage.target != int(stage.target):
                    raise ConfigError(
                        f"stage target {stage.target:g}: in the closed model a target is a "
                        "number of workers (for arrivals per second, add --rate)"
                    )
            return
        assert self.rate is not None
        if self.rate <= 0 and not self.stages:
            raise ConfigError(f"rate must be positive (got {self.rate:g})")
        if self.rate <= 0 and not any(stage.target > 0 for stage in self.stages):
            raise ConfigError("with --rate and --stages, some rate must be positive")
        refused = {
            "delay": (self.delay > 0, "--delay sleeps between a worker's steps"),
            "single_run": (self.single_run, "--single-run runs every scenario once per worker"),
            "sizing": (self.sizing, "--sizing ramps workers up"),
            "ramp_up": (self.ramp_up > 0, "--ramp-up starts workers one after the other"),
        }
        for name, (given, what) in refused.items():
            if given:
                raise ConfigError(
                    f"--{name.replace('_', '-')} does not apply to the open model (--rate): "
                    f"{what}, while arrivals come at the rate whatever the workers do"
                )
        if self.arrivals not in ARRIVALS:
            raise ConfigError(
                f"arrivals must be one of {', '.join(ARRIVALS)} (got {self.arrivals!r})"
            )
        if self.max_workers is not None and self.max_workers < self.workers:
            raise ConfigError(
                f"--max-workers {self.max_workers} is below -w {self.workers}: the pool starts "
                "with -w workers and grows up to --max-workers"
            )
        if self.iterations is not None and self.max_runs is not None:
            raise ConfigError("-r and --iterations both count the arrivals: give one")
        if not 0 < self.max_lag <= 3600:
            raise ConfigError(f"max_lag must be above 0 and at most 3600 s (got {self.max_lag:g})")


_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse_duration(text: str | float) -> float:
    """Seconds from ``30``, ``1.5``, ``30s``, ``5m``, ``1h`` or ``1h30m`` (finite only)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    elif not isinstance(text, str):
        raise ValueError(f"not a duration: {text!r}")
    else:
        value = text.strip().lower()
        try:
            seconds = float(value)
        except ValueError:
            parts = _DURATION_PART.findall(value)
            if not parts or "".join(n + u for n, u in parts) != value:
                raise ValueError(
                    f"not a duration: {text!r} (use seconds, or e.g. 30s, 5m, 1h)"
                ) from None
            seconds = sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)
    # float() also reads "nan" and "inf": a run would then never reach its deadline.
    if not math.isfinite(seconds):
        raise ValueError(f"not a duration: {text!r} (it must be a finite number of seconds)")
    return seconds


def parse_start_at(text: str | float) -> float:
    """Epoch seconds from ``1767225600.5`` or an ISO 8601 time (UTC when it names no zone)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    elif isinstance(text, str):
        try:
            value = float(text)
        except ValueError:
            try:
                moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(
                    f"not a start time: {text!r} (use epoch seconds or ISO 8601, "
                    "e.g. 2026-11-26T15:00:00Z)"
                ) from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
            value = moment.timestamp()
    else:
        raise ValueError(f"not a start time: {text!r}")
    if not math.isfinite(value):
        raise ValueError(f"not a start time: {text!r}")
    return value


_RATE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(?:/(s|m|h|min))?")
_PER_UNIT = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_rate(text: str | float) -> float:
    """Arrivals per second from ``100``, ``100/s``, ``6000/m`` or ``50/h`` (0 included)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    elif isinstance(text, str):
        match = _RATE.fullmatch(text.strip().lower().replace(" ", ""))
        if not match:
            raise ValueError(f"not a rate: {text!r} (use e.g. 100, 100/s, 6000/m)")
        value = float(match.group(1)) / _PER_UNIT[match.group(2) or "s"]
    else:
        raise ValueError(f"not a rate: {text!r}")
    if not math.isfinite(value) or not 0 <= value <= MAX_RATE:
        raise ValueError(f"not a rate: {text!r} (from 0 to {MAX_RATE:,.0f}/s)")
    return value


def parse_stages(stages: str | list[Any]) -> tuple[tuple[Stage, ...], bool]:
    """Stages from ``30s:100,2m:100,30s:0`` or ``[{"duration": "30s", "target": 100}, ...]``.

    Also says whether a target was written as a rate (``100/s``): that selects the open model.
    """
    pairs: list[tuple[Any, Any]] = []
    if isinstance(stages, str):
        for part in stages.split(","):
            duration, colon, target = part.strip().partition(":")
            if not colon or not duration or not target:
                raise ValueError(
                    f"not a stage: {part.strip()!r} (use DURATION:TARGET, e.g. 30s:100)"
                )
            pairs.append((duration, target))
    elif isinstance(stages, list):
        for item in stages:
            if not isinstance(item, dict) or set(item) != {"duration", "target"}:
                raise ValueError(
                    f'not a stage: {item!r} (use {{"duration": "30s", "target": 100}})'
                )
            pairs.append((item["duration"], item["target"]))
    else:
        raise ValueError(f"not a list of stages: {stages!r}")
    if not pairs:
        raise ValueError("no stage given")
    result = []
    for duration, target in pairs:
        seconds = parse_duration(duration)
        if seconds <= 0:
            raise ValueError(f"stage {duration}:{target}: a stage lasts more than 0 s")
        result.append(Stage(seconds, parse_rate(target)))
    as_rate = any(isinstance(target, str) and "/" in target for _, target in pairs)
    return tuple(result), as_rate


def parse_statsd_address(address: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of ``udp://HOST:PORT`` or ``tcp://HOST:PORT``."""
    parts = urlsplit(address)
    if parts.scheme not in ("udp", "tcp"):
        raise ConfigError(f"statsd address {address!r}: the scheme must be udp:// or tcp://")
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"statsd address {address!r}: {exc}") from None
    if not parts.hostname or not port:
        raise ConfigError(f"statsd address {address!r}: expected {parts.scheme}://HOST:PORT")
    return parts.scheme, parts.hostname, port


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
        raise TypeError("a duration (seconds, or a string like '30s', '5m')") from None


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
    "ramp_up": _json_float,
    "delay": _json_float,
    "sizing": _json_bool,
    "sizing_tolerance": _json_float,
    "console_update": _json_float,
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
    "statsd_interval": _json_float,
    "start_at": _optional(_json_start_at),
    "step_timeout": _json_float,
    "graceful_stop": _json_duration,
    "rate": _optional(_json_rate),
    "arrivals": _json_str,
    "seed": _optional(_json_int),
    "max_workers": _optional(_json_int),
    "max_lag": _json_float,
    "iterations": _optional(_json_int),
    "stages": _json_stages,
}


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The parsed ``molotov`` section of a config file, with its ``tests`` mapping checked."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"Can't find the config file {str(path)!r}") from None
    except OSError as exc:
        raise ConfigError(f"Can't read the config file {str(path)!r}: {exc.strerror}") from None
    try:
        document = parse_json(data)
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


def apply_sizing_defaults(config: RunConfig, explicit: set[str]) -> RunConfig:
    """``--sizing`` ramps 500 workers over 300 s unless ``-w``/``--ramp-up`` were given."""
    if not config.sizing:
        return config
    changes: dict[str, Any] = {}
    if "workers" not in explicit:
        changes["workers"] = SIZING_WORKERS
    if "ramp_up" not in explicit:
        changes["ramp_up"] = SIZING_RAMP_UP
    return config.replace(**changes)


def expand_placeholders(text: str) -> str:
    """``{hostname}`` and ``{index}`` (a Kubernetes Indexed Job's ``JOB_COMPLETION_INDEX``,
    else 0) in a report path or a StatsD prefix, so every load generator gets its own."""
    return text.replace("{hostname}", socket.gethostname()).replace(
        "{index}", os.environ.get("JOB_COMPLETION_INDEX", "0")
    )
