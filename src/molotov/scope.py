"""What a scenario says about its own requests: their names and its checks.

``named`` gives the requests made inside it an explicit name (the rows of the per-request
tables); ``check`` counts a named assertion that does not end the step, as k6's ``check()``::

    with molotov.named("search"):
        async with session.post("/search", json=query) as resp:
            molotov.check(resp.status == 200, "status is 200")
            assert (await resp.json())["hits"]  # an assert still fails the step

A name lives in the scenario's task (a :class:`contextvars.ContextVar`), so concurrent
workers, and tasks the scenario starts, never see each other's names. A check is counted under
the name of the last request its worker sent (:class:`LastRequest`, one per worker's session,
written by the session at each request). The worker process installs the recorder
(:func:`install_recorder`); outside a run (a fixture in the parent, a unit test) a check is
only evaluated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# The explicit name of the requests made now, or None (the default name is derived).
explicit_name: ContextVar[str | None] = ContextVar("molotov_request_name", default=None)


class LastRequest:
    """The request-table entry of the last request a worker's session sent (-1: none yet):
    checks count there, and errors say which request. Written by the session on every
    request (an attribute store: a context variable set per request cost ~0.7 % of the CPU
    per request), found by the worker's task through :data:`worker_requests`."""

    __slots__ = ("entry",)

    def __init__(self) -> None:
        self.entry = -1


# The LastRequest of the worker whose task this is (set once, as its session is made).
worker_requests: ContextVar[LastRequest | None] = ContextVar("molotov_requests", default=None)


def last_request() -> int:
    """The entry of the last request the current worker sent (-1: none, or not a worker)."""
    last = worker_requests.get()
    return -1 if last is None else last.entry


_recorder: Callable[[str, bool], None] | None = None


class CheckFailed(AssertionError):
    """A ``check(..., fatal=True)`` that did not hold: the step fails, as with ``assert``."""


def install_recorder(recorder: Callable[[str, bool], None] | None) -> None:
    """The worker process's bus writer for checks (None: checks are only evaluated)."""
    global _recorder
    _recorder = recorder


@contextmanager
def named(name: str) -> Iterator[None]:
    """Give the requests made inside this block the row name ``name``."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"a request name must be a non-empty string, got {name!r}")
    token = explicit_name.set(name.strip())
    try:
        yield
    finally:
        explicit_name.reset(token)


def check(condition: object, name: str, *, fatal: bool = False) -> bool:
    """Count a named check; returns whether it held.

    A failed check does not fail the step unless ``fatal=True``, which then raises
    :class:`CheckFailed` (an ``AssertionError``) after counting it.
    """
    passed = bool(condition)
    if _recorder is not None:
        _recorder(name, passed)
    if fatal and not passed:
        raise CheckFailed(f"check {name!r} failed")
    return passed
