"""Shared test fixtures: a real aiohttp target on 127.0.0.1 and a runner for the real CLI."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from threaded import serving

SHM = Path("/dev/shm")


@dataclass
class Target:
    """A live aiohttp server in a thread of the test process; counts what it served."""

    url: str = ""
    hits: Counter[str] = field(default_factory=Counter)
    # (time.monotonic() at arrival, path) of every request: one clock with the workers'.
    stamps: list[tuple[float, str]] = field(default_factory=list)

    def reset(self) -> None:
        self.hits.clear()
        self.stamps.clear()

    def arrivals(self, path: str = "/") -> list[float]:
        """When the requests to ``path`` arrived (monotonic seconds), in order."""
        return [at for at, hit in self.stamps if hit == path]

    @property
    def total(self) -> int:
        return sum(self.hits.values())


def _make_app(target: Target) -> web.Application:
    async def count(request: web.Request, handler):  # type: ignore[no-untyped-def]
        target.hits[request.path] += 1
        target.stamps.append((time.monotonic(), request.path))
        return await handler(request)

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="status")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(float(request.query.get("s", "1")))
        return web.Response(text="slow")

    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"got": await request.json(), "method": request.method})

    async def data(request: web.Request) -> web.Response:
        return web.json_response({"items": [1, 2, 3]})

    app = web.Application(middlewares=[web.middleware(count)])
    app.router.add_get("/", ok)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/slow", slow)
    app.router.add_post("/echo", echo)
    app.router.add_get("/data", data)
    return app


@pytest.fixture(scope="session")
def _target_server() -> Iterator[Target]:
    target = Target()

    @asynccontextmanager
    async def listening() -> AsyncIterator[None]:
        # Cancel handlers on shutdown: tests leave 30 s /slow requests behind on purpose.
        runner = web.AppRunner(_make_app(target), access_log=None, handler_cancellation=True)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        target.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            yield
        finally:
            await runner.cleanup()

    with serving(listening, "the test target"):
        yield target


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
    from support import SCENARIO_HEADER

    def write(body: str, name: str = "loadtest.py") -> Path:
        return write_scenario(SCENARIO_HEADER + textwrap.dedent(body), name)

    return write


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


def molotov_env(target_url: str = "", **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOLOTOV_")}
    env["TARGET_URL"] = target_url
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.update(extra)
    return env


@pytest.fixture
def run_molotov(target: Target, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Run the real ``molotov`` command (``python -m molotov``) and wait for it."""

    def run(*args: str, cwd: Path | None = None, timeout: float = 60, **env: str) -> Result:
        argv = [sys.executable, "-m", "molotov", *args]
        return run_command(argv, cwd or tmp_path, molotov_env(target.url, **env), timeout)

    return run


def run_command(argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> Result:
    """Run a command to its end, no stdin, its output captured as text."""
    done = subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def _orphaned_buses() -> set[str]:
    """Stats-bus segments (``molotov-<pid>-<token>``) whose creating process is gone."""
    if not SHM.is_dir():
        return set()
    orphans = set()
    for entry in SHM.iterdir():
        parts = entry.name.split("-")
        is_bus = len(parts) == 3 and parts[0] == "molotov" and parts[1].isdigit()
        if is_bus and not Path(f"/proc/{parts[1]}").exists():
            orphans.add(entry.name)
    return orphans


@pytest.fixture(autouse=True)
def no_leftover_shared_memory() -> Iterator[None]:
    """Every test must leave no orphaned stats bus: it is unlinked however a run ends.

    Only segments of processes that are gone count, so runs of other sessions on the same
    machine (alive, their segments in use) do not fail this check.
    """
    before = _orphaned_buses()
    yield
    leftover = _orphaned_buses() - before
    assert not leftover, f"shared memory left behind: {leftover}"
