"""The emulator itself: the API server's routes, authentication (bearer tokens, short-lived
exec tokens, client certificates), authorization knobs, fault knobs, the pod proxy, and the
loop that runs the controllers and the kubelet. :func:`emulating` runs it in a thread."""

from __future__ import annotations

import asyncio
import json
import secrets
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import trustme
from aiohttp import web

from kubeemu import controller, kubelet
from kubeemu.store import Store, public
from threaded import serving

TICK = 0.1
KINDS = {"jobs": "batch", "configmaps": "", "secrets": "", "pods": "", "events": ""}
STATUS_REASONS = {
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "AlreadyExists",
    429: "TooManyRequests",
    503: "ServiceUnavailable",
}


@dataclass
class Fault:
    """Answer ``status`` to the next ``times`` requests whose method and path match."""

    method: str
    path_part: str
    status: int
    times: int = 1


def status_doc(code: int, message: str) -> web.Response:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "reason": STATUS_REASONS.get(code, "InternalError"),
        "code": code,
    }
    headers = {"Retry-After": "0"} if code in (429, 503) else {}
    return web.json_response(body, status=code, headers=headers)


def foreign_job(name: str) -> dict[str, Any]:
    """Someone else's finished Job: not molotov's labels, not to be touched."""
    complete = {"type": "Complete", "status": "True", "reason": "CompletionsReached"}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": {"owner": "someone-else"}},
        "spec": {"completions": 1, "template": {"metadata": {}, "spec": {"containers": []}}},
        "status": {"conditions": [complete]},
    }


@dataclass
class Emulator:
    workdir: Path
    allocatable_cpu: int = 8000  # millicores of the one emulated node
    version: tuple[int, int] = (1, 31)
    tokens: set[str] = field(default_factory=lambda: {"emulated-bearer-token"})
    exec_token_ttl: float = 4.0  # seconds an exec plugin's "exec-<epoch>" token is valid
    denied: set[str] = field(default_factory=set)  # "verb resource[/sub][.group]"
    faults: list[Fault] = field(default_factory=list)
    bad_images: set[str] = field(default_factory=set)
    oom: dict[int, float] = field(default_factory=dict)  # pod index -> OOM-killed after s
    pod_quota: int | None = None
    squat: int = 0  # the next N Jobs created find someone else's Job of their name there
    # How much faster than the wall clock the Jobs' deadline and TTL run (a test can't wait
    # the minutes a real run's bounds give).
    clock_scale: float = 1.0
    tls: ssl.SSLContext | None = None
    url: str = ""
    kubeconfig: Path | None = None  # the test's kubeconfig for it, once written
    store: Store = field(default_factory=Store)
    log: list[tuple[str, str, int]] = field(default_factory=list)  # method, path, status
    history: list[tuple[str, str, str]] = field(default_factory=list)  # Jobs ended: name, how, why
    _ip: int = 0
    _net: int = field(default_factory=lambda: 64 + secrets.randbelow(128))

    # -- objects -------------------------------------------------------------------------
    def next_ip(self) -> str:
        self._ip += 1
        return f"127.{self._net}.{self._ip // 250}.{self._ip % 250 + 2}"

    def pods_of(self, job: dict[str, Any]) -> list[dict[str, Any]]:
        uid = job["metadata"]["uid"]
        return [p for p in self.store.all("pods") if controller.owned_by(p, uid)]

    def job_event(self, job: dict[str, Any], reason: str, message: str) -> None:
        key = (reason, message)
        if key not in job.setdefault("_events", set()):
            job["_events"].add(key)
            self.store.event(
                job["metadata"]["namespace"], "Job", job["metadata"]["name"], reason, message
            )

    def delete_pod(self, pod: dict[str, Any]) -> None:
        pod["_deleting"] = True
        pod["metadata"].setdefault("deletionTimestamp", "now")

    def delete(self, kind: str, body: dict[str, Any], propagation: str) -> None:
        meta = body["metadata"]
        if kind == "pods":
            self.delete_pod(body)
        elif kind == "jobs" and propagation == "Foreground":
            body["_deleting"] = "Foreground"
            meta["deletionTimestamp"] = "now"
            meta["finalizers"] = ["foregroundDeletion"]
        else:
            self.store.remove(kind, meta["namespace"], meta["name"])

    def leftovers(self, selector: str) -> list[str]:
        """Every object (of the kinds a run creates) the selector finds."""
        return [
            f"{kind}/{body['metadata']['name']}"
            for kind in ("jobs", "pods", "configmaps", "secrets")
            for body in self.store.all(kind, None, selector)
        ]

    # -- the API server ------------------------------------------------------------------
    def _authenticated(self, request: web.Request) -> bool:
        if request.transport is not None and request.transport.get_extra_info("peercert"):
            return True
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip()
        if token in self.tokens:
            return True
        issued = token.removeprefix("exec-")
        return (
            token.startswith("exec-")
            and issued.isdigit()
            and (time.time() - int(issued) < self.exec_token_ttl)
        )

    @web.middleware
    async def _gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        response = await self._answer(request, handler)
        self.log.append((request.method, request.path, response.status))
        return response

    async def _answer(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not self._authenticated(request):
            return status_doc(401, "Unauthorized")
        for fault in self.faults:
            if (
                fault.times > 0
                and fault.method == request.method
                and (fault.path_part in request.path)
            ):
                fault.times -= 1
                return status_doc(fault.status, f"emulated fault {fault.status}")
        denied = self._denied(request)
        if denied:
            return status_doc(403, denied)
        return await handler(request)

    def _denied(self, request: web.Request) -> str:
        info = request.match_info
        kind = info.get("kind", "pods" if "proxy" in request.path else "")
        if kind not in KINDS:
            return ""
        verb = {"POST": "create", "DELETE": "delete"}.get(request.method, "get")
        if request.method == "GET" and "name" not in info and "proxy" not in request.path:
            verb = "list"
        resource = f"{kind}/proxy" if "proxy" in request.path else kind
        group = KINDS[kind]
        key = f"{verb} {resource}" + (f".{group}" if group else "")
        if key not in self.denied:
            return ""
        return (
            f'{kind}{"." + group if group else ""} is forbidden: User "emulated" cannot '
            f'{verb} resource "{resource}" in API group "{group}" in the namespace '
            f'"{info.get("ns", "")}"'
        )

    async def version_info(self, request: web.Request) -> web.Response:
        major, minor = self.version
        return web.json_response(
            {"major": str(major), "minor": str(minor), "gitVersion": f"v{major}.{minor}.0-emulated"}
        )

    async def review(self, request: web.Request) -> web.Response:
        body = await request.json()
        a = body["spec"]["resourceAttributes"]
        resource = a["resource"] + (f"/{a['subresource']}" if a.get("subresource") else "")
        key = f"{a['verb']} {resource}" + (f".{a['group']}" if a.get("group") else "")
        body["status"] = {"allowed": key not in self.denied}
        return web.json_response(body, status=201)

    async def create(self, request: web.Request) -> web.Response:
        kind, ns = request.match_info["kind"], request.match_info["ns"]
        body = await request.json()
        name = body["metadata"]["name"]
        if kind == "jobs" and self.squat > 0:
            self.squat -= 1
            self.store.add(kind, ns, foreign_job(name))
        if self.store.get(kind, ns, name) is not None:
            return status_doc(409, f'{kind} "{name}" already exists')
        return web.json_response(public(self.store.add(kind, ns, body)), status=201)

    async def read(self, request: web.Request) -> web.Response:
        info = request.match_info
        body = self.store.get(info["kind"], info["ns"], info["name"])
        if body is None:
            return status_doc(404, f'{info["kind"]} "{info["name"]}" not found')
        return web.json_response(public(body))

    async def listing(self, request: web.Request) -> web.Response:
        info = request.match_info
        items = self.store.all(info["kind"], info["ns"], request.query.get("labelSelector", ""))
        return web.json_response(
            {
                "kind": "List",
                "apiVersion": "v1",
                "metadata": {"resourceVersion": str(self.store.version)},
                "items": [public(item) for item in items],
            }
        )

    async def remove(self, request: web.Request) -> web.Response:
        info = request.match_info
        body = self.store.get(info["kind"], info["ns"], info["name"])
        if body is None:
            return status_doc(404, f'{info["kind"]} "{info["name"]}" not found')
        options = json.loads(await request.text() or "{}")
        self.delete(info["kind"], body, options.get("propagationPolicy", "Background"))
        return web.json_response(public(body))

    async def proxy(self, request: web.Request) -> web.Response:
        info = request.match_info
        pod = self.store.get("pods", info["ns"], info["name"])
        if pod is None:
            return status_doc(404, f'pods "{info["name"]}" not found')
        ip = pod["status"].get("podIP")
        url = f"http://{ip}:{info['port']}/{info['tail']}"
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower().startswith("x-molotov") or k.lower() == "content-type"
        }
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.request(
                    request.method,
                    url,
                    data=await request.read(),
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=30),
                ) as answer,
            ):
                return web.Response(
                    body=await answer.read(), status=answer.status, content_type=answer.content_type
                )
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            why = "connect: connection refused" if ip else "no pod IP"
            return status_doc(
                503,
                f"error trying to reach service: dial tcp {ip}:"
                f"{info['port']}: {why} ({type(exc).__name__})",
            )

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._gate])
        ns = "/namespaces/{ns}/{kind}"
        app.router.add_get("/version", self.version_info)
        app.router.add_post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", self.review)
        app.router.add_route(
            "*", "/api/v1/namespaces/{ns}/pods/{name}:{port}/proxy/{tail:.*}", self.proxy
        )
        for prefix in ("/api/v1", "/apis/batch/v1"):
            app.router.add_post(prefix + ns, self.create)
            app.router.add_get(prefix + ns, self.listing)
            app.router.add_get(prefix + ns + "/{name}", self.read)
            app.router.add_delete(prefix + ns + "/{name}", self.remove)
        return app

    # -- the control loop ----------------------------------------------------------------
    async def loop(self) -> None:
        while True:
            # No await between a container's end and its Job's reaction: a client never sees
            # one without the other, as a real controller's reaction is fast.
            for pod in self.store.all("pods"):
                kubelet.reap(self, pod)
            for job in self.store.all("jobs"):
                controller.sync_job(self, job)
            for pod in self.store.all("pods"):
                await kubelet.sync_pod(self, pod)
            controller.collect(self)
            await asyncio.sleep(TICK)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        runner = web.AppRunner(self.app(), access_log=None, handler_cancellation=True)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self.tls).start()
        scheme = "https" if self.tls else "http"
        self.url = f"{scheme}://127.0.0.1:{runner.addresses[0][1]}"
        task = asyncio.ensure_future(self.loop())
        try:
            yield
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
            kubelet.kill_all(self)
            await runner.cleanup()


def tls_context(ca: trustme.CA) -> ssl.SSLContext:
    """The emulator's TLS (``Emulator(tls=...)``): a server certificate for 127.0.0.1 that
    ``ca`` issued, and the client certificates it issues accepted (a token still does)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca.configure_trust(context)
    context.verify_mode = ssl.CERT_OPTIONAL
    return context


@contextmanager
def emulating(emulator: Emulator) -> Iterator[Emulator]:
    """The emulator serving in a thread of the test process while the block runs."""
    with serving(emulator.running, "the Kubernetes emulator"):
        yield emulator
