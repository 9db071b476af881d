"""Each agent's clock offset, NTP-like, and the one start instant every agent is sent.

A round trip to ``/v1/status`` brackets the agent's ``clock`` reading between our send and
receive times; the agent's offset is its reading minus the midpoint, within half the round
trip. Of a few round trips the one with the shortest round trip is kept (the least queueing,
so the tightest bound). The start instant is ``START_LEAD_RTTS`` of the slowest agent's best
round trip plus ``START_LEAD`` ahead: the start calls go out in parallel and must each arrive,
and be passed to the agent's processes, before the instant (an agent refuses a late one).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from molotov.cluster import protocol
from molotov.cluster.transport import AgentTransport, AgentUnreachable

ROUNDS = 5
START_LEAD = 0.2  # seconds
START_LEAD_RTTS = 4


@dataclass(frozen=True)
class ClockReading:
    offset: float  # the agent's clock minus ours (seconds)
    rtt: float  # the round trip it was measured over (seconds)


async def measure(agent: AgentTransport, rounds: int = ROUNDS) -> ClockReading:
    """The agent's clock offset over its best round trip; AgentUnreachable if none answered."""
    best: ClockReading | None = None
    for _ in range(rounds):
        sent, sent_mono = time.time(), time.monotonic()
        status, body = await agent.call("GET", protocol.STATUS, timeout=5.0)
        rtt = time.monotonic() - sent_mono
        if status != 200 or not isinstance(body, dict) or not isinstance(body.get("clock"), float):
            raise AgentUnreachable(agent.name, f"answered HTTP {status} to {protocol.STATUS}")
        reading = ClockReading(body["clock"] - (sent + rtt / 2), rtt)
        if best is None or reading.rtt < best.rtt:
            best = reading
    assert best is not None
    return best


async def measure_all(agents: list[AgentTransport]) -> list[ClockReading]:
    return list(await asyncio.gather(*(measure(agent) for agent in agents)))


def start_instant(readings: list[ClockReading], now: float) -> float:
    """When every agent starts (our clock): far enough ahead for the slowest agent."""
    slowest = max((r.rtt for r in readings), default=0.0)
    return now + START_LEAD_RTTS * slowest + START_LEAD
