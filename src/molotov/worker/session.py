"""The ``aiohttp.ClientSession`` each worker runs its scenarios with, and its context.

Every request is counted into the stats bus by an aiohttp client middleware. Request events
(``sending_request``, ``response_received``) and ``-vv`` request dumps come from a second
middleware that is installed only when something listens, so a plain run pays nothing for them.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from molotov.scope import LastRequest, explicit_name, worker_requests
from molotov.stats.layout import Counter
from molotov.stats.requests import RequestWriter
from molotov.stats.slot import SlotWriter
from molotov.stats.snapshot import REQUEST_ERROR_KINDS, ErrorKind
from molotov.worker.errors import (
    mark_request,
    mark_target,
    request_error_kind,
    unanswered_connect,
)
from molotov.worker.listeners import EventSender

LOAD_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=30)
_contexts: weakref.WeakKeyDictionary[aiohttp.ClientSession, SessionContext] = (
    weakref.WeakKeyDictionary()
)


class SessionContext:
    """What a scenario can learn about the worker running it; accepts new attributes."""

    def __init__(self, worker_id: int, args: argparse.Namespace, statsd: Any) -> None:
        self.worker_id = worker_id
        self.args = args
        self.step = 0
        self.statsd = statsd


def get_context(session: aiohttp.ClientSession) -> SessionContext:
    """The :class:`SessionContext` of a session molotov created for a worker."""
    try:
        return _contexts[session]
    except KeyError:
        raise ValueError("this session was not created by molotov") from None


_UNREADABLE = "***WARNING: Molotov can't display this body***"
_BINARY = "**** Binary content ****"
_COMPRESSED = ("gzip", "compress", "deflate", "identity", "br", "zstd")


def _body_text(body: Any, headers: Any) -> str:
    if headers.get("Content-Encoding") in _COMPRESSED:
        return _BINARY
    value = getattr(body, "_value", body)  # aiohttp payloads keep the original value
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return _UNREADABLE
    return _UNREADABLE if value else ""


def format_request(request: aiohttp.ClientRequest) -> str:
    lines = [">" * 45, f"{request.method} {request.url}"]
    lines += [f"{k}: {v}" for k, v in request.headers.items()]
    body = _body_text(request.body, request.headers)
    if body:
        lines += ["", body]
    return "\n".join(lines)


async def format_response(response: aiohttp.ClientResponse) -> str:
    version = response.version
    protocol = f"HTTP/{version.major}.{version.minor}" if version else "HTTP"
    lines = ["=" * 45, f"{protocol} {response.status} {response.reason}"]
    lines += [f"{k}: {v}" for k, v in response.headers.items()]
    # read() keeps the body on the response, so the scenario can still read it afterwards.
    body = _body_text(await response.read(), response.headers)
    if body:
        lines += ["", body]
    lines.append("<" * 45)
    return "\n".join(lines)


def _dump(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


Middleware = Callable[
    [aiohttp.ClientRequest, Callable[[aiohttp.ClientRequest], Awaitable[aiohttp.ClientResponse]]],
    Awaitable[aiohttp.ClientResponse],
]


def _request_middleware(
    events: EventSender, verbose: int, session_ref: Callable[[], aiohttp.ClientSession | None]
) -> Middleware:
    async def middleware(
        request: aiohttp.ClientRequest,
        handler: Callable[[aiohttp.ClientRequest], Awaitable[aiohttp.ClientResponse]],
    ) -> aiohttp.ClientResponse:
        session = session_ref()
        if verbose > 1:
            _dump(format_request(request))
        await events.send("sending_request", session=session, request=request)
        response = await handler(request)
        if verbose > 1:
            _dump(await format_response(response))
        await events.send("response_received", session=session, response=response, request=request)
        return response

    return middleware


# What aiohttp sends again, once, when it fails on a kept-alive connection the server had
# closed (RFC 9112 9.3.1: idempotent methods only; see ClientSession._request).
_RETRIED_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
_RETRIED_ERRORS = (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError)
_NEVER_RETRIED = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
_TIMEOUT = REQUEST_ERROR_KINDS.index(ErrorKind.TIMEOUT)
_UNREACHED = REQUEST_ERROR_KINDS.index(ErrorKind.CONNECTION)


def _retried_by_aiohttp(
    session: aiohttp.ClientSession | None, request: aiohttp.ClientRequest, exc: Exception
) -> bool:
    """Whether aiohttp will send this failed request again at once (then only that counts)."""
    return (
        isinstance(exc, _RETRIED_ERRORS)
        and not isinstance(exc, _NEVER_RETRIED)
        and request.method in _RETRIED_METHODS
        and session is not None
        and getattr(session, "_retry_connection", True)
    )


def _recording_middleware(
    slot: SlotWriter,
    table: RequestWriter,
    last: LastRequest,
    session_ref: Callable[[], aiohttp.ClientSession | None],
) -> Middleware:
    """Counts every request into the process's bus slot: status class, latency, bytes, errors,
    for the run and under the request's name (:mod:`molotov.stats.naming`; ``molotov.named``).

    Request latency runs from the moment aiohttp hands the request to the middleware chain
    (so it includes getting a pooled connection or opening one) to the arrival of the
    response headers. Response bytes are the body bytes received, counted when the body has
    been read to its end. The request's table entry is the worker's ``last`` request from then
    on (checks count under it) and is noted on the error it raises (errors say which
    request).

    Each attempt is a request, as the server may have seen it: when one fails on a kept-alive
    connection that the server closed (or reset before answering), aiohttp sends it again at
    once; the failed attempt counts as a request error of its kind, and as ``retried``. A
    request cut off by a cancellation (``--step-timeout``, or the scenario's own
    ``asyncio.wait_for``, or the stop's cancellation after ``--graceful-stop``) counts as a
    ``timeout`` error: the server may well have received it.
    """
    clock = time.perf_counter_ns
    kind_index = {kind: i for i, kind in enumerate(REQUEST_ERROR_KINDS)}
    retries: dict[tuple[str, URL], int] = {}  # failed attempts aiohttp is about to send again
    by_method = table.by_method

    async def middleware(
        request: aiohttp.ClientRequest,
        handler: Callable[[aiohttp.ClientRequest], Awaitable[aiohttp.ClientResponse]],
    ) -> aiohttp.ClientResponse:
        retrying = False
        if retries:
            key = (request.method, request.url)
            if retries.get(key):
                retries[key] -= 1
                retrying = True
        url = request.url
        name = explicit_name.get()
        if name is None:
            paths = by_method.get(request.method)
            entry = paths.get(url.raw_path) if paths is not None else None
            if entry is None:
                entry = table.entry_for(request.method, url.raw_host, url.raw_path)
        else:
            entry = table.entry_named(name, url.raw_host or "")
        last.entry = entry
        started = clock()
        try:
            response = await handler(request)
        except asyncio.CancelledError:
            if getattr(request, "response", None) is None:
                # Cut before the request was sent: its connection got no answer (see
                # molotov.worker.failures), a connection error rather than a timeout.
                unanswered_connect.set(url)
                slot.request_failed(entry, _UNREACHED)
            else:
                slot.request_failed(entry, _TIMEOUT)
            raise
        except Exception as exc:
            kind = request_error_kind(exc)
            mark_request(exc, table.index_of(entry))
            if kind is not None:
                mark_target(exc, url)
                slot.request_failed(entry, kind_index[kind])
                if not retrying and _retried_by_aiohttp(session_ref(), request, exc):
                    key = (request.method, url)
                    retries[key] = retries.get(key, 0) + 1
                    slot.add(Counter.RETRIED)
            raise
        latency = (clock() - started) // 1000
        slot.request_done(entry, response.status, latency)
        content = response.content
        content.on_eof(lambda: slot.response_bytes(entry, content.total_bytes))
        return response

    return middleware


@dataclass(frozen=True)
class SessionFactory:
    """Makes the session of each worker of a process, wired to that process's bus slot."""

    args: argparse.Namespace
    events: EventSender
    slot: SlotWriter
    requests: RequestWriter
    statsd: Any = None
    verbose: int = 0
    dns_cache: bool = True

    def create(self, worker_id: int, options: dict[str, Any]) -> aiohttp.ClientSession:
        """A session built from the ``setup()`` options where it gave any."""
        kwargs = dict(options)
        # No per-request total timeout (see failures.StepTimeout): setup() may still give one.
        kwargs.setdefault("timeout", LOAD_TIMEOUT)
        if "connector" not in kwargs:
            # A load generator wants every connection it asks for: no pool cap.
            kwargs["connector"] = aiohttp.TCPConnector(limit=0, use_dns_cache=self.dns_cache)
        # The first middleware wraps the others: recording goes last, closest to the request,
        # so the time event handlers take is not counted as request latency.
        middlewares: list[Middleware] = list(kwargs.get("middlewares", ()))
        holder: list[weakref.ReferenceType[aiohttp.ClientSession]] = []
        if self.verbose > 1 or self.events.wants_requests:
            middlewares.append(
                _request_middleware(
                    self.events, self.verbose, lambda: holder[0]() if holder else None
                )
            )
        # The worker's task (which makes its session) knows its last request from here on.
        last = LastRequest()
        worker_requests.set(last)
        middlewares.append(
            _recording_middleware(
                self.slot,
                self.requests,
                last,
                lambda: holder[0]() if holder else None,
            )
        )
        kwargs["middlewares"] = tuple(middlewares)
        session = aiohttp.ClientSession(**kwargs)
        holder.append(weakref.ref(session))
        _contexts[session] = SessionContext(worker_id, self.args, self.statsd)
        return session
