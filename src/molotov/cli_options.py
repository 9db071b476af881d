"""The ``molotov`` command's options (typer annotations) and their conversion to a RunConfig.

:mod:`molotov.cli` declares the command with these annotations; :func:`config_from_options`
turns the parsed values into the one :class:`RunConfig` everything after the CLI reads.
A default is written twice, here and in RunConfig: tests/test_cli_defaults.py holds them equal.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Annotated, Any

import typer

from molotov._version import __version__
from molotov.config.errors import ConfigError
from molotov.config.parsers import (
    parse_duration,
    parse_rate,
    parse_remote_write_url,
    parse_stages,
    parse_start_at,
    parse_statsd_address,
)
from molotov.config.runconfig import RunConfig
from molotov.config.shape import Stage
from molotov.reports.thresholds import ThresholdError, metrics_help, parse_thresholds


def _version(value: bool) -> None:
    if value:
        print(__version__)
        raise typer.Exit(0)


def _statsd_address(value: str) -> str:
    try:
        parse_statsd_address(value)
    except ConfigError as exc:
        raise typer.BadParameter(str(exc)) from None
    return value


def _remote_write_url(value: str | None) -> str | None:
    try:
        return None if value is None else parse_remote_write_url(value)
    except ConfigError as exc:
        raise typer.BadParameter(str(exc)) from None


def _thresholds(values: list[str] | None) -> list[str]:
    try:
        parse_thresholds(values or ())
    except ThresholdError as exc:
        raise typer.BadParameter(str(exc)) from None
    return values or []


# Described in the command's help: typer would show an argument's Python type beside it.
Scenario = Annotated[str, typer.Argument(metavar="SCENARIO", hidden=True)]
Workers = Annotated[int, typer.Option("-w", "--workers", metavar="N", help="Workers per process.")]
Processes = Annotated[int, typer.Option("-p", "--processes", metavar="N", help="Worker processes.")]
Duration = Annotated[
    str | None,
    typer.Option(
        "-d",
        "--duration",
        metavar="DURATION",
        help="How long the run lasts (default: until stopped). Every DURATION is seconds, "
        "or 500ms, 30s, 5m, 1h, 1h30m.",
    ),
]
MaxRuns = Annotated[
    int | None, typer.Option("-r", "--max-runs", metavar="N", help="Steps per worker.")
]
RampUp = Annotated[
    str, typer.Option("--ramp-up", metavar="DURATION", help="Time over which workers start.")
]
Delay = Annotated[
    str, typer.Option("--delay", metavar="DURATION", help="Time to sleep after every step.")
]
Sizing = Annotated[
    bool, typer.Option("--sizing", help="Ramp workers up until failures exceed the tolerance.")
]
SizingTolerance = Annotated[
    float,
    typer.Option("--sizing-tolerance", metavar="PERCENT", help="Failure/success ratio, in %."),
]
ConsoleUpdate = Annotated[
    str,
    typer.Option("--console-update", metavar="DURATION", help="Time between console updates."),
]
Quiet = Annotated[bool, typer.Option("-q", "--quiet", help="Print nothing on stdout.")]
Verbose = Annotated[
    int,
    typer.Option(
        "-v", "--verbose", count=True, help="-v: tracebacks; -vv: requests and responses."
    ),
]
Exception_ = Annotated[
    bool, typer.Option("-x", "--exception", help="Stop everything at the first failure.")
]
Fail = Annotated[
    int | None, typer.Option("-f", "--fail", metavar="N", help="Stop and exit 1 at N failures.")
]
Console = Annotated[
    bool, typer.Option("-c", "--console", help="Plain console lines instead of a live view.")
]
Statsd = Annotated[bool, typer.Option("--statsd", help="Send metrics to StatsD.")]
StatsdAddress = Annotated[
    str,
    typer.Option(
        "--statsd-address",
        metavar="URL",
        callback=_statsd_address,
        help="udp://HOST:PORT or tcp://HOST:PORT.",
    ),
]
StatsdPrefix = Annotated[
    str,
    typer.Option(
        "--statsd-prefix",
        metavar="PREFIX",
        help="Prefix of the run's metrics; {hostname} and {index} expand.",
    ),
]
StatsdInterval = Annotated[
    str,
    typer.Option("--statsd-interval", metavar="DURATION", help="Time between two StatsD flushes."),
]
PrometheusRw = Annotated[
    str | None,
    typer.Option(
        "--prometheus-rw",
        metavar="URL",
        callback=_remote_write_url,
        help="Send the run's metrics to this Prometheus remote-write endpoint "
        "(e.g. http://localhost:9090/api/v1/write; needs molotov[prometheus]).",
    ),
]
PrometheusRwInterval = Annotated[
    str,
    typer.Option(
        "--prometheus-rw-interval",
        metavar="DURATION",
        help="Time between two Prometheus remote writes (one more at the end).",
    ),
]
Threshold = Annotated[
    list[str] | None,
    typer.Option(
        "--threshold",
        metavar="EXPR",
        callback=_thresholds,
        help=(
            "A pass/fail gate (repeatable; a failed one exits 99): [SCENARIO:]METRIC OP VALUE "
            "or [REQUEST NAME]:METRIC OP VALUE, e.g. 'p99<250ms', 'login:failure_rate<1%', "
            "'[GET /items/{id}]:p95<200ms', 'status_503<1', 'checks>=99%'. OP: < <= > >=. "
            f"METRIC: {metrics_help()}."
        ),
    ),
]
Report = Annotated[
    str | None,
    typer.Option(
        "--report",
        metavar="FILE",
        help="Write a JSON report there at the end ('-': as the last line of stdout).",
    ),
]
Html = Annotated[
    str | None,
    typer.Option(
        "--html", metavar="FILE", help="Write a self-contained HTML report there at the end."
    ),
]
Csv = Annotated[
    str | None,
    typer.Option(
        "--csv",
        metavar="PREFIX",
        help="Write PREFIX_stats.csv, _failures.csv, _scenarios.csv and _history.csv at the end.",
    ),
]
StepTimeout = Annotated[
    str,
    typer.Option(
        "--step-timeout",
        metavar="DURATION",
        help="Fail (and cancel) a step running longer than this.",
    ),
]
GracefulStop = Annotated[
    str,
    typer.Option(
        "--graceful-stop",
        metavar="DURATION",
        help="After a stop (-d, Ctrl-C, ...), in-flight steps get this long, then are cancelled.",
    ),
]
Rate = Annotated[
    str | None,
    typer.Option(
        "--rate",
        metavar="RATE",
        help="Open model: R step starts per second for the whole run (100, 100/s, 6000/m).",
    ),
]
Arrivals = Annotated[
    str,
    typer.Option(
        "--arrivals",
        metavar="constant|poisson",
        help="Open model: 'constant' spacing or 'poisson' (random) arrivals.",
    ),
]
Seed = Annotated[
    int | None,
    typer.Option("--seed", metavar="N", help="Seed of the random arrivals and scenario picks."),
]
MaxWorkers = Annotated[
    int | None,
    typer.Option(
        "--max-workers", metavar="N", help="Open model: the pool grows up to N workers per process."
    ),
]
MaxRequestNames = Annotated[
    int,
    typer.Option(
        "--max-request-names",
        metavar="N",
        help="Distinct request names counted per process; past it, requests go to 'other'.",
    ),
]
MaxLag = Annotated[
    str,
    typer.Option(
        "--max-lag",
        metavar="DURATION",
        help="Open model: an arrival not started after this long is dropped.",
    ),
]
Iterations = Annotated[
    int | None,
    typer.Option("--iterations", metavar="N", help="Open model: N arrivals in all, then stop."),
]
Stages = Annotated[
    str | None,
    typer.Option(
        "--stages",
        metavar="STAGES",
        help="Linear ramps DURATION:TARGET,... (workers; arrivals/s with --rate or '/s').",
    ),
]
Dashboard = Annotated[
    str | None,
    typer.Option(
        "--dashboard",
        metavar="[HOST:]PORT",
        help="Serve the run's report page, updating live, there (host: 127.0.0.1; port 0: any "
        "free one); its URL is printed at the start.",
    ),
]
DashboardPublic = Annotated[
    bool,
    typer.Option(
        "--dashboard-public",
        help="Let --dashboard listen beyond loopback; its URL then carries a random token.",
    ),
]
DashboardLinger = Annotated[
    str,
    typer.Option(
        "--dashboard-linger",
        metavar="DURATION",
        help="Keep serving the dashboard's final report this long after the run (Ctrl-C ends it).",
    ),
]
StartAt = Annotated[
    str | None,
    typer.Option(
        "--start-at",
        metavar="TIME",
        help="Start the workers at this time: epoch seconds or ISO 8601 UTC.",
    ),
]
Uvloop = Annotated[
    bool, typer.Option("--uvloop/--no-uvloop", help="Run workers on uvloop (default).")
]
UseExtension = Annotated[
    list[str] | None,
    typer.Option(
        "--use-extension", metavar="EXTENSION", help="Extension file or module (one or more)."
    ),
]
ForceShutdown = Annotated[
    bool, typer.Option("--force-shutdown", help="Cancel in-flight steps when stopping.")
]
SingleMode = Annotated[
    str | None,
    typer.Option("-s", "--single-mode", metavar="SCENARIO", help="Run only this scenario."),
]
SingleRun = Annotated[
    bool, typer.Option("--single-run", help="Each worker runs every scenario once.")
]
DisableDnsResolve = Annotated[
    bool, typer.Option("--disable-dns-resolve", help="Resolve host names on every request.")
]
Config = Annotated[
    str | None,
    typer.Option("--config", metavar="FILE", help="A molotov.json file; SCENARIO is the test."),
]
Debug = Annotated[bool, typer.Option("--debug", help="Run event loops in debug mode.")]
Demo = Annotated[
    bool, typer.Option("--demo", help="Run a bundled scenario against a built-in server.")
]
Version = Annotated[
    bool | None,
    typer.Option(
        "--version",
        callback=_version,
        is_eager=True,
        allow_from_autoenv=False,  # a MOLOTOV_VERSION variable must not hijack a run
        help="Print the version.",
    ),
]


def seconds(parse: Callable[[str], float], value: str | None, name: str) -> float | None:
    """A duration or a time from option ``name`` (None when not given); a bad one is a usage
    error naming the flag."""
    if value is None:
        return None
    try:
        return parse(value)
    except ValueError as exc:
        flag = "--" + name.replace("_", "-")
        raise typer.BadParameter(str(exc), param_hint=f"'{flag}'") from None


# The options that are durations: each read by parse_duration, the one reader of every
# duration (flags, MOLOTOV_* variables and molotov.json alike).
DURATIONS = (
    "duration",
    "ramp_up",
    "delay",
    "console_update",
    "statsd_interval",
    "prometheus_rw_interval",
    "step_timeout",
    "graceful_stop",
    "max_lag",
    "dashboard_linger",
)


def _stages(value: str | None) -> tuple[tuple[Stage, ...], bool]:
    if value is None:
        return (), False
    try:
        return parse_stages(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--stages'") from None


def _rate(value: str | None, stages: tuple[tuple[Stage, ...], bool]) -> float | None:
    """The open model's (start) rate; stages written in arrivals/s start from 0."""
    if value is None:
        return 0.0 if stages[1] else None
    try:
        return parse_rate(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--rate'") from None


_FIELDS = frozenset(f.name for f in dataclasses.fields(RunConfig))


def config_from_options(options: Mapping[str, Any]) -> RunConfig:
    """The RunConfig of the command's parsed values (click's ``ctx.params``).

    Options that are RunConfig fields as they are pass through; the written durations, times,
    rate and stages are parsed here (a bad one is a usage error), repeatable ones become tuples.
    """
    stages = _stages(options["stages"])
    values = {name: value for name, value in options.items() if name in _FIELDS}
    values.update({name: seconds(parse_duration, options[name], name) for name in DURATIONS})
    values.update(
        start_at=seconds(parse_start_at, options["start_at"], "start_at"),
        rate=_rate(options["rate"], stages),
        stages=stages[0],
        use_extension=tuple(options["use_extension"] or ()),
        threshold=tuple(options["threshold"] or ()),
    )
    return RunConfig(**values)
