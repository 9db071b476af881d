"""The coordinator's way to an agent in a pod: the API server's pod proxy.

``/api/v1/namespaces/NS/pods/POD:PORT/proxy/v1/...`` works wherever the API server reaches
the pods (EKS, GKE, AKS by default) and needs no credential in the pod. The proxy strips
``Authorization``, hence the token in its own header. A proxy that can't reach the pod
answers 502/503 with a Kubernetes ``Status`` document, never an agent answer: that is
:class:`AgentUnreachable`, as a refused connection is for a direct agent.
"""

from __future__ import annotations

import json
from typing import Any

from molotov.cluster.kube.client import KubeApi, KubeError
from molotov.cluster.protocol import TOKEN_HEADER
from molotov.cluster.transport import AgentUnreachable


def _proxy_failure(status: int, text: str) -> str | None:
    """The proxy's own error line (not the agent's answer), or None."""
    if status not in (502, 503, 504):
        return None
    try:
        body = json.loads(text)
    except ValueError:
        return f"the pod proxy answered HTTP {status}"
    if isinstance(body, dict) and body.get("kind") == "Status":
        return str(body.get("message") or f"the pod proxy answered HTTP {status}")
    return None


class PodProxyTransport:
    """One agent, reached through the pod proxy; ``name`` is the pod's name."""

    def __init__(self, api: KubeApi, pod: str, port: int, token: str) -> None:
        self.name = pod
        self._api = api
        self._port = port
        self._token = token

    async def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, timeout: float = 5.0
    ) -> tuple[int, Any]:
        headers = {TOKEN_HEADER: self._token}
        try:
            status, text = await self._api.proxy(
                self.name, self._port, method, path, body, headers, timeout
            )
        except KubeError as exc:
            raise AgentUnreachable(self.name, str(exc)) from None
        failure = _proxy_failure(status, text)
        if failure is not None:
            raise AgentUnreachable(self.name, failure, refused="connection refused" in failure)
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            raise AgentUnreachable(self.name, "answered something that is not JSON") from None

    async def close(self) -> None:
        """The API client belongs to the fleet, which closes it."""
