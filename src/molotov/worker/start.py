"""When a process's steps may start: the run's one start instant, read from the bus.

A local run's parent sets the start instant before forking (the closed model) or once every
process has set up its first workers (the open model). A cluster agent's parent sets it when
its coordinator says so: until then the workers wait here, set up. The first step of the
process is noted on the bus (``FIRST_STEP_NS``), off the steps' hot path: a cluster run's
start spread is measured from it.
"""

from __future__ import annotations

import asyncio
import time

from molotov.stats.bus import StatsBus
from molotov.stats.layout import Counter
from molotov.stats.slot import SlotWriter
from molotov.worker.stopflag import StopFlag

START_POLL = 0.002  # how often a ready process looks for the start instant


class ProcessStart:
    """The run's start instant as this process sees it, and the note of its first step."""

    def __init__(self, bus: StatsBus, slot: SlotWriter, flag: StopFlag) -> None:
        self._bus = bus
        self._slot = slot
        self._flag = flag
        self._first_step_noted = False

    async def instant(self) -> int:
        """The run's start (monotonic ns) once the parent has set it; 0 if stopped first."""
        while not self._flag.stopping:
            start_ns = self._bus.start_ns
            if start_ns:
                return start_ns
            await asyncio.sleep(START_POLL)
        return 0

    async def until_start(self) -> None:
        """The closed model: wait for the start instant before a worker's first step (at
        once in a local run, whose parent set it before forking)."""
        start_ns = await self.instant()
        if not start_ns:
            return
        wait = (start_ns - time.monotonic_ns()) / 1e9
        if wait > 0:
            await self._flag.sleep(wait)
        if not self._flag.stopping:
            self.first_step()

    def first_step(self) -> None:
        """Note when this process's first step starts (once)."""
        if not self._first_step_noted:
            self._first_step_noted = True
            self._slot.set(Counter.FIRST_STEP_NS, time.monotonic_ns())
