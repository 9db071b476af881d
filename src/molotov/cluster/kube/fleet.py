"""``--pods N``: the agents as the pods of one Indexed Job, reached through the pod proxy.

provision: connect (kubeconfig), preflight every permission with SelfSubjectAccessReviews
(all missing ones named, nothing created), create the Job, then the Secret and ConfigMap it
owns, and wait for every pod to be ready. A Job that failed (the agent's setup exit code, see
:mod:`.manifests`) or a pod that ended aborts at once; at ``ready_timeout`` each pod not ready
is named with its reason (:mod:`.diagnose`). A name clash (409 on the Job) takes a new run id
once: someone else's objects are never adopted. teardown: release the agents, delete the Job
with foreground propagation (and the objects it owns, not waiting for the garbage collector),
then list every kind by the run's labels until none is left or :data:`TEARDOWN_BOUND` passes.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Awaitable, Callable
from typing import Any

from molotov.cluster import protocol
from molotov.cluster.fleet import FleetError
from molotov.cluster.kube import diagnose, manifests, rbac
from molotov.cluster.kube.client import Conflict, Forbidden, KubeApi, KubeError
from molotov.cluster.kube.manifests import PodRun
from molotov.cluster.kube.proxy import PodProxyTransport
from molotov.cluster.transport import AgentTransport, AgentUnreachable

POLL = 0.5  # seconds between two looks at the pods while waiting for them
TEARDOWN_BOUND = 60.0  # seconds the teardown waits for the objects to be gone
PER_INDEX_SINCE = (1, 29)  # backoffLimitPerIndex on by default
# What is left to list after the end; the Job's pods go with it (foreground).
LISTED_KINDS = ("jobs", "pods", "secrets", "configmaps")
ROLE_HINT = "(molotov --print-role prints the Role that grants what --pods needs)"


class KubernetesFleet:
    """The pods of one run; ``run`` is the template (its run id and namespace get replaced)."""

    def __init__(self, run: PodRun, connect: Callable[[], Awaitable[KubeApi]]) -> None:
        self.run = run
        self._connect = connect
        self.api: KubeApi | None = None
        self.created = False
        self.agents: list[AgentTransport] = []

    async def provision(self, ready_timeout: float) -> list[AgentTransport]:
        deadline = time.monotonic() + ready_timeout
        try:
            self.api = api = await self._connect()
            self.run = dataclasses.replace(self.run, namespace=api.namespace)
            await self._preflight(api)
            major_minor = await api.version()
            per_index = major_minor >= PER_INDEX_SINCE
            self.run = dataclasses.replace(self.run, per_index_backoff=per_index)
            await self._create(api)
        except Forbidden as exc:
            raise FleetError([f"Kubernetes: {exc}", ROLE_HINT]) from None
        except KubeError as exc:
            raise FleetError([f"Kubernetes: {exc}"]) from None
        pods = await self._until_ready(api, deadline)
        self.agents = [
            PodProxyTransport(api, pod["metadata"]["name"], self.run.port, self.run.token)
            for pod in pods
        ]
        return self.agents

    async def _preflight(self, api: KubeApi) -> None:
        checks = [api.allowed(p.verb, p.group, p.resource, p.subresource) for p in rbac.PERMISSIONS]
        answers = await asyncio.gather(*checks)
        missing = [str(p) for p, ok in zip(rbac.PERMISSIONS, answers, strict=True) if not ok]
        if missing:
            raise FleetError(
                [
                    f"missing permission in namespace {api.namespace!r}: {', '.join(missing)}",
                    f"{ROLE_HINT}; nothing was created",
                ]
            )

    async def _create(self, api: KubeApi) -> None:
        try:
            job = await api.create("jobs", manifests.job(self.run))
        except Conflict:
            # Another run holds the name: never adopt its objects, take a new id once.
            self.run = dataclasses.replace(self.run, run_id=manifests.new_run_id())
            job = await api.create("jobs", manifests.job(self.run))
        self.created = True
        for body in manifests.owned(self.run, job["metadata"]["uid"]):
            await api.create(body["kind"].lower() + "s", body)

    async def _until_ready(self, api: KubeApi, deadline: float) -> list[dict[str, Any]]:
        selector = manifests.selector(self.run.run_id)
        pods: list[dict[str, Any]] = []
        while True:
            try:
                pods = await self._pods(api, selector)
                job = await api.read("jobs", self.run.name)
            except KubeError as exc:
                raise FleetError([f"Kubernetes: {exc}"]) from None
            ended = [pod for pod in pods if diagnose.terminated(pod) is not None]
            if diagnose.job_failed(job) or ended:
                raise FleetError(await self._reasons(api, pods, diagnose.job_failed(job)))
            if len(pods) == self.run.pods and all(diagnose.ready(pod) for pod in pods):
                return pods
            if time.monotonic() + POLL > deadline:
                lines = await self._reasons(api, pods, "")
                raise FleetError([*lines, "(not ready within --ready-timeout)"])
            await asyncio.sleep(POLL)

    async def _pods(self, api: KubeApi, selector: str) -> list[dict[str, Any]]:
        """The run's pods in index order (one per index: the newest if several)."""
        by_index: dict[int, dict[str, Any]] = {}
        for pod in await api.list("pods", selector):
            annotations = pod["metadata"].get("annotations") or {}
            labels = pod["metadata"].get("labels") or {}
            index = annotations.get("batch.kubernetes.io/job-completion-index") or labels.get(
                "batch.kubernetes.io/job-completion-index", "0"
            )
            by_index[int(index)] = pod
        return [by_index[index] for index in sorted(by_index)]

    async def _reasons(self, api: KubeApi, pods: list[dict[str, Any]], failed: str) -> list[str]:
        """One line per pod not ready (and the Job's own problems), naming it and why."""
        try:
            events = await api.list("events")
        except KubeError:
            events = []
        name = self.run.name
        lines = [f"job {name} failed: {failed}"] if failed else []
        lines += [
            f"pod {pod['metadata']['name']}: {diagnose.pod_reason(pod, events)}"
            for pod in pods
            if not diagnose.ready(pod) or diagnose.terminated(pod) is not None
        ]
        missing = self.run.pods - len(pods)
        if missing > 0:
            why = "; ".join(diagnose.job_reasons(name, events)) or "not created yet"
            lines.append(f"job {name}: {missing} of {self.run.pods} pods missing: {why}")
        return lines or [f"job {name}: not ready"]

    async def health(self) -> dict[str, str]:
        if self.api is None:
            return {}
        try:
            pods = await self.api.list("pods", manifests.selector(self.run.run_id))
        except KubeError:
            return {}
        found = {pod["metadata"]["name"]: diagnose.health(pod) for pod in pods}
        return {name: why for name, why in found.items() if why}

    async def teardown(self) -> list[str]:
        api = self.api
        if api is None:
            return []
        try:
            if self.created:
                await asyncio.gather(*(_release(agent) for agent in self.agents))
                return await self._delete(api)
            return []
        finally:
            await api.close()

    async def _delete(self, api: KubeApi) -> list[str]:
        name = self.run.name
        try:
            await api.delete("jobs", name, "Foreground")
            for kind in ("secrets", "configmaps"):  # owned: gone anyway, but not waited for
                await api.delete(kind, name, "Background")
        except KubeError as exc:
            return [f"job {name} (can't delete it: {exc}); {self.delete_command()}"]
        deadline = time.monotonic() + TEARDOWN_BOUND
        while True:
            left = await self._left(api)
            if not left or time.monotonic() + POLL > deadline:
                return [*left, self.delete_command()] if left else []
            await asyncio.sleep(POLL)

    async def _left(self, api: KubeApi) -> list[str]:
        selector = manifests.selector(self.run.run_id)
        left: list[str] = []
        for kind in LISTED_KINDS:
            try:
                items = await api.list(kind, selector)
            except KubeError as exc:
                return [f"{kind}: can't list them ({exc})"]
            left += [f"{kind[:-1]}/{item['metadata']['name']}" for item in items]
        return left

    def delete_command(self) -> str:
        """The one command that removes the run's objects, whatever is left of them."""
        namespace = f"-n {self.run.namespace} " if self.run.namespace else ""
        return (
            f"kubectl delete job,pod,secret,configmap {namespace}"
            f"-l {manifests.selector(self.run.run_id)}"
        )


async def _release(agent: AgentTransport) -> None:
    with contextlib.suppress(AgentUnreachable):
        await agent.call("POST", protocol.RELEASE, {}, timeout=2.0)
