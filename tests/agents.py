"""Real cluster parts for tests: agent processes on their own loopback addresses, the real
coordinator (``python -m molotov ... --agents``), and a target that notes who sent what, when.

Each agent is ``python -m molotov --agent --listen 127.0.0.N:0`` (a free port, which it names
on stderr); every process's output is read by a thread, so a test can wait for a line.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from support import molotov_env
from threaded import serving

TOKEN = "test-token-0123456789"


class Proc:
    """A subprocess whose stdout and stderr lines are collected as they come."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        self.popen = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(stream, lines), daemon=True)
            for stream, lines in ((self.popen.stdout, self.out), (self.popen.stderr, self.err))
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream, lines: list[str]) -> None:  # type: ignore[no-untyped-def]
        for line in stream:
            lines.append(line.rstrip("\n"))

    def wait_line(self, pattern: str, timeout: float = 20, stream: str = "any") -> str:
        """The first line matching ``pattern`` (a regex), waiting for it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = {"out": self.out, "err": self.err, "any": self.out + self.err}[stream]
            for line in lines:
                if re.search(pattern, line):
                    return line
            if self.popen.poll() is not None and not any(r.is_alive() for r in self._readers):
                break
            time.sleep(0.02)
        raise AssertionError(f"no line like {pattern!r}:\n{self.text}")

    def wait(self, timeout: float = 60) -> int:
        code = self.popen.wait(timeout)
        for reader in self._readers:
            reader.join(5)
        return code

    @property
    def text(self) -> str:
        return "\n".join(["-- stdout", *self.out, "-- stderr", *self.err])

    def signal(self, signum: int) -> None:
        self.popen.send_signal(signum)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.wait(10)


@dataclass
class Agent:
    proc: Proc
    url: str

    def report(self) -> dict:
        """The report the agent printed as the last line of its stdout."""
        return json.loads(self.proc.out[-1])


@contextmanager
def agents(
    count: int, scenario: Path, *args: str, target: str = "", env: dict | None = None
) -> Iterator[list[Agent]]:
    """``count`` agents, agent ``i`` on 127.0.0.(i + 2), each with ``AGENT`` = i in its env
    (and ``env[i]``'s variables); killed at the end if still there."""
    started = []
    try:
        for index in range(count):
            extra = {"AGENT": str(index), **((env or {}).get(index, {}))}
            argv = [sys.executable, "-m", "molotov", "--agent", "--listen"]
            argv += [f"127.0.0.{index + 2}:0", *args, str(scenario)]
            started.append(Proc(argv, agent_env(target, **extra), scenario.parent))
        found = [p.wait_line(r"listening on http://", 30, "err") for p in started]
        yield [
            Agent(p, re.search(r"http://\S+", line)[0])  # type: ignore[index]
            for p, line in zip(started, found, strict=True)
        ]
    finally:
        for proc in started:
            proc.stop()


def agent_env(target: str = "", **extra: str) -> dict[str, str]:
    return molotov_env(target, **{"MOLOTOV_AGENT_TOKEN": TOKEN, **extra})


def coordinator(scenario: Path, urls: list[str], *args: str, target: str = "", **env: str) -> Proc:
    argv = [sys.executable, "-m", "molotov", str(scenario), "--agents", ",".join(urls), "-c"]
    return Proc([*argv, *args], agent_env(target, **env), scenario.parent)


@dataclass
class Hits:
    """What the target saw: (time.time() at arrival, the sender's X-Agent) of each request."""

    url: str = ""
    stamps: list[tuple[float, str]] = field(default_factory=list)

    def by_agent(self) -> dict[str, list[float]]:
        result: dict[str, list[float]] = {}
        for at, agent in self.stamps:
            result.setdefault(agent, []).append(at)
        return result


@contextmanager
def target() -> Iterator[Hits]:
    hits = Hits()

    async def ok(request: web.Request) -> web.Response:
        hits.stamps.append((time.time(), request.headers.get("X-Agent", "")))
        return web.Response(text="ok")

    @asynccontextmanager
    async def listening() -> AsyncIterator[None]:
        app = web.Application()
        app.router.add_get("/", ok)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        hits.url = f"http://127.0.0.1:{runner.addresses[0][1]}/"
        try:
            yield
        finally:
            await runner.cleanup()

    with serving(listening, "the cluster target"):
        yield hits
