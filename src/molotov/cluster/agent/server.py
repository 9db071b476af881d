"""The agent's HTTP API (aiohttp), served on an event loop of its own in a thread.

Why a thread: the run's parent loop (:mod:`molotov.run.supervisor`) is a blocking loop in
the main thread, which is also where Python delivers signals (Ctrl-C, SIGTERM) to it; the
API lives beside it and never runs scenarios, so it answers even when the worker processes
saturate every core. Every call but ``/v1/ready`` needs the token (compared in constant
time); each one also feeds the dead-man's switch, which this thread checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import math
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from molotov.cluster import protocol
from molotov.cluster.agent.state import AgentState, Prepare
from molotov.cluster.protocol import State

DEADMAN_TICK = 0.25  # seconds between two looks at the dead-man's switch
COMPRESS_ABOVE = 8192  # bytes: a larger snapshot or report goes gzipped if the client takes it
STARTUP_TIMEOUT = 30.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(data: Any, status: int = 200) -> web.Response:
    response = web.json_response(data, status=status, dumps=json.dumps)
    if response.body is not None and len(response.body) > COMPRESS_ABOVE:  # type: ignore[arg-type]
        response.enable_compression()
    return response


def _refuse(status: int, why: str) -> web.Response:
    return _json({"error": why}, status)


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text='{"error": "the body must be JSON"}') from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text='{"error": "the body must be a JSON object"}')
    return body


def make_app(state: AgentState, token: str) -> web.Application:
    expected = token.encode()

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path != protocol.READY:
            given = request.headers.get(protocol.TOKEN_HEADER, "").encode()
            if not hmac.compare_digest(given, expected):
                return _refuse(401, f"wrong or missing {protocol.TOKEN_HEADER}")
            state.touch()
        return await handler(request)

    async def ready(request: web.Request) -> web.Response:
        return _json({"ready": True})

    async def status(request: web.Request) -> web.Response:
        return _json(state.status())

    async def prepare(request: web.Request) -> web.Response:
        body = await _body(request)
        index, count = body.get("index"), body.get("count")
        if (
            not isinstance(body.get("run_id"), str)
            or not isinstance(body.get("options"), dict)
            or not isinstance(index, int)
            or not isinstance(count, int)
            or not 0 <= index < count
        ):
            return _refuse(
                400, "prepare needs run_id, options, index and count (0 <= index < count)"
            )
        why = state.prepare(Prepare(body["run_id"], body["options"], index, count))
        return _refuse(409, why) if why else _json({"state": State.PREPARING.value}, 202)

    async def start(request: web.Request) -> web.Response:
        at = (await _body(request)).get("at")
        if isinstance(at, bool) or not isinstance(at, (int, float)) or not math.isfinite(at):
            return _refuse(400, "start needs 'at': epoch seconds on the agent's clock")
        why = state.start(float(at))
        return _refuse(409, why) if why else _json({"state": State.RUNNING.value, "at": at})

    async def snapshot(request: web.Request) -> web.Response:
        return _json(state.snapshot())

    async def stop(request: web.Request) -> web.Response:
        state.stop()
        return _json(state.status())

    async def report(request: web.Request) -> web.Response:
        if state.report is None:
            return _refuse(409, f"no report yet: the agent is {state.status()['state']}")
        return _json(state.report)

    async def release(request: web.Request) -> web.Response:
        state.release()
        return _json({"released": True})

    app = web.Application(middlewares=[authenticate])
    app.router.add_get(protocol.READY, ready)
    app.router.add_get(protocol.STATUS, status)
    app.router.add_post(protocol.PREPARE, prepare)
    app.router.add_post(protocol.START, start)
    app.router.add_get(protocol.SNAPSHOT, snapshot)
    app.router.add_post(protocol.STOP, stop)
    app.router.add_get(protocol.REPORT, report)
    app.router.add_post(protocol.RELEASE, release)
    return app


class AgentServer:
    """The API on ``host:port`` (port 0: any free one), in a daemon thread."""

    def __init__(self, state: AgentState, token: str, host: str, port: int) -> None:
        self._state = state
        self._token = token
        self._host = host
        self._port = port
        self.url = ""
        self._started = threading.Event()
        self._failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="molotov-agent-api", daemon=True)

    def start(self) -> str:
        """Listen; the agent's URL. Raises OSError when the address cannot be bound."""
        self._thread.start()
        self._started.wait(STARTUP_TIMEOUT)
        if self._failure is not None:
            raise self._failure
        return self.url

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported by start(), in the main thread
            self._failure = exc
            self._started.set()

    async def _serve(self) -> None:
        runner = web.AppRunner(make_app(self._state, self._token), access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port).start()
            host, port = runner.addresses[0][:2]
            self.url = f"http://{f'[{host}]' if ':' in host else host}:{port}"
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self._started.set()
            while not self._stop.is_set():
                self._state.check_deadman()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), DEADMAN_TICK)
        finally:
            await runner.cleanup()

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)
