"""The scenario API: decorators that fill a :class:`Registry`, and run-wide variables.

One default registry sits behind the module-level decorators, the way Molotov 2.x scenario
files expect (``@scenario`` at import time). The runner reads it after the scenario module is
imported and before forking, so worker processes inherit it without pickling. Tests use
:func:`reset` to start from an empty one.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

# Fixtures registered at most once each; ``events`` is the one that may repeat.
SINGLE_FIXTURES = (
    "setup",
    "global_setup",
    "teardown",
    "global_teardown",
    "setup_session",
    "teardown_session",
    "scenario_picker",
)


@dataclass(frozen=True)
class Scenario:
    """A registered scenario: what ``@scenario`` recorded about one coroutine."""

    name: str
    weight: float
    delay: float
    func: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kw: dict[str, Any] = field(default_factory=dict)

    def as_event_dict(self) -> dict[str, Any]:
        """The ``scenario`` dict that Molotov 2.x passes to event handlers."""
        return {
            "name": self.name,
            "weight": self.weight,
            "delay": self.delay,
            "func": self.func,
            "args": self.args,
            "kw": self.kw,
        }


class Registry:
    """Everything a scenario module declares: scenarios, fixtures, event handlers, variables."""

    def __init__(self) -> None:
        self.scenarios: dict[str, Scenario] = {}
        self.fixtures: dict[str, Callable[..., Any]] = {}
        self.event_handlers: list[Callable[..., Any]] = []
        self.variables: dict[str, Any] = {}

    def add_scenario(self, scenario: Scenario) -> None:
        self.scenarios[scenario.name] = scenario

    def add_fixture(self, kind: str, func: Callable[..., Any]) -> None:
        if kind in self.fixtures:
            raise ValueError(f"You can't have two {kind!r} functions")
        self.fixtures[kind] = func

    def fixture(self, kind: str) -> Callable[..., Any] | None:
        return self.fixtures.get(kind)

    def sorted_scenarios(self) -> list[Scenario]:
        """Scenarios in name order: the order ``--single-run`` uses and the bus slots follow."""
        return [self.scenarios[name] for name in sorted(self.scenarios)]


_registry = Registry()


def get_registry() -> Registry:
    return _registry


def reset() -> Registry:
    """Replace the default registry with an empty one (used between tests and loads)."""
    global _registry
    _registry = Registry()
    return _registry


def _require_coroutine(func: Callable[..., Any], what: str) -> None:
    if not inspect.iscoroutinefunction(func):
        raise TypeError(f"@{what} needs a coroutine function (async def); got {func!r}")


def scenario(weight: float = 1, delay: float = 0.0, name: str | None = None) -> Callable[[F], F]:
    """Register a coroutine ``func(session)`` as a scenario.

    ``weight`` sets how often it is picked relative to the others (0 leaves it out),
    ``delay`` is slept after each successful run of it, ``name`` defaults to ``__name__``.
    """

    def register(func: F) -> F:
        _require_coroutine(func, "scenario")
        if weight > 0:
            _registry.add_scenario(
                Scenario(name=name or func.__name__, weight=weight, delay=delay, func=func)
            )
        return func

    return register


def _fixture(kind: str, coroutine: bool) -> Callable[[F], F]:
    def register(func: F) -> F:
        if coroutine:
            _require_coroutine(func, kind)
        _registry.add_fixture(kind, func)
        return func

    return register


def setup() -> Callable[[F], F]:
    """``async def f(worker_id, args)`` per worker; may return ``ClientSession`` kwargs."""
    return _fixture("setup", coroutine=True)


def global_setup() -> Callable[[F], F]:
    """``def f(args)`` once in the parent process, before the worker processes start."""
    return _fixture("global_setup", coroutine=False)


def teardown() -> Callable[[F], F]:
    """``def f(worker_id)`` per worker, after its session is closed."""
    return _fixture("teardown", coroutine=False)


def global_teardown() -> Callable[[F], F]:
    """``def f()`` once in the parent process at the very end."""
    return _fixture("global_teardown", coroutine=False)


def setup_session() -> Callable[[F], F]:
    """``async def f(worker_id, session)`` once the worker's session exists."""
    return _fixture("setup_session", coroutine=True)


def teardown_session() -> Callable[[F], F]:
    """``async def f(worker_id, session)`` before the worker's session is closed."""
    return _fixture("teardown_session", coroutine=True)


def scenario_picker() -> Callable[[F], F]:
    """``def f(worker_id, step_id) -> name`` chooses each step's scenario; weights are ignored."""
    return _fixture("scenario_picker", coroutine=False)


def events() -> Callable[[F], F]:
    """``async def f(event, **info)`` receives every event; may be registered many times."""

    def register(func: F) -> F:
        _require_coroutine(func, "events")
        _registry.event_handlers.append(func)
        return func

    return register


def set_var(name: str, value: Any) -> None:
    """Set a run-wide variable; set in ``global_setup`` it is seen by every worker process."""
    _registry.variables[name] = value


def get_var(name: str, factory: Callable[[], Any] | None = None) -> Any:
    """Return a variable, ``None`` when unset; ``factory()`` creates it once when given."""
    variables = _registry.variables
    if name not in variables and factory is not None:
        variables[name] = factory()
    return variables.get(name)


@dataclass
class RunControl:
    """How code running in a worker process stops the whole run (Molotov 2.x's ``stop()``).

    The worker process registers its ``stop`` (ask every process to stop, as ``-x`` does) and
    ``stopping`` (is the run stopping, for whatever reason) with :func:`control_run`; outside
    a worker process (``global_setup``, say) there is no run to stop, and :func:`stop` only
    records that it was asked.
    """

    stop: Callable[[], None] | None = None
    stopping: Callable[[], bool] | None = None
    asked: bool = False
    reasons: list[Any] = field(default_factory=list)


_control = RunControl()


def control_run(stop: Callable[[], None], stopping: Callable[[], bool]) -> None:
    """Called by the worker process before its workers start (see :class:`RunControl`)."""
    global _control
    _control = RunControl(stop, stopping)


def stop(why: Any = None) -> None:
    """Stop the run gracefully: no new step starts, in-flight steps finish, teardowns run.

    ``why`` (anything, 2.x passed exceptions) is kept in :func:`stop_reason`.
    """
    if why is not None:
        _control.reasons.append(why)
    _control.asked = True
    if _control.stop is not None:
        _control.stop()


def is_stopped() -> bool:
    """Whether the run is stopping: :func:`stop` was called, or the run is ending anyway."""
    return _control.asked or (_control.stopping is not None and _control.stopping())


def stop_reason() -> list[Any]:
    """The ``why`` values given to :func:`stop` in this process, in order."""
    return list(_control.reasons)
