"""The run's configuration: one frozen :class:`RunConfig`, built once at the edge.

It comes from the command line (:mod:`molotov.cli_options`), optionally overridden by a test
entry of a ``molotov.json`` file (:mod:`molotov.config.jsonconfig`); option values are read by
:mod:`molotov.config.parsers`. This module holds the value, the bounds of its numbers and the
checks of its combinations. Everything after the CLI reads this value and nothing else.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from molotov.config.errors import ConfigError, OptionValueError
from molotov.config.parsers import (
    MAX_RATE,
    is_loopback,
    job_completion_index,
    parse_dashboard,
    parse_remote_write_url,
    parse_statsd_address,
)
from molotov.config.shape import Stage

DEFAULT_SCENARIO = "loadtest.py"
DEFAULT_STATSD_ADDRESS = "udp://localhost:8125"
DEFAULT_STATSD_PREFIX = "molotov"
SIZING_WORKERS = 500
SIZING_RAMP_UP = 300.0
# Below this, "console_update" (0 included: Molotov 2.x's "every tick") means this: redrawing
# more than 20 times a second shows nothing more, and costs the parent a snapshot each time.
MIN_CONSOLE_UPDATE = 0.05
YEAR = 365 * 86400.0  # the longest time an option may say: a longer one is a typo or a hang
MAX_WORKERS = 100_000  # per process: each is a session with its own connections
MAX_PROCESSES = 1024  # each has a slot of the shared-memory bus (see MAX_REQUEST_NAMES)
# Request names per process: each has a 22 KB entry in the process's slot of the bus (tmpfs
# allocates only the pages written: a name never seen costs no memory).
DEFAULT_MAX_REQUEST_NAMES = 300
MAX_REQUEST_NAMES = 5000
MAX_COUNT = 10**12  # steps per worker (-r), failures (-f), arrivals: more than any run reaches
MAX_AGENTS = 10_000  # a cluster run's agents: far beyond what one coordinator follows
ARRIVALS = ("constant", "poisson")


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
    "prometheus_rw_interval": Bound(0.1, 3600, unit=" s"),
    "step_timeout": Bound(0.001, YEAR, unit=_TIME),
    "graceful_stop": Bound(0, 3600, unit=_TIME),
    "rate": Bound(0, MAX_RATE, unit="/s"),
    "max_workers": Bound(1, MAX_WORKERS),
    "max_request_names": Bound(2, MAX_REQUEST_NAMES),
    "iterations": Bound(1, MAX_COUNT),
    "agent_index": Bound(0, MAX_AGENTS - 1),
    "agent_count": Bound(1, MAX_AGENTS),
    "dashboard_linger": Bound(0, YEAR, unit=_TIME),
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
    csv: str | None = None  # --csv PREFIX: PREFIX_stats.csv, _failures, _scenarios, _history
    statsd_prefix: str = DEFAULT_STATSD_PREFIX
    statsd_interval: float = 1.0
    # Prometheus remote write (molotov.live.prometheus): the endpoint, and the time between
    # two sends (the run's cumulative numbers; one more at the end).
    prometheus_rw: str | None = None
    prometheus_rw_interval: float = 5.0
    start_at: float | None = None  # epoch seconds
    step_timeout: float = 300.0
    graceful_stop: float = 10.0  # seconds in-flight steps get after a stop, then cancelled
    # The open model (see molotov.worker.arrivals): on when ``rate`` is set (the start rate when
    # there are stages, so 0 is allowed then).
    rate: float | None = None
    arrivals: str = "constant"
    seed: int | None = None
    max_workers: int | None = None
    # The per-request table's room for names in each process (molotov.stats.requests).
    max_request_names: int = DEFAULT_MAX_REQUEST_NAMES
    max_lag: float = 1.0
    iterations: int | None = None
    stages: tuple[Stage, ...] = ()
    # --dashboard [HOST:]PORT: the live page of the run (molotov.live.dashboard); a host
    # beyond loopback only with dashboard_public (then a token in the URL); the final page
    # stays served for dashboard_linger seconds after the run.
    dashboard: str | None = None
    dashboard_public: bool = False
    dashboard_linger: float = 0.0
    # A cluster run (molotov.cluster): this load generator is agent ``agent_index`` of
    # ``agent_count``, each with ``processes`` processes. --rate, --stages and --iterations
    # are the cluster's totals: process p here is process agent_index * processes + p of
    # agent_count * processes in the shares (see process_offset). Set by an agent, not a flag
    # (with ``cluster_agent``); fixtures read them as ``args.agent_index`` and
    # ``args.agent_count``.
    agent_index: int = 0
    agent_count: int = 1
    cluster_agent: bool = False

    @property
    def generator_index(self) -> int:
        """This load generator's index, what ``{index}`` expands to (the StatsD prefix, the
        report paths): a cluster agent's is the one its coordinator gave it (with ``--pods``,
        the pod's completion index); any other run's, its Kubernetes Indexed Job's
        ``JOB_COMPLETION_INDEX`` (moloslave's Jobs), else 0."""
        return self.agent_index if self.cluster_agent else job_completion_index()

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
        if self.prometheus_rw is not None:
            parse_remote_write_url(self.prometheus_rw)
        self.check_dashboard()
        self.check_model()

    def check_dashboard(self) -> None:
        """``--dashboard``'s address, on loopback unless ``--dashboard-public`` says otherwise."""
        if self.dashboard is None:
            return
        try:
            host, _ = parse_dashboard(self.dashboard)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if not self.dashboard_public and not is_loopback(host):
            raise ConfigError(
                f"--dashboard {self.dashboard!r} would serve the run beyond this machine: add "
                "--dashboard-public to mean it (its URL then carries a token), or use a "
                "loopback address (127.0.0.1, the default)"
            )

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
