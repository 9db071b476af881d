"""The options of a ``--pods`` run, as the command line gives them (checked by
:mod:`molotov.cluster.kube.run`)."""

from __future__ import annotations

from dataclasses import dataclass

# A request, not a limit: a pod uses what idle CPU there is. Three fit beside the control
# plane's own requests (~0.9 CPU) on a 2-CPU node.
DEFAULT_CPU = "250m"
DEFAULT_MEMORY = "512Mi"
UNBOUNDED_DEADLINE = 86400  # s: the Job's deadline when the run itself has no time bound
DEADLINE_MARGIN = 300  # s added to the run's own bounds (pull, setup, collect, teardown)


@dataclass(frozen=True)
class PodOptions:
    pods: int  # --pods N
    image: str | None = None  # --image
    namespace: str | None = None  # --namespace, else the kubeconfig context's
    context: str | None = None  # --context, else the kubeconfig's current one
    cpu: str = DEFAULT_CPU  # --cpu, per pod (requested)
    memory: str = DEFAULT_MEMORY  # --memory, per pod (requested and limit)
    repo: str | None = None  # --repo URL: the pods clone it, SCENARIO is a path in it
    ref: str | None = None  # --ref REF, pinned to one commit by the coordinator
