"""The start handshake: the one instant every worker process counts the run from.

The closed model starts now, or at ``--start-at``. The open model starts once every process
has its first workers set up (or at ``--start-at``, whichever comes last): the parent then
writes the start instant into the bus, and the processes schedule their arrivals from it.
A held run (a cluster agent's, given a :class:`StartGate`) waits that way in both models, and
the gate (its coordinator) gives the instant.
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from molotov.config.runconfig import RunConfig
from molotov.live.console import Console
from molotov.stats.bus import StatsBus
from molotov.stats.layout import Counter

START_MARGIN = 0.02  # seconds from "every process is ready" to the start instant


@dataclass(frozen=True)
class Start:
    """The run's start instant on both clocks, and when it must end (``-d``, the stages)."""

    monotonic: float  # time.monotonic() seconds
    wall: float  # epoch seconds
    deadline: float | None  # time.monotonic() seconds; None: no end set


def start_wait(start_at: float | None, console: Console) -> float:
    """Seconds until ``--start-at`` (0 without one, or when it is past: said on the console)."""
    if start_at is None:
        return 0.0
    wait = start_at - time.time()
    when = datetime.fromtimestamp(start_at, UTC).isoformat(timespec="milliseconds")
    if wait > 0:
        console.print(f"Waiting {wait:.1f}s to start at {when}")
        return wait
    console.print(f"Warning: the start time {when} is {-wait:.1f}s past; starting now")
    return 0.0


class StartGate(Protocol):
    """Who gives the start instant of a held run (a cluster agent: its coordinator).

    With a gate, both models hold: the processes set up their first workers, then the
    parent asks :meth:`held` until it returns the instant. Called from the parent's loop.
    """

    def opened(self, bus: StatsBus) -> None:
        """The run's bus exists (the processes are about to be forked)."""

    def held(self) -> float | None:
        """Every process is set up: the start instant (epoch seconds) once known, else None."""

    def closed(self) -> None:
        """The bus is about to go away: stop reading it."""


class StartHandshake:
    """Decides the start instant and writes it into the bus, once."""

    def __init__(
        self,
        config: RunConfig,
        bus: StatsBus,
        console: Console,
        processes: list[multiprocessing.process.BaseProcess],
        gate: StartGate | None = None,
    ) -> None:
        self.config = config
        self.gate = gate
        self.bus = bus
        self.console = console
        self.processes = processes  # the supervisor's list, filled as it forks
        self.start: Start | None = None
        if not config.open_model and gate is None:
            self._begin(start_wait(config.start_at, console))

    def poll(self) -> Start | None:
        """The start, deciding it now if every process is ready; None while they are not."""
        if self.start is None and self._ready():
            wait = START_MARGIN
            if self.gate is not None:
                at = self.gate.held()
                if at is None:
                    return None
                wait = max(0.0, at - time.time())
            elif self.config.start_at is not None:
                wait = max(wait, start_wait(self.config.start_at, self.console))
            self._begin(wait)
        return self.start

    def _ready(self) -> bool:
        """Held (the open model, a cluster agent's run): every process has its first workers
        set up (or has ended).

        Never before the processes are forked: the supervisor asks once before forking, and
        ``all()`` of no process at all would start the run before any setup."""
        return bool(self.processes) and all(
            self.bus.counter(index, Counter.READY) or process.exitcode is not None
            for index, process in enumerate(self.processes)
        )

    def _begin(self, wait: float) -> None:
        """The run starts ``wait`` seconds from now: every clock of the run counts from it."""
        wall = time.time() + wait
        started = time.monotonic() + wait
        self.bus.set_start(time.monotonic_ns() + int(wait * 1e9))
        length = self.config.run_length
        self.start = Start(started, wall, started + length if length else None)
