"""A worker's failed steps, the slow path of the step loop: how each is counted and reported.

A step fails when its scenario raises (:meth:`StepFailures.failed`), when ``--step-timeout``
cancels it (:meth:`StepFailures.timed_out`, then ``failed``), or when the stop cancels it
(:meth:`StepFailures.cut`). A request the cancellation caught while still connecting (a
black-holed target) is a connection error, not a timeout: the recording middleware notes it
in :data:`~molotov.worker.errors.unanswered_connect`, and the step's failure says the target
could not be reached, as a refused port does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

import aiohttp

from molotov.config.runconfig import RunConfig
from molotov.scope import last_request
from molotov.stats.layout import Counter, StopReason
from molotov.stats.requests import RequestWriter
from molotov.stats.slot import SlotWriter
from molotov.stats.snapshot import REQUEST_ERROR_KINDS, ErrorKind
from molotov.worker.errors import (
    CONNECT_KINDS,
    counted_as_request,
    describe_error,
    mark_target,
    request_of,
    unanswered_connect,
)

# What a scenario raises about a request after its headers came back (see failed()).
_AFTER_THE_HEADERS = (aiohttp.ClientResponseError, aiohttp.ClientPayloadError)


class StepTimeout(TimeoutError):
    """A step ran longer than ``--step-timeout`` and was cancelled.

    Sessions have no per-request total timeout (arming a timer for every request costs ~10 %
    of the CPU per request); this once-a-second check of every worker's step is what guards
    against a target that never answers, as aiohttp's default 300 s total timeout did.
    """


class Reporter(Protocol):
    """Puts an error on the bus: where it happened (scenario index, request-table number; -1
    when unknown) and the exception (its traceback with ``-v``)."""

    def __call__(
        self,
        kind: ErrorKind,
        message: str,
        exc: BaseException | None,
        scenario: int = -1,
        request: int = -1,
    ) -> None: ...


class StepFailures:
    """Counts and reports a process's failed steps (never on the hot path)."""

    def __init__(
        self,
        config: RunConfig,
        slot: SlotWriter,
        requests: RequestWriter,
        report: Reporter,
        stop: Callable[[StopReason], None],
    ) -> None:
        self.config = config
        self.slot = slot
        self.requests = requests
        self.report = report
        self.stop = stop

    def failed(self, exc: BaseException, scenario: int) -> None:
        """A step of ``scenario`` raised ``exc``."""
        kind, message = describe_error(exc)
        request = request_of(exc)
        if request < 0 and isinstance(exc, _AFTER_THE_HEADERS):
            # raise_for_status(), or a body that broke as it was read: after the request
            # returned, so the task's last request it is.
            request = self._last_request()
        if kind in CONNECT_KINDS:
            self.slot.add(Counter.CONNECTION_FAILURES)
        elif kind is ErrorKind.PROTOCOL and not counted_as_request(exc):
            # Invalid HTTP in a body (a broken chunk, a short one): found as the scenario
            # reads it, after the request was counted with its status.
            self.slot.request_error(last_request(), REQUEST_ERROR_KINDS.index(kind))
        self.report(kind, message, exc, scenario, request)
        if self.config.exception:
            self.stop(StopReason.EXCEPTION)

    def _last_request(self) -> int:
        entry = last_request()
        return self.requests.index_of(entry) if entry >= 0 else -1

    def timed_out(self) -> Exception:
        """What the cancellation of an overdue step is, as a failure: a connection error when
        it caught a request still connecting, else a :class:`StepTimeout`. The task goes on,
        no longer cancelling."""
        task = asyncio.current_task()
        if task is not None and hasattr(task, "uncancel"):
            task.uncancel()  # Python 3.11+
        timeout = f"{self.config.step_timeout:g}s"
        url = unanswered_connect.get()
        if url is None:
            return StepTimeout(f"the step ran over {timeout} and was cancelled")
        unanswered_connect.set(None)
        exc = aiohttp.ConnectionTimeoutError(
            f"no answer to the connection within {timeout} (--step-timeout)"
        )
        mark_target(exc, url)
        return exc

    def cut(self, scenario: int, started: int, due: int) -> None:
        """A step cancelled by the stop (--graceful-stop ran out, a second Ctrl-C,
        --force-shutdown; the parent's own line says which): a failed step of its own kind,
        or a connection error when it was still connecting."""
        ended = time.monotonic_ns()
        self.slot.step_done(scenario, False, (ended - started) // 1000)
        if due:
            self.slot.response_time(scenario, (ended - due) // 1000)
        url = unanswered_connect.get()
        if url is None:
            self.report(ErrorKind.CUT, "cancelled while running", None, scenario)
            return
        unanswered_connect.set(None)
        exc = aiohttp.ConnectionTimeoutError("no answer to the connection before the stop")
        mark_target(exc, url)
        kind, message = describe_error(exc)
        self.slot.add(Counter.CONNECTION_FAILURES)
        self.report(kind, message, None, scenario, self._last_request())

    def pick_failed(self, exc: BaseException) -> None:
        self.slot.add(Counter.PICK_FAILURES)
        self.report(ErrorKind.PICKER, describe_error(exc)[1], exc)
        if self.config.exception:
            self.stop(StopReason.EXCEPTION)
