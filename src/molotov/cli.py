"""The ``molotov`` command line: Molotov 2.x's flags, parsed with typer into a RunConfig.

Only this module and :mod:`molotov.cli_options` (the options, their conversion) know about
flags. Heavy imports (aiohttp, the runner) wait until a run really starts, so ``--help`` and
``--version`` stay fast.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import typer

from molotov import cli_cluster as cl
from molotov import cli_options as opt
from molotov.cluster.kube.options import DEFAULT_CPU, DEFAULT_MEMORY
from molotov.cluster.options import DEFAULT_LISTEN
from molotov.config.errors import ConfigError, OptionValueError
from molotov.config.runconfig import (
    DEFAULT_MAX_REQUEST_NAMES,
    DEFAULT_SCENARIO,
    DEFAULT_STATSD_ADDRESS,
    DEFAULT_STATSD_PREFIX,
    RunConfig,
)
from molotov.stdio import survive_closed_pipes

app = typer.Typer(
    add_completion=False,
    # Every option can also come from MOLOTOV_<LONG_OPTION> (MOLOTOV_START_AT, ...), which is
    # how a container or a Kubernetes Job configures a run; the command line wins.
    context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "MOLOTOV"},
    rich_markup_mode=None,
)


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


@app.command(
    help="Load test an HTTP service with the scenarios of SCENARIO: a file path or a dotted "
    "module name (default: loadtest.py); with --config, a test of that file (default: test)."
)
def molotov(
    # Long on purpose: one parameter per option, which is how typer declares a command's.
    ctx: typer.Context,
    scenario: opt.Scenario = DEFAULT_SCENARIO,
    workers: opt.Workers = 1,
    processes: opt.Processes = 1,
    duration: opt.Duration = None,
    max_runs: opt.MaxRuns = None,
    ramp_up: opt.RampUp = "0s",
    delay: opt.Delay = "0s",
    sizing: opt.Sizing = False,
    sizing_tolerance: opt.SizingTolerance = 5.0,
    console_update: opt.ConsoleUpdate = "0.2s",
    quiet: opt.Quiet = False,
    verbose: opt.Verbose = 0,
    exception: opt.Exception_ = False,
    fail: opt.Fail = None,
    console: opt.Console = False,
    statsd: opt.Statsd = False,
    statsd_address: opt.StatsdAddress = DEFAULT_STATSD_ADDRESS,
    statsd_prefix: opt.StatsdPrefix = DEFAULT_STATSD_PREFIX,
    statsd_interval: opt.StatsdInterval = "1s",
    prometheus_rw: opt.PrometheusRw = None,
    prometheus_rw_interval: opt.PrometheusRwInterval = "5s",
    threshold: opt.Threshold = None,
    report: opt.Report = None,
    html: opt.Html = None,
    csv: opt.Csv = None,
    step_timeout: opt.StepTimeout = "300s",
    graceful_stop: opt.GracefulStop = "10s",
    rate: opt.Rate = None,
    arrivals: opt.Arrivals = "constant",
    seed: opt.Seed = None,
    max_workers: opt.MaxWorkers = None,
    max_request_names: opt.MaxRequestNames = DEFAULT_MAX_REQUEST_NAMES,
    max_lag: opt.MaxLag = "1s",
    iterations: opt.Iterations = None,
    stages: opt.Stages = None,
    dashboard: opt.Dashboard = None,
    dashboard_public: opt.DashboardPublic = False,
    dashboard_linger: opt.DashboardLinger = "0s",
    start_at: opt.StartAt = None,
    uvloop: opt.Uvloop = True,
    use_extension: opt.UseExtension = None,
    force_shutdown: opt.ForceShutdown = False,
    single_mode: opt.SingleMode = None,
    single_run: opt.SingleRun = False,
    disable_dns_resolve: opt.DisableDnsResolve = False,
    config: opt.Config = None,
    debug: opt.Debug = False,
    demo: opt.Demo = False,
    # -- cluster runs (molotov.cluster): where the run happens, not what it does ----------
    agents: cl.Agents = None,
    agent: cl.Agent = False,
    listen: cl.Listen = DEFAULT_LISTEN,
    agent_token_file: cl.AgentTokenFile = None,
    agent_deadman: cl.AgentDeadman = "60s",
    ready_timeout: cl.ReadyTimeout = "120s",
    pods: cl.Pods = None,
    image: cl.Image = None,
    namespace: cl.Namespace = None,
    context: cl.Context = None,
    cpu: cl.Cpu = DEFAULT_CPU,
    memory: cl.Memory = DEFAULT_MEMORY,
    repo: cl.Repo = None,
    ref: cl.Ref = None,
    print_role: cl.PrintRole = False,
    version: opt.Version = None,
) -> None:
    if print_role:
        from molotov.cluster.kube.rbac import role_yaml

        print(role_yaml(namespace or "default"), end="")
        raise typer.Exit(0)
    # The parameters are read through ctx.params: typer declares the options from them.
    run_config = opt.config_from_options(ctx.params)
    _check_values(ctx, run_config)
    try:
        run_config.check_model()
    except ConfigError as exc:
        raise typer.BadParameter(str(exc)) from None
    explicit = {name for name in ctx.params if _given(ctx, name)}
    from molotov.run.launch import start

    raise typer.Exit(start(run_config, explicit, cl.cluster_from_options(ctx.params)))


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
