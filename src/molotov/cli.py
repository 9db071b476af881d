"""The ``molotov`` command line: Molotov 2.x's flags, parsed with typer into a RunConfig.

Only this module knows about flags. Heavy imports (aiohttp, the runner) wait until a run
really starts, so ``--help`` and ``--version`` stay fast.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import typer

from molotov._version import __version__
from molotov.cluster.kube.options import DEFAULT_CPU, DEFAULT_MEMORY, PodOptions
from molotov.cluster.options import DEFAULT_LISTEN, ClusterOptions
from molotov.config.runconfig import (
    DEFAULT_SCENARIO,
    DEFAULT_STATSD_ADDRESS,
    DEFAULT_STATSD_PREFIX,
    ConfigError,
    OptionValueError,
    RunConfig,
    parse_duration,
    parse_rate,
    parse_stages,
    parse_start_at,
    parse_statsd_address,
)
from molotov.config.shape import Stage
from molotov.reports.thresholds import ThresholdError, parse_thresholds
from molotov.stdio import survive_closed_pipes

app = typer.Typer(
    add_completion=False,
    # Every option can also come from MOLOTOV_<LONG_OPTION> (MOLOTOV_START_AT, ...), which is
    # how a container or a Kubernetes Job configures a run; the command line wins.
    context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "MOLOTOV"},
    rich_markup_mode=None,
)


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


def _thresholds(values: list[str] | None) -> list[str]:
    try:
        parse_thresholds(values or ())
    except ThresholdError as exc:
        raise typer.BadParameter(str(exc)) from None
    return values or []


def _seconds(parse: Callable[[str], float], value: str | None) -> float | None:
    """A duration or a time from its flag (None when not given); a bad one is a usage error."""
    if value is None:
        return None
    try:
        return parse(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


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


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether a parameter was set on the command line (or the environment), not defaulted."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name != "DEFAULT"


def _check_values(ctx: typer.Context, config: RunConfig) -> None:
    """Bounds of the numeric flags (RunConfig's, the same as JSON's): a usage error (exit 2)."""
    try:
        config.check_values()
    except OptionValueError as exc:
        param: Any = next((p for p in ctx.command.params if p.name == exc.option), None)
        raise typer.BadParameter(exc.why, ctx=ctx, param=param) from None


@app.command(help="Load test an HTTP service with the scenarios of SCENARIO.")
def molotov(
    ctx: typer.Context,
    scenario: Annotated[
        str,
        typer.Argument(
            help="Scenario file path or dotted module name; with --config, the test name."
        ),
    ] = DEFAULT_SCENARIO,
    workers: Annotated[int, typer.Option("-w", "--workers", help="Workers per process.")] = 1,
    processes: Annotated[int, typer.Option("-p", "--processes", help="Worker processes.")] = 1,
    duration: Annotated[
        str | None,
        typer.Option(
            "-d", "--duration", help="Duration: seconds, or 30s, 5m, 1h. Default: unlimited."
        ),
    ] = None,
    max_runs: Annotated[
        int | None, typer.Option("-r", "--max-runs", help="Steps per worker.")
    ] = None,
    ramp_up: Annotated[
        float, typer.Option("--ramp-up", help="Seconds over which workers start.")
    ] = 0.0,
    delay: Annotated[
        float, typer.Option("--delay", help="Seconds to sleep after every step.")
    ] = 0.0,
    sizing: Annotated[
        bool, typer.Option("--sizing", help="Ramp workers up until failures exceed the tolerance.")
    ] = False,
    sizing_tolerance: Annotated[
        float, typer.Option("--sizing-tolerance", help="Failure/success ratio, in %.")
    ] = 5.0,
    console_update: Annotated[
        float,
        typer.Option("--console-update", help="Seconds between console updates."),
    ] = 0.2,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Print nothing on stdout.")] = False,
    verbose: Annotated[
        int,
        typer.Option(
            "-v", "--verbose", count=True, help="-v: tracebacks; -vv: requests and responses."
        ),
    ] = 0,
    exception: Annotated[
        bool, typer.Option("-x", "--exception", help="Stop everything at the first failure.")
    ] = False,
    fail: Annotated[
        int | None, typer.Option("-f", "--fail", help="Stop and exit 1 at N failures.")
    ] = None,
    console: Annotated[
        bool, typer.Option("-c", "--console", help="Plain console lines instead of a live view.")
    ] = False,
    statsd: Annotated[bool, typer.Option("--statsd", help="Send metrics to StatsD.")] = False,
    statsd_address: Annotated[
        str,
        typer.Option(
            "--statsd-address",
            callback=_statsd_address,
            help="udp://HOST:PORT or tcp://HOST:PORT.",
        ),
    ] = DEFAULT_STATSD_ADDRESS,
    statsd_prefix: Annotated[
        str,
        typer.Option(
            "--statsd-prefix", help="Prefix of the run's metrics; {hostname} and {index} expand."
        ),
    ] = DEFAULT_STATSD_PREFIX,
    statsd_interval: Annotated[
        float,
        typer.Option("--statsd-interval", help="Seconds between two StatsD flushes."),
    ] = 1.0,
    threshold: Annotated[
        list[str] | None,
        typer.Option(
            "--threshold",
            callback=_thresholds,
            help="A pass/fail gate, e.g. 'p99<250ms' or 'login:failure_rate<1%' (repeatable).",
        ),
    ] = None,
    report: Annotated[
        str | None,
        typer.Option(
            "--report",
            help="Write a JSON report there at the end ('-': as the last line of stdout).",
        ),
    ] = None,
    html: Annotated[
        str | None,
        typer.Option("--html", help="Write a self-contained HTML report there at the end."),
    ] = None,
    csv: Annotated[
        str | None,
        typer.Option("--csv", help="Write PREFIX_stats.csv and PREFIX_history.csv at the end."),
    ] = None,
    step_timeout: Annotated[
        float,
        typer.Option("--step-timeout", help="Fail (and cancel) a step running longer than this."),
    ] = 300.0,
    graceful_stop: Annotated[
        str,
        typer.Option(
            "--graceful-stop",
            help="After a stop (-d, Ctrl-C, ...), in-flight steps get this long, then are "
            "cancelled.",
        ),
    ] = "10s",
    rate: Annotated[
        str | None,
        typer.Option(
            "--rate",
            help="Open model: R step starts per second for the whole run (100, 100/s, 6000/m).",
        ),
    ] = None,
    arrivals: Annotated[
        str,
        typer.Option(
            "--arrivals", help="Open model: 'constant' spacing or 'poisson' (random) arrivals."
        ),
    ] = "constant",
    seed: Annotated[
        int | None,
        typer.Option("--seed", help="Seed of the random arrivals and scenario picks."),
    ] = None,
    max_workers: Annotated[
        int | None,
        typer.Option(
            "--max-workers", help="Open model: the pool grows up to N workers per process."
        ),
    ] = None,
    max_lag: Annotated[
        str,
        typer.Option(
            "--max-lag", help="Open model: an arrival not started after this long is dropped."
        ),
    ] = "1s",
    iterations: Annotated[
        int | None,
        typer.Option("--iterations", help="Open model: N arrivals in all, then stop."),
    ] = None,
    stages: Annotated[
        str | None,
        typer.Option(
            "--stages",
            help="Linear ramps DURATION:TARGET,... (workers; arrivals/s with --rate or '/s').",
        ),
    ] = None,
    start_at: Annotated[
        str | None,
        typer.Option(
            "--start-at",
            help="Start the workers at this time: epoch seconds or ISO 8601 UTC.",
        ),
    ] = None,
    uvloop: Annotated[
        bool, typer.Option("--uvloop/--no-uvloop", help="Run workers on uvloop (default).")
    ] = True,
    use_extension: Annotated[
        list[str] | None,
        typer.Option("--use-extension", help="Extension file or module (one or more)."),
    ] = None,
    force_shutdown: Annotated[
        bool, typer.Option("--force-shutdown", help="Cancel in-flight steps when stopping.")
    ] = False,
    single_mode: Annotated[
        str | None, typer.Option("-s", "--single-mode", help="Run only this scenario.")
    ] = None,
    single_run: Annotated[
        bool, typer.Option("--single-run", help="Each worker runs every scenario once.")
    ] = False,
    disable_dns_resolve: Annotated[
        bool, typer.Option("--disable-dns-resolve", help="Resolve host names on every request.")
    ] = False,
    config: Annotated[
        str | None, typer.Option("--config", help="A molotov.json file; SCENARIO is the test.")
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Run event loops in debug mode.")] = False,
    demo: Annotated[
        bool, typer.Option("--demo", help="Run a bundled scenario against a built-in server.")
    ] = False,
    # -- cluster runs (molotov.cluster) -------------------------------------------------
    agents: Annotated[
        str | None,
        typer.Option(
            "--agents",
            help="Run on these agents (URL,URL,...; molotov --agent on each), token from "
            "MOLOTOV_AGENT_TOKEN; -p/-w per agent, --rate/--stages/--iterations in all.",
        ),
    ] = None,
    agent: Annotated[
        bool,
        typer.Option("--agent", help="Be an agent: serve the cluster API (see --listen)."),
    ] = False,
    listen: Annotated[
        str, typer.Option("--listen", help="The agent's HOST:PORT.")
    ] = DEFAULT_LISTEN,
    agent_token_file: Annotated[
        str | None,
        typer.Option("--agent-token-file", help="Read the agent token there, not from the env."),
    ] = None,
    agent_deadman: Annotated[
        str,
        typer.Option(
            "--agent-deadman",
            help="An agent stops itself after this long without a call from its coordinator.",
        ),
    ] = "60s",
    ready_timeout: Annotated[
        str,
        typer.Option(
            "--ready-timeout", help="How long the coordinator waits for every agent to hold."
        ),
    ] = "120s",
    # -- end of cluster runs ------------------------------------------------------------
    # -- Kubernetes cluster runs (molotov.cluster.kube) ---------------------------------
    pods: Annotated[
        int | None,
        typer.Option(
            "--pods",
            help="Run on N pods of an Indexed Job in the kubeconfig's cluster (needs --image; "
            "pip install 'molotov[kubernetes]'); -p/-w per pod, --rate/--stages/--iterations "
            "in all.",
        ),
    ] = None,
    image: Annotated[
        str | None, typer.Option("--image", help="--pods: the molotov image the pods run.")
    ] = None,
    namespace: Annotated[
        str | None,
        typer.Option("--namespace", help="--pods: the namespace (default: the context's)."),
    ] = None,
    context: Annotated[
        str | None,
        typer.Option("--context", help="--pods: the kubeconfig context (default: current)."),
    ] = None,
    cpu: Annotated[
        str, typer.Option("--cpu", help="--pods: CPU requested per pod (250m, 1, 2; no limit).")
    ] = DEFAULT_CPU,
    memory: Annotated[
        str,
        typer.Option("--memory", help="--pods: memory per pod, requested and the limit (512Mi)."),
    ] = DEFAULT_MEMORY,
    repo: Annotated[
        str | None,
        typer.Option(
            "--repo",
            help="--pods: the pods clone this git repository (SCENARIO is a path in it) and "
            "install the requirements its molotov.json names, instead of shipping SCENARIO.",
        ),
    ] = None,
    ref: Annotated[
        str | None,
        typer.Option("--ref", help="--repo: branch, tag or commit, pinned to one commit."),
    ] = None,
    print_role: Annotated[
        bool,
        typer.Option(
            "--print-role",
            help="Print the Role (and a RoleBinding template) that --pods needs in --namespace, "
            "then exit.",
        ),
    ] = False,
    # -- end of Kubernetes cluster runs -------------------------------------------------
    version: Annotated[
        bool | None,
        typer.Option(
            "--version",
            callback=_version,
            is_eager=True,
            allow_from_autoenv=False,  # a MOLOTOV_VERSION variable must not hijack a run
            help="Print the version.",
        ),
    ] = None,
) -> None:
    if print_role:
        from molotov.cluster.kube.rbac import role_yaml

        print(role_yaml(namespace or "default"), end="")
        raise typer.Exit(0)
    stage_list = _stages(stages)
    run_config = RunConfig(
        scenario=scenario,
        workers=workers,
        processes=processes,
        duration=_seconds(parse_duration, duration),
        max_runs=max_runs,
        ramp_up=ramp_up,
        delay=delay,
        sizing=sizing,
        sizing_tolerance=sizing_tolerance,
        console_update=console_update,
        quiet=quiet,
        verbose=verbose,
        exception=exception,
        fail=fail,
        console=console,
        statsd=statsd,
        statsd_address=statsd_address,
        uvloop=uvloop,
        use_extension=tuple(use_extension or ()),
        force_shutdown=force_shutdown,
        single_mode=single_mode,
        single_run=single_run,
        disable_dns_resolve=disable_dns_resolve,
        config=config,
        debug=debug,
        demo=demo,
        threshold=tuple(threshold or ()),
        report=report,
        html=html,
        csv=csv,
        statsd_prefix=statsd_prefix,
        statsd_interval=statsd_interval,
        start_at=_seconds(parse_start_at, start_at),
        step_timeout=step_timeout,
        graceful_stop=_seconds(parse_duration, graceful_stop) or 0.0,
        rate=_rate(rate, stage_list),
        arrivals=arrivals,
        seed=seed,
        max_workers=max_workers,
        max_lag=_seconds(parse_duration, max_lag) or 0.0,
        iterations=iterations,
        stages=stage_list[0],
    )
    _check_values(ctx, run_config)
    try:
        run_config.check_model()
    except ConfigError as exc:
        raise typer.BadParameter(str(exc)) from None
    explicit = {name for name in ctx.params if _given(ctx, name)}
    cluster = ClusterOptions(
        agent=agent,
        listen=listen,
        agent_token_file=agent_token_file,
        agent_deadman=_seconds(parse_duration, agent_deadman) or 0.0,
        agents=agents,
        ready_timeout=_seconds(parse_duration, ready_timeout) or 0.0,
        pods=None
        if pods is None
        else PodOptions(pods, image, namespace, context, cpu, memory, repo, ref),
    )
    from molotov.run.launch import start

    raise typer.Exit(start(run_config, explicit, cluster if cluster.wanted else None))


def expand_extensions(argv: Sequence[str]) -> list[str]:
    """Molotov 2.x took ``--use-extension a b c``: rewrite it as one flag per value."""
    result: list[str] = []
    items = list(argv)
    i = 0
    while i < len(items):
        item = items[i]
        if item == "--use-extension":
            values = []
            i += 1
            while i < len(items) and not items[i].startswith("-"):
                values.append(items[i])
                i += 1
            if not values:
                result.append(item)  # let the parser say that a value is missing
            for value in values:
                result += ["--use-extension", value]
            continue
        if item == "--":
            result += items[i:]
            break
        result.append(item)
        i += 1
    return result


def main(argv: Sequence[str] | None = None) -> None:
    survive_closed_pipes()  # `molotov ... | head` is not an error of the run
    command = typer.main.get_command(app)
    args = expand_extensions(sys.argv[1:] if argv is None else argv)
    command.main(args=args, prog_name="molotov", standalone_mode=True)
