"""Delivering events to the ``@events()`` handlers of a scenario module.

Each handler is awaited as ``handler(event_name, **info)``. A handler that raises is reported
(counted on the stats bus as an ``event`` error) and never stops the run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from molotov.worker.errors import PROPAGATED, USER_ERRORS

EVENTS = (
    "sending_request",
    "response_received",
    "current_workers",
    "scenario_start",
    "scenario_success",
    "scenario_failure",
)


class EventSender:
    def __init__(
        self,
        handlers: Sequence[Callable[..., Any]],
        on_error: Callable[[str, BaseException], None],
    ) -> None:
        self._handlers = tuple(handlers)
        self._on_error = on_error
        # Request events cost a middleware on every request: only when someone listens.
        self.wants_requests = bool(self._handlers)

    def __bool__(self) -> bool:
        return bool(self._handlers)

    async def send(self, event: str, **info: Any) -> None:
        for handler in self._handlers:
            try:
                await handler(event, **info)
            except PROPAGATED:
                raise
            except USER_ERRORS as exc:
                self._on_error(event, exc)
