"""Shared test fixtures: a real aiohttp target on 127.0.0.1 and a runner for the real CLI.

Only fixtures live here; what tests import (``Target``, ``Result``, ``molotov_env``, ...) is
in support.py, a plain module.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web

import browser as headless
import promserver
from support import (
    SCENARIO_HEADER,
    BusWatch,
    Result,
    Target,
    molotov_env,
    run_command,
    target_app,
)
from threaded import serving


@pytest.fixture(scope="session")
def _target_server() -> Iterator[Target]:
    target = Target()

    @asynccontextmanager
    async def listening() -> AsyncIterator[None]:
        # Cancel handlers on shutdown: tests leave 30 s /slow requests behind on purpose.
        runner = web.AppRunner(target_app(target), access_log=None, handler_cancellation=True)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        target.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            yield
        finally:
            await runner.cleanup()

    with serving(listening, "the test target"):
        yield target


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """A headless Chromium (Playwright's ``Browser``) for a test module's pages (see browser.py:
    the tests skip without one, unless MOLOTOV_REQUIRE_BROWSER=1)."""
    headless.require()
    with headless.chromium() as running:
        yield running


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[promserver.Prometheus]:
    """A real Prometheus on 127.0.0.1 with its remote-write receiver on, for a test module
    (see promserver.py: the tests skip without one, unless MOLOTOV_REQUIRE_PROMETHEUS=1)."""
    promserver.require()
    with promserver.running(tmp_path_factory.mktemp("prometheus")) as server:
        yield server


@pytest.fixture
def target(_target_server: Target) -> Target:
    """The target server, with its request counts reset for this test."""
    _target_server.reset()
    return _target_server


@pytest.fixture
def write_scenario(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Write a scenario module (dedented) into the test's temp dir; return its path."""

    def write(source: str, name: str = "loadtest.py") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(source))
        return path

    return write


@pytest.fixture
def scenario_file(write_scenario):  # type: ignore[no-untyped-def]
    """Write a scenario module: support.SCENARIO_HEADER, then ``body`` (dedented)."""

    def write(body: str, name: str = "loadtest.py") -> Path:
        return write_scenario(SCENARIO_HEADER + textwrap.dedent(body), name)

    return write


@pytest.fixture
def run_molotov(target: Target, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Run the real ``molotov`` command (``python -m molotov``) and wait for it."""

    def run(*args: str, cwd: Path | None = None, timeout: float = 60, **env: str) -> Result:
        argv = [sys.executable, "-m", "molotov", *args]
        return run_command(argv, cwd or tmp_path, molotov_env(target.url, **env), timeout)

    return run


@pytest.fixture(autouse=True)
def no_leftover_shared_memory() -> Iterator[None]:
    """Every test must leave no orphaned stats bus: it is unlinked however a run ends.

    Only the segments of this test's own processes count (its children, theirs, ...), so
    other sessions' runs on the same machine, alive or leaking, do not fail this check.
    """
    with BusWatch() as watch:
        yield
    leftover = watch.orphans()
    assert not leftover, f"shared memory left behind: {leftover}"
