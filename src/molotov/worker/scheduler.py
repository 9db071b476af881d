"""When steps start: the open model's arrivals, and the closed model's stages.

The open model (``--rate``): a :class:`Scheduler` walks this process's share of the run's
arrival times (:func:`molotov.config.shape.arrival_offsets`, from the run's one start instant) and
hands each arrival, when it is due, to :class:`Arrivals`: to an idle worker at once, or into
a queue when every worker is busy (the pool then grows, up to ``--max-workers``). An arrival
still waiting ``--max-lag`` after it was due is *dropped*: counted on the bus, never run. So
the load does not follow the target's speed, and a step's response time counts from the
instant it was due, not from when a worker got to it: coordinated omission cannot hide.

The closed model with ``--stages``: a :class:`StageController` follows the number of active
workers the stages ask for, spread over the processes; workers above it park between steps.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from molotov.config.runconfig import RunConfig
from molotov.config.shape import LoadShape, arrival_offsets, local_share
from molotov.stats.bus import Counter, SlotWriter

if TYPE_CHECKING:
    from molotov.worker.process import ProcessRun

# The event loop's timers have a millisecond's resolution (libuv's, under uvloop, whose clock
# is cached in whole milliseconds): a shorter sleep would come back at once and spin until
# the arrival is due, and a timer may fire up to a millisecond early. So the scheduler sleeps
# at least this long, again if it woke up early (no arrival starts before it is due), then
# pushes every arrival that has come due meanwhile.
TIMER_RESOLUTION = 0.001


def rate_shape(config: RunConfig) -> LoadShape:
    """The open model's arrival rate over time (per second, for the whole run)."""
    assert config.rate is not None
    return LoadShape(config.rate, config.stages)


def worker_shape(config: RunConfig) -> LoadShape:
    """The closed model's number of active workers over time, for the whole run (every
    process of every agent of a cluster run)."""
    return LoadShape(config.workers * config.process_total, config.stages)


def process_workers(config: RunConfig, process: int = 0) -> int:
    """The most workers process ``process`` can have (process 0's share is the largest):
    the pool's limit in the open model, the stages' peak share, or ``-w``."""
    if config.open_model:
        return config.pool_limit
    if config.stages:
        peak = round(worker_shape(config).peak)
        return local_share(peak, config.process_offset + process, config.process_total)
    return config.workers


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

    def __init__(self, run: ProcessRun, arrivals: Arrivals) -> None:
        self._run = run
        self._arrivals = arrivals
        config = run.config
        self._offsets = arrival_offsets(
            rate_shape(config),
            config.process_offset + run.index,  # the cluster-wide numbering of the shares
            config.process_total,
            poisson=config.arrivals == "poisson",
            seed=config.seed,
            total=config.arrival_total,
        )
        self._end = config.run_length

    async def run(self, start_ns: int) -> None:
        run, arrivals = self._run, self._arrivals
        end = self._end
        clock = time.monotonic_ns
        pushed = False
        try:
            for offset in self._offsets:
                if end is not None and offset >= end:
                    break
                due = start_ns + int(offset * 1e9)
                while (wait := (due - clock()) / 1e9) > 0:
                    await run.sleep(max(wait, TIMER_RESOLUTION))
                    if run.stopping:
                        return
                if not pushed:
                    pushed = True
                    run.first_step()
                arrivals.push(due)
            if end is not None:
                # The run lasts its length, not until its last arrival: the parent's
                # deadline stops it, as in the closed model.
                await run.sleep((start_ns + end * 1e9 - clock()) / 1e9)
        finally:
            arrivals.finish()


class StageController:
    """The closed model's stages: how many of this process's workers are wanted now."""

    def __init__(self, run: ProcessRun) -> None:
        config = run.config
        self._shape = worker_shape(config)
        self._process = config.process_offset + run.index  # cluster-wide, as the arrivals
        self._processes = config.process_total
        self._run = run
        self.local_target = self.target_at(0.0)
        self._changed = asyncio.Event()

    @property
    def pool_size(self) -> int:
        """Workers this process needs at the stages' peak."""
        return process_workers(self._run.config, self._process)

    def target_at(self, seconds: float) -> int:
        return local_share(round(self._shape.value_at(seconds)), self._process, self._processes)

    def update(self, seconds: float) -> None:
        """Follow the stages (the monitor calls it a few times a second)."""
        target = self.target_at(seconds)
        if target != self.local_target:
            self.local_target = target
            self.wake()

    def wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(self, wid: int) -> None:
        """Until worker ``wid`` is wanted again, or the run stops."""
        while wid >= self.local_target and not self._run.stopping:
            await self._changed.wait()
