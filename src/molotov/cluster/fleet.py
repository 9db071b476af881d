"""Who provides the agents: :class:`Fleet`, and :class:`StaticFleet` for ``--agents URL,...``.

A fleet makes the agents reachable and ready (``provision``), says what the platform knows of
one (``health``: a pod's OOMKilled, ...), and releases or deletes everything at the end
(``teardown``, returning what is left). The coordinator is the same for every fleet.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Protocol
from urllib.parse import urlsplit

import aiohttp

from molotov.cluster import protocol
from molotov.cluster.transport import AgentTransport, AgentUnreachable, HttpTransport

READY_POLL = 0.2  # seconds between two /v1/ready calls to an agent not ready yet
RELEASE_TIMEOUT = 5.0


class FleetError(Exception):
    """Agents that did not get ready: one line each, naming it and why."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


class Fleet(Protocol):
    async def provision(self, ready_timeout: float) -> list[AgentTransport]:
        """Agents reachable and /v1/ready, in index order; raises FleetError(lines) naming every
        agent/pod that did not get ready and why."""

    async def health(self) -> dict[str, str]:
        """Per agent name, what the platform knows (e.g. "OOMKilled", "Evicted"); {} if nothing."""

    async def teardown(self) -> list[str]:
        """Release/delete everything; return what is left (empty = clean)."""


def parse_agent_urls(text: str) -> list[str]:
    """``http://a:8470,b`` -> the agents' base URLs (``http://`` and port 8470 by default);
    a bad one is a ValueError naming it."""
    urls = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        parts = urlsplit(item if "://" in item else f"http://{item}")
        try:
            port = parts.port or protocol.DEFAULT_PORT
        except ValueError:
            port = 0
        if parts.scheme not in ("http", "https") or not parts.hostname or not port:
            raise ValueError(f"--agents: not an agent URL: {item!r} (use http://HOST:PORT)")
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        urls.append(f"{parts.scheme}://{host}:{port}")
    if not urls:
        raise ValueError("--agents: no agent URL given")
    if len(set(urls)) != len(urls):
        raise ValueError("--agents: an agent is named twice")
    return urls


class StaticFleet:
    """Agents the user started (``molotov --agent --listen``): released at the end."""

    def __init__(self, urls: list[str], token: str) -> None:
        self.urls = urls
        self.token = token
        self._session: aiohttp.ClientSession | None = None
        self.agents: list[AgentTransport] = []

    async def provision(self, ready_timeout: float) -> list[AgentTransport]:
        connector = aiohttp.TCPConnector(limit=0, force_close=False)
        self._session = aiohttp.ClientSession(connector=connector)
        self.agents = [HttpTransport(url, self.token, self._session) for url in self.urls]
        deadline = time.monotonic() + ready_timeout
        problems = await asyncio.gather(*(_until_ready(a, deadline) for a in self.agents))
        lines = [
            f"agent {a.name} not ready: {why}"
            for a, why in zip(self.agents, problems, strict=True)
            if why
        ]
        if lines:
            raise FleetError(lines)
        return self.agents

    async def health(self) -> dict[str, str]:
        return {}

    async def teardown(self) -> list[str]:
        """Release every agent (each exits); an agent that does not answer stops by itself
        (its dead-man's switch), so it is not a leftover."""
        await asyncio.gather(*(_release(agent) for agent in self.agents))
        if self._session is not None:
            await self._session.close()
        return []


async def _until_ready(agent: AgentTransport, deadline: float) -> str:
    """'' once the agent says ready; else why not, when the deadline passes."""
    why = "no answer"
    while True:
        left = deadline - time.monotonic()
        try:
            status, body = await agent.call("GET", protocol.READY, timeout=max(0.5, min(5, left)))
            if status == 200 and isinstance(body, dict) and body.get("ready") is True:
                return ""
            why = f"answered HTTP {status} to {protocol.READY}"
        except AgentUnreachable as exc:
            why = exc.reason
        if time.monotonic() + READY_POLL > deadline:
            return why
        await asyncio.sleep(READY_POLL)


async def _release(agent: AgentTransport) -> None:
    with contextlib.suppress(AgentUnreachable):
        await agent.call("POST", protocol.RELEASE, {}, timeout=RELEASE_TIMEOUT)
