"""From the ``--pods`` options to a :class:`KubernetesFleet`, or an exit code and one line.

The Kubernetes client is an optional extra: without it, one line says what to install (exit 2).
The scenario is shipped in the run's ConfigMap, or with ``--repo`` cloned by the pods at the
commit the ref names now; each run gets a fresh token (never the
environment's: the pods' Secret is its only copy). The Job's deadline is the run's own bounds
plus the ready timeout and a margin, or a day for a run without a time bound (its agents'
dead-man's switch still stops them when the coordinator goes away).
"""

from __future__ import annotations

import importlib.util
import math
import re
import secrets
import sys
from typing import TYPE_CHECKING

from molotov.cluster.kube.fleet import KubernetesFleet
from molotov.cluster.kube.gitref import RefError, resolve
from molotov.cluster.kube.manifests import PodRun, RepoSource, new_run_id
from molotov.cluster.kube.options import DEADLINE_MARGIN, UNBOUNDED_DEADLINE, PodOptions
from molotov.cluster.kube.shipping import ShippingError, ship
from molotov.config.runconfig import RunConfig
from molotov.run.conductor import EXIT_USAGE

if TYPE_CHECKING:
    from molotov.cluster.kube.client import KubeApi

# A Kubernetes resource quantity: 500m, 1, 0.5, 512Mi, 1G, ...
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")
MAX_PODS = 10_000


def _err(line: str) -> int:
    sys.stderr.write(line + "\n")
    return EXIT_USAGE


def deadline(config: RunConfig, ready_timeout: float) -> int:
    """activeDeadlineSeconds: the run's bounds, the ready timeout and a margin."""
    length = config.run_length
    if length is None:
        return UNBOUNDED_DEADLINE
    total = length + ready_timeout + config.graceful_stop + DEADLINE_MARGIN
    return math.ceil(total)


def pod_fleet(
    config: RunConfig, options: PodOptions, ready_timeout: float
) -> KubernetesFleet | int:
    """The fleet of the run, or the exit code of a usage error (its line written)."""
    if importlib.util.find_spec("kubernetes_asyncio") is None:
        return _err("--pods needs the Kubernetes client: pip install 'molotov[kubernetes]'")
    if not 1 <= options.pods <= MAX_PODS:
        return _err(f"--pods must be from 1 to {MAX_PODS} (got {options.pods})")
    if not options.image:
        return _err("--pods needs --image: the molotov image the pods run (see the Dockerfile)")
    for name, value in (("--cpu", options.cpu), ("--memory", options.memory)):
        if not _QUANTITY.match(value):
            return _err(f"{name} {value!r} is not a Kubernetes quantity (e.g. 500m, 1, 512Mi)")
    shipment, repo = None, None
    try:
        if options.repo is not None:
            url, commit = resolve(options.repo, options.ref)
            repo = RepoSource(url, commit, config.scenario)
        elif options.ref is not None:
            return _err("--ref needs --repo")
        else:
            shipment = ship(config.scenario)
    except (ShippingError, RefError) as exc:
        return _err(str(exc))
    run = PodRun(
        run_id=new_run_id(),
        pods=options.pods,
        image=options.image,
        namespace=options.namespace or "",
        token=secrets.token_urlsafe(32),
        deadline=deadline(config, ready_timeout),
        cpu=options.cpu,
        memory=options.memory,
        shipment=shipment,
        repo=repo,
    )

    async def connect() -> KubeApi:
        from molotov.cluster.kube.client import connect as kube_connect

        return await kube_connect(options.context, options.namespace)

    return KubernetesFleet(run, connect)
