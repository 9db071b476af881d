"""What the coordinator knows of each agent while the run goes: its state, its last snapshot.

Snapshots are cumulative, so the last one received is the agent's part of the totals: a
missed poll loses nothing, and an agent that stops answering keeps its last numbers (shown
*stale*, with their age). An agent is *lost* when nothing listens at its address any more
(refused a few polls in a row: the process is gone) or it has not answered for
:data:`LOST_AFTER` seconds; a lost agent is never replaced (that would count twice).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from molotov.cluster import protocol
from molotov.cluster.clock import ClockReading
from molotov.cluster.protocol import State
from molotov.cluster.transport import AgentTransport, AgentUnreachable
from molotov.cluster.wire import WireError, snapshot_from_wire
from molotov.stats.snapshot import Snapshot

POLL_TIMEOUT = 0.9  # seconds a poll waits for an agent: less than the poll interval
STALE_AFTER = 1.5  # seconds without an answer before an agent is shown stale
LOST_AFTER = 30.0  # seconds without an answer before an agent is lost
REFUSED_LOST = 3  # polls in a row refused (nothing listens): the agent is lost
DONE = (State.FINISHED, State.FAILED)


@dataclass
class AgentView:
    index: int
    agent: AgentTransport
    state: State = State.IDLE
    clock: ClockReading | None = None
    snapshot: Snapshot | None = None
    first_step_at: float | None = None  # the agent's own clock
    last_answer: float = field(default_factory=time.monotonic)
    refused: int = 0
    problem: str = ""  # the last failed call's reason
    lost: str = ""  # why it is lost ("" while it is not)
    announced: bool = False  # the loss was shown
    error: str = ""  # the agent's own error line (a failed setup)
    lost_processes: tuple[str, ...] = ()  # its report's: worker processes that died in it

    @property
    def name(self) -> str:
        return self.agent.name

    @property
    def done(self) -> bool:
        return bool(self.lost) or self.state in DONE

    def silent_for(self) -> float:
        return time.monotonic() - self.last_answer

    def unanswered(self, exc: AgentUnreachable) -> None:
        """A call failed: count it toward stale and lost."""
        self.problem = exc.reason
        self.refused = self.refused + 1 if exc.refused else 0
        if self.refused >= REFUSED_LOST:
            self.lost = f"gone ({exc.reason}, {self.refused} times in a row)"
        elif self.silent_for() > LOST_AFTER:
            self.lost = f"no answer for {self.silent_for():.0f}s ({exc.reason})"

    def answered(self) -> None:
        self.last_answer = time.monotonic()
        self.refused = 0
        self.problem = ""

    def label(self) -> str:
        """How the live view shows it: ready, running, stale Ns, lost, ..."""
        if self.lost:
            return "lost"
        if self.silent_for() > STALE_AFTER:
            return f"stale {self.silent_for():.0f}s"
        return "ready" if self.state is State.HELD else self.state.value


async def poll(view: AgentView) -> None:
    """One snapshot of one agent (never raises: a failure marks the view)."""
    if view.lost:
        return
    try:
        status, body = await view.agent.call("GET", protocol.SNAPSHOT, timeout=POLL_TIMEOUT)
        if status != 200 or not isinstance(body, dict):
            raise AgentUnreachable(view.name, f"answered HTTP {status} to {protocol.SNAPSHOT}")
        snapshot = snapshot_from_wire(body.get("snapshot"))
        state = State(str(body.get("state")))
    except AgentUnreachable as exc:
        view.unanswered(exc)
        return
    except (WireError, ValueError) as exc:
        view.unanswered(AgentUnreachable(view.name, f"an unreadable snapshot: {exc}"))
        return
    view.answered()
    view.snapshot, view.state = snapshot, state
    first = body.get("first_step_at")
    if isinstance(first, float):
        view.first_step_at = first


async def poll_all(views: list[AgentView]) -> None:
    await asyncio.gather(*(poll(view) for view in views))


def states_line(views: list[AgentView]) -> str:
    """``agents: 3 running, 1 stale 4s (http://10.0.0.4:8470)``: counts by label, and the
    names of those not running well."""
    groups: dict[str, list[str]] = {}
    for view in views:
        groups.setdefault(view.label(), []).append(view.name)
    parts = []
    for label, names in groups.items():
        named = label.startswith(("stale", "lost", "failed"))
        parts.append(f"{len(names)} {label}" + (f" ({', '.join(names)})" if named else ""))
    return "agents: " + ", ".join(parts)
