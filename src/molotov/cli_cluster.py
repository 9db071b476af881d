"""The ``molotov`` command's options of cluster runs (typer annotations) and their value.

They say where a run happens (an agent, a coordinator of agents or of Kubernetes pods), not
what it does, so they are not :class:`RunConfig` fields: :func:`cluster_from_options` turns
them into :class:`~molotov.cluster.options.ClusterOptions`, read by
:mod:`molotov.cluster.dispatch`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import typer

from molotov.cli_options import seconds
from molotov.cluster.kube.options import PodOptions
from molotov.cluster.options import ClusterOptions
from molotov.config.parsers import parse_duration

Agents = Annotated[
    str | None,
    typer.Option(
        "--agents",
        metavar="URL,URL...",
        help="Run on these agents (URL,URL,...; molotov --agent on each), token from "
        "MOLOTOV_AGENT_TOKEN; -p/-w per agent, --rate/--stages/--iterations in all.",
    ),
]
Agent = Annotated[
    bool, typer.Option("--agent", help="Be an agent: serve the cluster API (see --listen).")
]
Listen = Annotated[
    str, typer.Option("--listen", metavar="HOST:PORT", help="The agent's HOST:PORT.")
]
AgentTokenFile = Annotated[
    str | None,
    typer.Option(
        "--agent-token-file", metavar="FILE", help="Read the agent token there, not from the env."
    ),
]
AgentDeadman = Annotated[
    str,
    typer.Option(
        "--agent-deadman",
        metavar="DURATION",
        help="An agent stops itself after this long without a call from its coordinator.",
    ),
]
ReadyTimeout = Annotated[
    str,
    typer.Option(
        "--ready-timeout",
        metavar="DURATION",
        help="How long the coordinator waits for every agent to hold.",
    ),
]
Pods = Annotated[
    int | None,
    typer.Option(
        "--pods",
        metavar="N",
        help="Run on N pods of an Indexed Job in the kubeconfig's cluster (needs --image; "
        "pip install 'molotov[kubernetes]'); -p/-w per pod, --rate/--stages/--iterations "
        "in all.",
    ),
]
Image = Annotated[
    str | None,
    typer.Option("--image", metavar="IMAGE", help="--pods: the molotov image the pods run."),
]
Namespace = Annotated[
    str | None,
    typer.Option(
        "--namespace", metavar="NAMESPACE", help="--pods: the namespace (default: the context's)."
    ),
]
Context = Annotated[
    str | None,
    typer.Option(
        "--context", metavar="CONTEXT", help="--pods: the kubeconfig context (default: current)."
    ),
]
Cpu = Annotated[
    str,
    typer.Option(
        "--cpu", metavar="CPU", help="--pods: CPU requested per pod (250m, 1, 2; no limit)."
    ),
]
Memory = Annotated[
    str,
    typer.Option(
        "--memory",
        metavar="MEMORY",
        help="--pods: memory per pod, requested and the limit (512Mi).",
    ),
]
Repo = Annotated[
    str | None,
    typer.Option(
        "--repo",
        metavar="URL",
        help="--pods: the pods clone this git repository (SCENARIO is a path in it) and "
        "install the requirements its molotov.json names, instead of shipping SCENARIO.",
    ),
]
Ref = Annotated[
    str | None,
    typer.Option(
        "--ref", metavar="REF", help="--repo: branch, tag or commit, pinned to one commit."
    ),
]
PrintRole = Annotated[
    bool,
    typer.Option(
        "--print-role",
        help="Print the Role (and a RoleBinding template) that --pods needs in --namespace, "
        "then exit.",
    ),
]


def cluster_from_options(options: Mapping[str, Any]) -> ClusterOptions | None:
    """The cluster options of the command's parsed values; None for a local run."""
    pods = options["pods"]
    cluster = ClusterOptions(
        agent=options["agent"],
        listen=options["listen"],
        agent_token_file=options["agent_token_file"],
        agent_deadman=seconds(parse_duration, options["agent_deadman"], "agent_deadman") or 0.0,
        agents=options["agents"],
        ready_timeout=seconds(parse_duration, options["ready_timeout"], "ready_timeout") or 0.0,
        pods=None
        if pods is None
        else PodOptions(
            pods,
            options["image"],
            options["namespace"],
            options["context"],
            options["cpu"],
            options["memory"],
            options["repo"],
            options["ref"],
        ),
    )
    return cluster if cluster.wanted else None
