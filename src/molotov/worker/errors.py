"""How an exception is aggregated: its kind and a one-line message.

Connection-level errors of aiohttp are told apart (refused, reset, timeout, DNS, TLS, invalid
HTTP, out of file descriptors, other connection errors) and keyed by the ``HOST:PORT`` they
concern, so a dead target with 10,000 refused connections is one line with a count. Anything
else a scenario raises is keyed by its type and message.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import traceback
from contextvars import ContextVar

import aiohttp
from aiohttp.http_exceptions import HttpProcessingError
from yarl import URL

from molotov.stats.snapshot import ErrorKind

# The kinds that mean "could not reach the target at all".
CONNECT_KINDS = frozenset({ErrorKind.REFUSED, ErrorKind.DNS, ErrorKind.TLS, ErrorKind.CONNECTION})


def _address(exc: aiohttp.ClientConnectorError) -> str:
    host = f"[{exc.host}]" if ":" in exc.host else exc.host
    return f"{host}:{exc.port}"


def _out_of_descriptors(exc: BaseException) -> bool:
    os_error = exc.os_error if isinstance(exc, aiohttp.ClientConnectorError) else exc
    return isinstance(os_error, OSError) and os_error.errno in (errno.EMFILE, errno.ENFILE)


def request_error_kind(exc: BaseException) -> ErrorKind | None:
    """The request-level kind of an exception, or None when it is not a transport error."""
    if _out_of_descriptors(exc):
        return ErrorKind.DESCRIPTORS
    if isinstance(exc, (aiohttp.ClientPayloadError, HttpProcessingError)) or (
        isinstance(exc, aiohttp.ClientResponseError)
        and isinstance(exc.__cause__, HttpProcessingError)
    ):
        # Not HTTP: a bad status line or header, a bad Content-Length, a broken chunk. (A
        # ClientResponseError of raise_for_status() has no such cause: the scenario's own.)
        return ErrorKind.PROTOCOL
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return ErrorKind.CONNECTION  # never connected: the target is unreachable
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return ErrorKind.DNS
    if isinstance(exc, (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError)):
        return ErrorKind.TLS
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc.os_error, ConnectionRefusedError):
            return ErrorKind.REFUSED
        return ErrorKind.CONNECTION
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return ErrorKind.TIMEOUT
    if isinstance(exc, (aiohttp.ServerDisconnectedError, ConnectionResetError)):
        return ErrorKind.RESET
    if isinstance(exc, aiohttp.ClientOSError) and isinstance(exc.__cause__, ConnectionResetError):
        return ErrorKind.RESET
    if isinstance(exc, (aiohttp.ClientConnectionError, OSError)):
        return ErrorKind.CONNECTION
    return None


# What user code (a scenario, a fixture, an event handler) may raise and molotov counts as its
# failure: anything (sys.exit(), a KeyboardInterrupt, a class of its own derived from
# BaseException: a failed step like any other, never the end of the worker process) but what
# the event loop uses to end a coroutine: a cancellation, a coroutine being closed. Python's
# ``except`` takes no complement, so every handler of USER_ERRORS comes after one of
# PROPAGATED that raises it again.
PROPAGATED = (asyncio.CancelledError, GeneratorExit)
USER_ERRORS = BaseException

# The URL of a request whose connection got no answer before a cancellation cut it (set by
# the recording middleware in the worker's task, read by molotov.worker.failures).
unanswered_connect: ContextVar[URL | None] = ContextVar("molotov_unanswered", default=None)

_TARGET = "_molotov_target"
_REQUEST = "_molotov_request"


def mark_target(exc: BaseException, url: URL) -> None:
    """Note on a transport error which ``HOST:PORT`` it concerns (not all of them say)."""
    host = f"[{url.host}]" if url.host and ":" in url.host else url.host
    with contextlib.suppress(AttributeError, TypeError):
        setattr(exc, _TARGET, f"{host}:{url.port}")


def mark_request(exc: BaseException, number: int) -> None:
    """Note on an exception which request (its request-table number) raised it."""
    with contextlib.suppress(AttributeError, TypeError):
        setattr(exc, _REQUEST, number)


def request_of(exc: BaseException) -> int:
    """The request-table number of the request that raised ``exc`` (-1: none known)."""
    number = getattr(exc, _REQUEST, -1)
    return number if isinstance(number, int) else -1


def counted_as_request(exc: BaseException) -> bool:
    """Whether the recording middleware saw this error (and counted its request)."""
    return hasattr(exc, _TARGET)


def describe_error(exc: BaseException) -> tuple[ErrorKind, str]:
    """The aggregation key of an exception a step (or a fixture) raised."""
    kind = request_error_kind(exc)
    if kind is not None and isinstance(exc, aiohttp.ClientConnectorError):
        message = _address(exc)
        if kind is ErrorKind.CONNECTION:
            reason = exc.os_error.strerror or type(exc.os_error).__name__
            message += f", {reason}"
        return kind, message
    target = getattr(exc, _TARGET, None)
    if kind is ErrorKind.PROTOCOL:
        # What was received varies (random bytes make a row each): the kind of invalid HTTP
        # keys the error; protocol_sample() keeps an escaped sample of the first one.
        invalid = exc.__cause__ if isinstance(exc.__cause__, HttpProcessingError) else exc
        where = f"{target}, " if target is not None else ""
        return kind, f"{where}{type(invalid).__name__}"
    if kind is not None and target is not None:
        detail = str(exc)
        return kind, f"{target}, {type(exc).__name__}" + (f": {detail}" if detail else "")
    if kind is None and isinstance(exc, aiohttp.ClientResponseError) and exc.status:
        # raise_for_status(): the status says it all, the URL would make a row per item.
        return ErrorKind.SCENARIO, f"answered {exc.status} {exc.message}".rstrip()
    text = str(exc)
    message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    if not text and kind is None and exc.__traceback__ is not None:
        # A bare `assert` says nothing: where it stands (in the scenario) is the message.
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        message += f" at {os.path.basename(frame.filename)}:{frame.lineno}"
    return kind or ErrorKind.SCENARIO, message


SAMPLE_CHARACTERS = 120


def protocol_sample(exc: BaseException) -> str:
    """What an invalid answer said, escaped (no control characters, no raw bytes) and cut
    short: ``received: 400, message: Invalid status line 'HTTP/1.1 \\x8f...'``."""
    invalid = exc.__cause__ if isinstance(exc.__cause__, HttpProcessingError) else exc
    text = str(invalid).encode("unicode_escape", "backslashreplace").decode("ascii")
    if len(text) > SAMPLE_CHARACTERS:
        text = text[: SAMPLE_CHARACTERS - 3] + "..."
    return f"received: {text}"


def format_traceback(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def unreachable_targets(messages: list[str]) -> list[str]:
    """``cannot connect to HOST:PORT`` lines from the messages of connect-kind errors."""
    return sorted({f"cannot connect to {m.split(', ')[0]}" for m in messages})
