"""When the open model's steps start: the arrivals, and the scheduler that makes them due.

The open model (``--rate``): a :class:`Scheduler` walks this process's share of the run's
arrival times (:func:`molotov.config.shape.arrival_offsets`, from the run's one start instant) and
hands each arrival, when it is due, to :class:`Arrivals`: to an idle worker at once, or into
a queue when every worker is busy (the pool then grows, up to ``--max-workers``). An arrival
still waiting ``--max-lag`` after it was due is *dropped*: counted on the bus, never run. So
the load does not follow the target's speed, and a step's response time counts from the
instant it was due, not from when a worker got to it: coordinated omission cannot hide.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

from molotov.config.load import rate_shape
from molotov.config.runconfig import RunConfig
from molotov.config.shape import arrival_offsets
from molotov.stats.layout import Counter
from molotov.stats.slot import SlotWriter
from molotov.worker.stopflag import StopFlag

# The event loop's timers have a millisecond's resolution (libuv's, under uvloop, whose clock
# is cached in whole milliseconds): a shorter sleep would come back at once and spin until
# the arrival is due, and a timer may fire up to a millisecond early. So the scheduler sleeps
# at least this long, again if it woke up early (no arrival starts before it is due), then
# pushes every arrival that has come due meanwhile.
TIMER_RESOLUTION = 0.001


class Arrivals:
    """Between the scheduler and the workers: idle workers, and arrivals waiting for one."""

    def __init__(self, slot: SlotWriter, max_lag: float, grow: Callable[[int], None]) -> None:
        self._slot = slot
        self._max_lag_ns = int(max_lag * 1e9)
        self._grow = grow
        self._idle: list[asyncio.Future[int]] = []  # a stack: the warmest worker goes first
        self._waiting: deque[int] = deque()  # due instants (monotonic ns), oldest first
        self._open = True

    def push(self, due: int) -> None:
        """An arrival is due: to an idle worker, else it waits (and the pool may grow)."""
        idle = self._idle
        while idle:
            future = idle.pop()
            if not future.done():
                future.set_result(due)
                return
        waiting = self._waiting
        self._drop_stale(due)
        waiting.append(due)
        self._slot.set(Counter.WAITING, len(waiting))
        self._grow(len(waiting))

    def take(self) -> int:
        """The due instant of the oldest waiting arrival still in time, or 0 if none."""
        waiting = self._waiting
        if not waiting:
            return 0
        self._drop_stale(time.monotonic_ns())
        due = waiting.popleft() if waiting else 0
        self._slot.set(Counter.WAITING, len(waiting))
        return due

    async def wait(self) -> int:
        """Wait, idle, for the next arrival; 0 once there will be none."""
        if not self._open:
            return 0
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._idle.append(future)  # a cancelled one is skipped by push()
        return await future

    def prune(self) -> None:
        """Drop the arrivals that waited too long (the monitor calls it, so drops show)."""
        if self._waiting:
            self._drop_stale(time.monotonic_ns())
            self._slot.set(Counter.WAITING, len(self._waiting))

    def _drop_stale(self, now: int) -> None:
        waiting = self._waiting
        limit = now - self._max_lag_ns
        dropped = 0
        while waiting and waiting[0] < limit:
            waiting.popleft()
            dropped += 1
        if dropped:
            self._slot.add(Counter.DROPPED, dropped)

    def finish(self) -> None:
        """No arrival will come any more: workers serve what waits, then stop."""
        self._open = False
        self._wake_idle()

    def close(self) -> None:
        """The run stops: what waits is dropped, and no arrival will come any more."""
        self._open = False
        if self._waiting:
            self._slot.add(Counter.DROPPED, len(self._waiting))
            self._waiting.clear()
            self._slot.set(Counter.WAITING, 0)
        self._wake_idle()

    def _wake_idle(self) -> None:
        while self._idle:
            future = self._idle.pop()
            if not future.done():
                future.set_result(0)


class Scheduler:
    """Pushes this process's arrivals to :class:`Arrivals`, each at its due instant."""

    def __init__(self, config: RunConfig, index: int, flag: StopFlag, arrivals: Arrivals) -> None:
        self._flag = flag
        self._arrivals = arrivals
        self._offsets = arrival_offsets(
            rate_shape(config),
            config.process_offset + index,  # the cluster-wide numbering of the shares
            config.process_total,
            poisson=config.arrivals == "poisson",
            seed=config.seed,
            total=config.arrival_total,
        )
        self._end = config.run_length
        # With a number of arrivals (--iterations, -r), the run is over once they are: the
        # last arrival's step ends it, -d only bounds it.
        self._counted = config.arrival_total is not None

    async def run(self, start_ns: int, first_arrival: Callable[[], None]) -> None:
        """Push every arrival at its instant; ``first_arrival()`` once, at the first one."""
        flag, arrivals = self._flag, self._arrivals
        first: Callable[[], None] | None = first_arrival
        end = self._end
        clock = time.monotonic_ns
        try:
            for offset in self._offsets:
                if end is not None and offset >= end:
                    break
                due = start_ns + int(offset * 1e9)
                while (wait := (due - clock()) / 1e9) > 0:
                    await flag.sleep(max(wait, TIMER_RESOLUTION))
                    if flag.stopping:
                        return
                if first is not None:
                    first()
                    first = None
                arrivals.push(due)
            if end is not None and not self._counted:
                # The run lasts its length, not until its last arrival (stages that end at
                # 0): the parent's deadline stops it, as in the closed model.
                await flag.sleep((start_ns + end * 1e9 - clock()) / 1e9)
        finally:
            arrivals.finish()
