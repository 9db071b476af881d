"""The last step of the edge: turn the parsed flags into the final RunConfig and run it.

``--config`` lays a test entry of a ``molotov.json`` over the flags (SCENARIO then names the
test, ``test`` by default), ``--sizing`` fills in its worker and ramp-up defaults, the report
files' destinations are checked (exit 2 when one cannot be written, local run or cluster
coordinator alike), so is the ``prometheus`` extra that ``--prometheus-rw`` needs,
``--dashboard`` is served around the run (and ``--dashboard-linger`` after it), and
``--demo`` starts the built-in target server around the run.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from molotov.config.errors import ConfigError
from molotov.config.jsonconfig import DEFAULT_TEST, apply_config_file
from molotov.config.runconfig import RunConfig, apply_sizing_defaults
from molotov.live.dashboard import Dashboard, DashboardError
from molotov.live.promwire import missing_extra
from molotov.reports.outputs import unwritable_outputs
from molotov.run.signals import sleep_unless_signalled

if TYPE_CHECKING:
    from molotov.cluster.options import ClusterOptions


def start(config: RunConfig, explicit: set[str], cluster: ClusterOptions | None = None) -> int:
    """Finish the configuration from the flags given explicitly, then run; the exit code.

    ``cluster``: the run is a cluster one (an agent, or a coordinator of agents)."""
    try:
        if config.config is not None:
            test = config.scenario if "scenario" in explicit else DEFAULT_TEST
            config, from_file = apply_config_file(config, test)
            explicit = explicit | from_file
    except ConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    config = apply_sizing_defaults(config, explicit)
    agent = cluster is not None and cluster.agent
    problems = [] if agent else _unwritable(config)
    missing = missing_extra() if not agent and config.prometheus_rw is not None else ""
    problems += [missing] if missing else []
    try:
        if agent and config.dashboard is not None:
            raise ConfigError("--dashboard is served by the coordinator, not by an agent")
        config.check_dashboard()
    except ConfigError as exc:
        problems.append(str(exc))
    if problems:
        sys.stderr.write("".join(line + "\n" for line in problems))
        return 2
    if cluster is not None:
        # The one place where a run turns into a cluster one (molotov.cluster is above run).
        from molotov.cluster.dispatch import run_cluster

        return _served(config, lambda dashboard: run_cluster(config, cluster, dashboard))

    from molotov.run.conductor import execute

    if not config.demo:
        return _served(config, lambda dashboard: execute(config, dashboard))

    from molotov.demo import demo_config, target_server

    with target_server() as url:
        demo = demo_config(config, explicit, url)
        return _served(demo, lambda dashboard: execute(demo, dashboard))


def _unwritable(config: RunConfig) -> list[str]:
    """The report files that could not be written (an agent writes none: its coordinator
    does), found before the first request: a typo in a path must not cost a long run its
    report."""
    return unwritable_outputs(
        index=config.generator_index, report=config.report, csv=config.csv, html=config.html
    )


def _served(config: RunConfig, run: Callable[[Dashboard | None], int]) -> int:
    """``run``, with the ``--dashboard`` it asks for (None: none) served from before the run
    to its end, and ``--dashboard-linger`` longer; its URL is the first line printed."""
    if config.dashboard is None:
        return run(None)
    try:
        dashboard = Dashboard.open(config)
    except DashboardError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    try:
        linger = config.dashboard_linger
        then = f"; its final report stays {linger:g}s after the run" if linger else ""
        stream = sys.stderr if config.quiet else sys.stdout
        stream.write(f"Dashboard: {dashboard.url} (the run, live{then})\n")
        stream.flush()
        code = run(dashboard)
        if dashboard.finished and linger:
            # On stderr: with --report -, the report's line stays the last of stdout.
            sys.stderr.write(
                f"Dashboard: the final report stays at {dashboard.url} for {linger:g}s "
                "(Ctrl-C ends it)\n"
            )
            sys.stderr.flush()
            sleep_unless_signalled(linger)
        return code
    finally:
        dashboard.close()
