"""The last step of the edge: turn the parsed flags into the final RunConfig and run it.

``--config`` lays a test entry of a ``molotov.json`` over the flags (SCENARIO then names the
test, ``test`` by default), ``--sizing`` fills in its worker and ramp-up defaults, the report
files' destinations are checked (exit 2 when one cannot be written, local run or cluster
coordinator alike), so is the ``prometheus`` extra that ``--prometheus-rw`` needs, and
``--demo`` starts the built-in target server around the run.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from molotov.config.errors import ConfigError
from molotov.config.jsonconfig import DEFAULT_TEST, apply_config_file
from molotov.config.runconfig import RunConfig, apply_sizing_defaults
from molotov.live.promwire import missing_extra
from molotov.reports.outputs import unwritable_outputs

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
    if cluster is None or not cluster.agent:  # an agent writes no file: its coordinator does
        # Before the first request: a typo in a path must not cost a long run its report.
        unwritable = unwritable_outputs(
            index=config.generator_index, report=config.report, csv=config.csv, html=config.html
        )
        if unwritable:
            sys.stderr.write("".join(line + "\n" for line in unwritable))
            return 2
        missing = missing_extra() if config.prometheus_rw is not None else ""
        if missing:
            sys.stderr.write(missing + "\n")
            return 2
    if cluster is not None:
        # The one place where a run turns into a cluster one (molotov.cluster is above run).
        from molotov.cluster.dispatch import run_cluster

        return run_cluster(config, cluster)

    from molotov.run.conductor import execute

    if not config.demo:
        return execute(config)

    from molotov.demo import demo_config, target_server

    with target_server() as url:
        return execute(demo_config(config, explicit, url))
