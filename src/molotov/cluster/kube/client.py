"""The Kubernetes API calls a ``--pods`` run makes, over ``kubernetes_asyncio``'s ApiClient.

:class:`KubeApi` is the small interface the fleet uses (create, read, delete, list by label,
an access review, the server's version, the pod proxy); :func:`connect` builds it from the
kubeconfig (``KUBECONFIG``, ``--context``, ``--namespace``, else the context's namespace).
Without any kubeconfig, in a pod, the pod's service account is used. The library does the
kubeconfig work (tokens, client certificates, exec plugins); it does not
refresh an exec plugin's expiring token by itself, so :func:`connect` installs the hook that
does. Every call goes through ``ApiClient.call_api`` with raw JSON bodies: the manifests are
dictionaries, and the answers are read as the API server wrote them.

Answers 429 and 503 (and connection failures) are retried with a bounded backoff that honours
``Retry-After``; 403, 404 and 409 become :class:`Forbidden`, :class:`NotFound` and
:class:`Conflict`, with the server's own line (which names the verb and the resource).
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

RETRIES = 5  # attempts of a call answered 429/503 or not answered, before giving up
BACKOFF = 0.2  # seconds before the second attempt, doubled each time, at most MAX_BACKOFF
MAX_BACKOFF = 5.0
CALL_TIMEOUT = 30.0
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"

# kind (plural) -> its API's path prefix
KINDS = {
    "jobs": "/apis/batch/v1",
    "configmaps": "/api/v1",
    "secrets": "/api/v1",
    "pods": "/api/v1",
    "events": "/api/v1",
}


class KubeError(Exception):
    """A Kubernetes API call failed: ``status`` (0 when no answer) and the server's line."""

    def __init__(self, status: int, line: str) -> None:
        super().__init__(line)
        self.status = status


class Forbidden(KubeError):
    """403: the kubeconfig's user may not do that (``molotov --print-role``)."""


class NotFound(KubeError):
    """404."""


class Conflict(KubeError):
    """409: an object of that name exists already."""


def _line(status: int, text: str) -> str:
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return f"HTTP {status}: {body['message']}"
    first = text.strip().splitlines()[0] if text.strip() else ""
    return f"HTTP {status}: {first[:200]}"


def _error(status: int, text: str) -> KubeError:
    kind = {403: Forbidden, 404: NotFound, 409: Conflict}.get(status, KubeError)
    return kind(status, _line(status, text))


def _delay(attempt: int, retry_after: str | None) -> float:
    try:
        asked = float(retry_after) if retry_after else 0.0
    except ValueError:
        asked = 0.0
    return min(MAX_BACKOFF, max(asked, BACKOFF * 2.0**attempt))


@dataclass
class KubeApi:
    """The calls of a run, in one namespace; ``api`` is a ``kubernetes_asyncio`` ApiClient."""

    api: Any
    namespace: str

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: list[tuple[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = CALL_TIMEOUT,
        retry: bool = True,
    ) -> tuple[int, str]:
        """One call, retried on 429/503/no answer when ``retry``: (status, text)."""
        attempt = 0
        while True:
            try:
                response = await self.api.call_api(
                    path,
                    method,
                    query_params=query or [],
                    header_params=dict(headers or {}),
                    body=body,
                    auth_settings=["BearerToken"],
                    _preload_content=False,
                    _request_timeout=timeout,
                )
                async with response:
                    text = await response.text()
                status = int(response.status)
                retry_after = response.headers.get("Retry-After")
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                if not retry or attempt + 1 >= RETRIES:
                    why = str(exc) or type(exc).__name__
                    raise KubeError(0, f"no answer from the API server: {why}") from None
                status, text, retry_after = 0, "", None
            if status not in (0, 429, 503) or not retry or attempt + 1 >= RETRIES:
                return status, text
            await asyncio.sleep(_delay(attempt, retry_after))
            attempt += 1

    async def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        status, text = await self.request(method, path, **kwargs)
        if not 200 <= status < 300:
            raise _error(status, text)
        answer: dict[str, Any] = json.loads(text) if text else {}
        return answer

    def _path(self, kind: str, name: str = "") -> str:
        path = f"{KINDS[kind]}/namespaces/{self.namespace}/{kind}"
        return f"{path}/{name}" if name else path

    async def create(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._json("POST", self._path(kind), body=body)

    async def read(self, kind: str, name: str) -> dict[str, Any]:
        return await self._json("GET", self._path(kind, name))

    async def delete(self, kind: str, name: str, propagation: str = "Foreground") -> bool:
        """Delete ``name``; False when it was not there."""
        options = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        try:
            await self._json("DELETE", self._path(kind, name), body=options)
        except NotFound:
            return False
        return True

    async def list(self, kind: str, selector: str = "") -> list[dict[str, Any]]:
        query = [("labelSelector", selector)] if selector else []
        items: list[dict[str, Any]] = (await self._json("GET", self._path(kind), query=query))[
            "items"
        ]
        return items

    async def allowed(self, verb: str, group: str, resource: str, subresource: str = "") -> bool:
        """A SelfSubjectAccessReview: may the kubeconfig's user do that in the namespace?"""
        attributes = {
            "namespace": self.namespace,
            "verb": verb,
            "group": group,
            "resource": resource,
            "subresource": subresource,
        }
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": attributes},
        }
        path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
        answer = await self._json("POST", path, body=body)
        return bool(answer.get("status", {}).get("allowed"))

    async def version(self) -> tuple[int, int]:
        """The server's (major, minor) version; minor without a "+" suffix (GKE's "29+")."""
        answer = await self._json("GET", "/version")
        digits = "".join(c for c in str(answer.get("minor", "0")) if c.isdigit())
        return int(answer.get("major", "1") or 1), int(digits or 0)

    async def proxy(
        self,
        pod: str,
        port: int,
        method: str,
        path: str,
        body: Any,
        headers: dict[str, str],
        timeout: float,
    ) -> tuple[int, str]:
        """A call to the pod's ``port`` through the API server's pod proxy: (status, text)."""
        target = f"{self._path('pods', pod)}:{port}/proxy{path}"
        return await self.request(method, target, body, None, headers, timeout, retry=False)

    async def close(self) -> None:
        await self.api.close()


def _in_cluster(kubeconfig: str | None) -> bool:
    """No kubeconfig anywhere, in a pod: use its service account."""
    default = Path("~/.kube/config").expanduser()
    return (
        kubeconfig is None
        and not os.environ.get("KUBECONFIG")
        and not default.exists()
        and bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
    )


async def connect(
    context: str | None = None, namespace: str | None = None, kubeconfig: str | None = None
) -> KubeApi:
    """A :class:`KubeApi` from the kubeconfig; a :class:`KubeError` with one line if it can't."""
    from kubernetes_asyncio import client, config

    configuration = client.Configuration()
    if _in_cluster(kubeconfig):
        # A coordinator in a pod, with its ServiceAccount: the library reads the mounted
        # token (and refreshes it) and CA, the namespace file says where the pod runs.
        account = Path(SERVICE_ACCOUNT_DIR)
        try:
            config.load_incluster_config(  # type: ignore[no-untyped-call]  # unannotated
                client_configuration=configuration,
                token_filename=str(account / "token"),
                cert_filename=str(account / "ca.crt"),
            )
            own = (account / "namespace").read_text(encoding="utf-8").strip()
        except (config.ConfigException, OSError) as exc:
            raise KubeError(0, f"Can't use the pod's service account: {exc}") from None
        return KubeApi(client.ApiClient(configuration), namespace or own)
    try:
        loader = await config.load_kube_config(
            config_file=kubeconfig,
            context=context,
            client_configuration=configuration,
            persist_config=False,
        )
        current: Any = loader.current_context  # a dict, or the library's ConfigNode
        context_entry = current["context"]
        namespace = namespace or context_entry.get("namespace") or "default"
    except (config.ConfigException, OSError, KeyError, ValueError, TypeError) as exc:
        raise KubeError(0, f"Can't use the kubeconfig: {exc}") from None
    if hasattr(loader, "exec_plugin_expiry"):
        # An expiring exec plugin credential (EKS, GKE, AKS): run the plugin again before a
        # call once it expired (the loader keeps it until then).
        # One run at a time: the polls of N pods must not start N plugins at once.
        lock = asyncio.Lock()

        async def refresh(settings: Any) -> None:
            async with lock:
                await loader.load_from_exec_plugin()
                settings.api_key["BearerToken"] = loader.token

        configuration.refresh_api_key_hook = refresh
    return KubeApi(client.ApiClient(configuration), namespace)
