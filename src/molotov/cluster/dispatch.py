"""From the command line to a cluster run: an agent (``--agent``) or a coordinator (``--agents``).

The one entry point :mod:`molotov.run.launch` calls; everything below it is this package's.
"""

from __future__ import annotations

import asyncio
import sys

from molotov.cluster.agent.main import parse_listen, serve
from molotov.cluster.coordinator import Coordinator
from molotov.cluster.exitcodes import AGENT_EXIT_SETUP
from molotov.cluster.fleet import Fleet, StaticFleet, parse_agent_urls
from molotov.cluster.options import ClusterOptions
from molotov.cluster.protocol import TokenError, read_token
from molotov.config.errors import ConfigError
from molotov.config.runconfig import RunConfig
from molotov.live.console import make_console
from molotov.live.dashboard import Dashboard
from molotov.reports.thresholds import ThresholdError, parse_thresholds
from molotov.run.conductor import EXIT_FAILED, EXIT_USAGE
from molotov.run.signals import Holder


def _err(line: str) -> int:
    sys.stderr.write(line + "\n")
    return 0


def run_cluster(
    config: RunConfig, options: ClusterOptions, dashboard: Dashboard | None = None
) -> int:
    """Run as an agent, or coordinate agents; the exit code. ``dashboard``: the coordinator's
    ``--dashboard`` (an agent serves none)."""
    if options.agent and options.agents is not None:
        _err("--agent serves a coordinator and --agents is one: give one of them")
        return EXIT_USAGE
    for name, value in (
        ("--agent-deadman", options.agent_deadman),
        ("--ready-timeout", options.ready_timeout),
    ):
        if value <= 0:
            _err(f"{name} must be positive (got {value:g})")
            return EXIT_USAGE
    if options.pods is not None:  # --pods: the Kubernetes fleet, with a fresh token
        if options.agent or options.agents is not None:
            _err("--pods runs its own agents: give neither --agent nor --agents with it")
            return EXIT_USAGE
        from molotov.cluster.kube.run import pod_fleet

        made = pod_fleet(config, options.pods, options.ready_timeout)
        return made if isinstance(made, int) else _coordinate(config, made, options, dashboard)
    try:
        token = read_token(options.agent_token_file)
    except TokenError as exc:
        _err(str(exc))
        return EXIT_USAGE
    if options.agent:
        if config.prometheus_rw is not None:
            _err(
                "--prometheus-rw is the coordinator's: it sends the cluster's numbers (give it "
                "to the molotov --agents or --pods command, not to an agent)"
            )
            return EXIT_USAGE
        try:
            listen = parse_listen(options.listen)
            config.check()
        except ValueError as exc:
            _err(str(exc))
            return EXIT_USAGE
        except ConfigError as exc:
            _err(str(exc))
            return AGENT_EXIT_SETUP
        return serve(config, listen, token, options.agent_deadman)
    assert options.agents is not None
    try:
        urls = parse_agent_urls(options.agents)
    except ValueError as exc:
        _err(str(exc))
        return EXIT_USAGE
    fleet = StaticFleet(urls, token)
    return _coordinate(config, fleet, options, dashboard)


def _coordinate(
    config: RunConfig, fleet: Fleet, options: ClusterOptions, dashboard: Dashboard | None
) -> int:
    """The coordinator's run on ``fleet``; the exit code."""
    try:
        parse_thresholds(config.threshold, open_model=config.open_model)
    except ThresholdError as exc:
        _err(str(exc))
        return EXIT_USAGE
    try:
        config.check()
    except ConfigError as exc:
        _err(str(exc))
        return EXIT_FAILED
    console = make_console(
        config.quiet, config.console, config.verbose, open_model=config.open_model
    )
    coordinator = Coordinator(config, fleet, options.ready_timeout, console, dashboard)
    code = asyncio.run(coordinator.run())
    Holder().hold()  # a late Ctrl-C, once everything is released, changes nothing
    return code
