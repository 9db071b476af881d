"""The public API that scenario files import: decorators, registry and run-wide variables."""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
from collections.abc import Iterator

import aiohttp
import pytest

import molotov
import molotov.api
from molotov import (
    __version__,
    events,
    get_context,
    get_var,
    global_setup,
    global_teardown,
    json_request,
    request,
    scenario,
    scenario_picker,
    set_var,
    setup,
    setup_session,
    teardown,
    teardown_session,
)
from molotov._version import __version__ as package_version
from molotov.api import SINGLE_FIXTURES, Registry, Scenario, get_registry
from molotov.stats.bus import StatsBus
from molotov.sync import json_request as sync_json_request
from molotov.sync import request as sync_request
from molotov.worker.listeners import EventSender
from molotov.worker.session import SessionContext, SessionFactory


@pytest.fixture(autouse=True)
def fresh_registry() -> Iterator[Registry]:
    registry = molotov.api.reset()
    yield registry
    molotov.api.reset()


async def _coro(*args, **kw):
    return ("coro", args, kw)


def _plain(*args, **kw):
    return ("plain", args, kw)


# Decorator factories keyed by the fixture kind they register.
COROUTINE_FIXTURES = {
    "setup": setup,
    "setup_session": setup_session,
    "teardown_session": teardown_session,
}
PLAIN_FIXTURES = {
    "global_setup": global_setup,
    "global_teardown": global_teardown,
    "teardown": teardown,
    "scenario_picker": scenario_picker,
}


def test_reset_gives_an_empty_registry():
    @scenario()
    async def one(session):
        pass

    assert list(get_registry().scenarios) == ["one"]
    old = get_registry()
    new = molotov.api.reset()
    assert new is get_registry()
    assert new is not old
    assert new.scenarios == {}
    assert new.fixtures == {}
    assert new.event_handlers == []
    assert new.variables == {}


def test_version_is_the_package_version():
    assert isinstance(__version__, str)
    assert __version__
    assert __version__ == package_version == molotov.__version__


def test_lazy_exports_are_the_real_functions():
    assert request is sync_request
    assert json_request is sync_json_request
    assert molotov.get_context is get_context
    for name in molotov.__all__:
        assert getattr(molotov, name) is not None


def test_events_stays_the_decorator_after_the_worker_modules_are_imported():
    # Importing a submodule sets it as an attribute of its package: no submodule may be named
    # like a public API name, or importing it (the workers do) would shadow the decorator.
    import molotov.worker.process
    import molotov.worker.session

    assert molotov.events is molotov.api.events
    assert events is molotov.api.events
    assert molotov.worker.listeners.EventSender is EventSender


def test_events_import_in_a_fresh_interpreter_after_the_workers():
    code = (
        "import molotov.worker.process\n"
        "from molotov import events\n"
        "import molotov.api\n"
        "assert events is molotov.api.events, events\n"
        "@events()\n"
        "async def handler(event, **info):\n"
        "    pass\n"
        "assert molotov.api.get_registry().event_handlers == [handler]\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr


def test_unknown_attribute_is_an_error():
    with pytest.raises(AttributeError, match="no_such_thing"):
        _ = molotov.no_such_thing  # type: ignore[attr-defined]
    with pytest.raises(ImportError):
        from molotov import no_such_thing  # type: ignore[attr-defined]  # noqa: F401


# -- @scenario ----------------------------------------------------------------------------


def test_scenario_returns_the_original_function():
    async def my_scenario(session):
        return session * 2

    decorated = scenario(weight=3)(my_scenario)
    assert decorated is my_scenario
    assert decorated.__name__ == "my_scenario"
    assert asyncio.run(decorated(21)) == 42


def test_scenario_records_name_weight_delay():
    @scenario(weight=40, delay=0.5)
    async def first(session):
        pass

    @scenario()
    async def second(session):
        pass

    registry = get_registry()
    assert set(registry.scenarios) == {"first", "second"}
    one = registry.scenarios["first"]
    assert one == Scenario(name="first", weight=40, delay=0.5, func=first)
    assert one.args == ()
    assert one.kw == {}
    two = registry.scenarios["second"]
    assert (two.weight, two.delay, two.func) == (1, 0.0, second)


def test_scenario_name_overrides_function_name():
    @scenario(name="checkout flow")
    async def checkout(session):
        pass

    registry = get_registry()
    assert list(registry.scenarios) == ["checkout flow"]
    assert registry.scenarios["checkout flow"].func is checkout
    assert registry.scenarios["checkout flow"].name == "checkout flow"
    assert checkout.__name__ == "checkout"


@pytest.mark.parametrize("weight", [0, 0.0, -1])
def test_scenario_without_positive_weight_is_not_registered(weight):
    @scenario(weight=weight)
    async def disabled(session):
        return "still callable"

    assert get_registry().scenarios == {}
    assert asyncio.run(disabled(None)) == "still callable"


def test_scenario_requires_a_coroutine_function():
    def not_async(session):
        pass

    with pytest.raises(TypeError, match="coroutine"):
        scenario()(not_async)
    with pytest.raises(TypeError, match="coroutine"):
        scenario(weight=0)(not_async)
    assert get_registry().scenarios == {}


def test_scenario_rejects_a_plain_function_returning_a_coroutine():
    def wrapper(session):
        return _coro(session)

    with pytest.raises(TypeError, match="coroutine"):
        scenario()(wrapper)


def test_sorted_scenarios_follow_names():
    for name in ("charlie", "alpha", "bravo"):
        scenario(name=name)(_coro)
    names = [s.name for s in get_registry().sorted_scenarios()]
    assert names == ["alpha", "bravo", "charlie"]


def test_as_event_dict():
    @scenario(weight=7, delay=1.5, name="evented")
    async def func(session):
        pass

    data = get_registry().scenarios["evented"].as_event_dict()
    assert set(data) == {"name", "weight", "delay", "func", "args", "kw"}
    assert data == {
        "name": "evented",
        "weight": 7,
        "delay": 1.5,
        "func": func,
        "args": (),
        "kw": {},
    }


def test_scenario_is_frozen():
    sc = Scenario(name="x", weight=1, delay=0.0, func=_coro)
    with pytest.raises(AttributeError):
        sc.weight = 2  # type: ignore[misc]


# -- fixtures -----------------------------------------------------------------------------


def test_fixture_kinds_cover_every_single_fixture():
    assert set(COROUTINE_FIXTURES) | set(PLAIN_FIXTURES) == set(SINGLE_FIXTURES)


@pytest.mark.parametrize("kind", sorted(COROUTINE_FIXTURES))
def test_coroutine_fixture_registers_and_returns_function(kind):
    async def my_fixture(*args):
        return ("fixture", args)

    decorated = COROUTINE_FIXTURES[kind]()(my_fixture)
    assert decorated is my_fixture
    assert decorated.__name__ == "my_fixture"
    assert get_registry().fixture(kind) is my_fixture
    assert asyncio.run(decorated(1, 2)) == ("fixture", (1, 2))


@pytest.mark.parametrize("kind", sorted(COROUTINE_FIXTURES))
def test_coroutine_fixture_rejects_plain_function(kind):
    with pytest.raises(TypeError, match="coroutine"):
        COROUTINE_FIXTURES[kind]()(_plain)
    assert get_registry().fixture(kind) is None


@pytest.mark.parametrize("kind", sorted(PLAIN_FIXTURES))
def test_plain_fixture_takes_a_plain_function(kind):
    def my_fixture(*args):
        return ("fixture", args)

    decorated = PLAIN_FIXTURES[kind]()(my_fixture)
    assert decorated is my_fixture
    assert decorated.__name__ == "my_fixture"
    assert get_registry().fixture(kind) is my_fixture
    assert decorated(3) == ("fixture", (3,))


@pytest.mark.parametrize(
    "kind", sorted(COROUTINE_FIXTURES) + sorted(PLAIN_FIXTURES), ids=lambda k: k
)
def test_single_fixture_twice_is_an_error(kind):
    factory = {**COROUTINE_FIXTURES, **PLAIN_FIXTURES}[kind]

    async def first(*args):
        pass

    async def second(*args):
        pass

    factory()(first)
    with pytest.raises(ValueError, match=kind):
        factory()(second)
    # The first registration stays.
    assert get_registry().fixture(kind) is first


def test_unregistered_fixture_is_none():
    registry = get_registry()
    for kind in SINGLE_FIXTURES:
        assert registry.fixture(kind) is None


def test_fixture_kinds_are_independent():
    setup()(_coro)
    setup_session()(_coro)
    teardown()(_plain)
    global_setup()(_plain)
    assert set(get_registry().fixtures) == {"setup", "setup_session", "teardown", "global_setup"}


# -- @events ------------------------------------------------------------------------------


def test_events_may_be_registered_many_times():
    seen: list[tuple[str, str]] = []

    async def one(event, **info):
        seen.append(("one", event))

    async def two(event, **info):
        seen.append(("two", event))

    assert events()(one) is one
    assert events()(two) is two
    assert events()(one) is one
    assert get_registry().event_handlers == [one, two, one]

    async def deliver():
        for handler in get_registry().event_handlers:
            await handler("scenario_start", scenario={})

    asyncio.run(deliver())
    assert seen == [("one", "scenario_start"), ("two", "scenario_start"), ("one", "scenario_start")]


def test_events_requires_a_coroutine_function():
    with pytest.raises(TypeError, match="coroutine"):
        events()(_plain)
    assert get_registry().event_handlers == []


# -- variables ----------------------------------------------------------------------------


def test_get_var_is_none_when_unset():
    assert get_var("missing") is None
    assert "missing" not in get_registry().variables


def test_set_then_get_var():
    set_var("token", "abc")
    assert get_var("token") == "abc"
    set_var("token", "def")
    assert get_var("token") == "def"


def test_get_var_factory_is_called_exactly_once():
    calls: list[int] = []

    def factory():
        calls.append(1)
        return {"created": len(calls)}

    first = get_var("thing", factory=factory)
    second = get_var("thing", factory=factory)
    assert first == {"created": 1}
    assert second is first
    assert get_var("thing") is first
    assert calls == [1]


def test_get_var_factory_returning_none_is_not_called_again():
    calls: list[int] = []

    def factory():
        calls.append(1)

    assert get_var("nothing", factory=factory) is None
    assert get_var("nothing", factory=factory) is None
    assert calls == [1]


def test_get_var_factory_not_called_when_set():
    set_var("already", 5)

    def factory():
        raise AssertionError("the factory must not run for a set variable")

    assert get_var("already", factory=factory) == 5


def test_variables_do_not_survive_reset():
    set_var("x", 1)
    molotov.api.reset()
    assert get_var("x") is None


# -- get_context --------------------------------------------------------------------------


def test_get_context_of_a_molotov_session():
    args = argparse.Namespace(workers=2)
    bus = StatsBus.create(1, [], 16)

    async def check():
        events_sender = EventSender([], on_error=lambda event, exc: None)
        factory = SessionFactory(
            args=args, events=events_sender, slot=bus.writer(0), requests=bus.request_writer(0)
        )
        session = factory.create(7, {})
        try:
            context = get_context(session)
            assert isinstance(context, SessionContext)
            assert context.worker_id == 7
            assert context.args is args
            assert context.step == 0
            assert context.statsd is None
            context.custom = "attribute"
            assert get_context(session).custom == "attribute"
        finally:
            await session.close()

    try:
        asyncio.run(check())
    finally:
        bus.close()


def test_get_context_of_a_foreign_session_is_an_error():
    async def check():
        async with aiohttp.ClientSession() as session:
            with pytest.raises(ValueError, match="not created by molotov"):
                get_context(session)

    asyncio.run(check())
