"""The command-line options of cluster runs, apart from the run's own (:class:`RunConfig`).

They say where the run happens, not what it does, so they stay out of the run's options (and
of its report). Filled by the CLI; read by :mod:`molotov.cluster.dispatch`.
"""

from __future__ import annotations

from dataclasses import dataclass

from molotov.cluster.kube.options import PodOptions
from molotov.cluster.protocol import DEFAULT_DEADMAN, DEFAULT_PORT

DEFAULT_LISTEN = f"0.0.0.0:{DEFAULT_PORT}"
DEFAULT_READY_TIMEOUT = 120.0


@dataclass(frozen=True)
class ClusterOptions:
    agent: bool = False  # --agent: serve the agent API instead of running
    listen: str = DEFAULT_LISTEN  # --listen HOST:PORT (the agent's)
    agent_token_file: str | None = None  # else MOLOTOV_AGENT_TOKEN
    agent_deadman: float = DEFAULT_DEADMAN
    agents: str | None = None  # --agents URL,URL,...: coordinate these agents
    ready_timeout: float = DEFAULT_READY_TIMEOUT
    pods: PodOptions | None = None  # --pods N --image ...: coordinate Kubernetes pods

    @property
    def wanted(self) -> bool:
        """Whether this command is a cluster one (an agent, or a coordinator)."""
        return self.agent or self.agents is not None or self.pods is not None
