"""The workers of one process: their lifetime, and the steps they run.

A worker calls ``setup(worker_id, args)``, opens its ``ClientSession``, calls
``setup_session``, then runs a *body* until the run stops: the closed model's loop (one step
after the other) or the open model's (take the next arrival from the scheduler), both in
:meth:`WorkerPool.steps`, which times each step and records it in the process's bus slot.
That path is hot: no lock, no log, no system call of its own. Failures (the slow path) format
their error once per distinct message. On the way out: ``teardown_session``, the session is
closed, ``teardown(worker_id)``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from molotov.api import Registry
from molotov.config.runconfig import RunConfig
from molotov.stats.bus import StatsBus
from molotov.stats.layout import Counter, StopReason
from molotov.stats.slot import SlotWriter
from molotov.stats.snapshot import ErrorKind
from molotov.worker import fixtures
from molotov.worker.arrivals import Arrivals
from molotov.worker.errors import PROPAGATED, USER_ERRORS, describe_error
from molotov.worker.failures import Reporter, StepFailures
from molotov.worker.listeners import EventSender
from molotov.worker.picker import Picker
from molotov.worker.session import SessionFactory, get_context
from molotov.worker.stages import StageController
from molotov.worker.start import ProcessStart
from molotov.worker.stopflag import StopFlag

YIELD_EVERY = 64  # steps between two forced yields of a worker (see WorkerPool.steps)
GROWTH_BACKOFF_NS = 1_000_000_000  # after a failed setup, the pool waits before growing again


@dataclass(frozen=True)
class PoolParts:
    """What a pool's workers use of their process: given once, read into the pool's fields."""

    config: RunConfig
    registry: Registry
    bus: StatsBus  # the run's start instant (``--ramp-up`` with ``-d``)
    slot: SlotWriter  # this process's slot, where every step is recorded
    index: int  # this process's, for its random seed
    args: argparse.Namespace  # what ``setup(worker_id, args)`` gets
    sessions: SessionFactory
    events: EventSender
    flag: StopFlag
    start: ProcessStart  # the run's start instant: a held (cluster) run's workers wait for it
    stop: Callable[[StopReason], None]  # stop the whole run (``-x``)
    report: Reporter  # an error, on the bus


class WorkerPool:
    """Every worker of a process, by worker id; grows on demand in the open model.

    A long class on purpose: a worker's lifetime (setup, steps, teardown) and its steps
    share the per-worker tables (``step_started``, ``overdue``) and the ``active`` count,
    which the step loop reads through locals bound once; another object between them would
    be one more attribute hop on the hot path.
    """

    def __init__(self, parts: PoolParts, stages: StageController | None) -> None:
        self.config = parts.config
        self.registry = parts.registry
        self.bus = parts.bus
        self.slot = parts.slot
        self.args = parts.args
        self.sessions = parts.sessions
        self.events = parts.events
        self.flag = parts.flag
        self.start = parts.start
        self.stop = parts.stop
        self.report = parts.report
        self.failures = StepFailures(
            parts.config, parts.slot, parts.sessions.requests, parts.report, parts.stop
        )
        self.stages = stages
        # The open model's arrivals hand steps to this pool's idle workers, and grow it.
        self.arrivals = (
            Arrivals(self.slot, self.config.max_lag, self.grow) if self.config.open_model else None
        )
        self.tasks: list[asyncio.Task[None]] = []
        # monotonic_ns() when each worker's current step started, 0 between steps.
        self.step_started: list[int] = []
        self.overdue: set[int] = set()
        self.active = 0  # workers running steps (the closed model) or in the pool (open)
        self._unsettled: set[int] = set()  # workers still in their setup
        self._settled = 0  # of the first workers: set up, or failed to
        self._initial = 0
        self._initial_done = asyncio.Event()
        self._grow_after = 0
        self._scenario_index = {s.name: i for i, s in enumerate(self.registry.sorted_scenarios())}
        seed = self.config.seed
        self.rng = random.Random(None if seed is None else seed * 1_000_003 + parts.index)

    @property
    def size(self) -> int:
        return len(self.tasks)

    @property
    def starting(self) -> int:
        """Workers still in their setup."""
        return len(self._unsettled)

    # -- lifetime -------------------------------------------------------------------------

    def spawn(self, delay: float = 0.0) -> int:
        """Start a new worker; ``delay``: seconds before it starts."""
        wid = len(self.tasks)
        self.step_started.append(0)
        self._unsettled.add(wid)
        self.tasks.append(asyncio.create_task(self._lifetime(wid, delay)))
        return wid

    def spawn_initial(self, count: int) -> None:
        """The first ``count`` workers; :meth:`initial_settled` waits for their setups."""
        self._initial = count
        if not count:
            self._initial_done.set()
        for _ in range(count):
            self.spawn()

    async def initial_settled(self) -> None:
        """Until each of the first workers is set up or has failed to."""
        await self._initial_done.wait()

    def _settle(self, wid: int) -> None:
        """A worker is done with its setup (it may have failed): called once or more."""
        if wid not in self._unsettled:
            return
        self._unsettled.discard(wid)
        if wid < self._initial:
            self._settled += 1
            if self._settled == self._initial:
                self._initial_done.set()

    async def _lifetime(self, wid: int, delay: float) -> None:
        try:
            if delay > 0:
                await self.flag.sleep(delay)
            if self.flag.stopping:
                return
            slot = self.slot
            slot.add(Counter.WORKERS_STARTED)
            slot.add(Counter.WORKERS)
            self.active += 1
            try:
                await self._session_lifetime(wid)
            except asyncio.CancelledError:
                pass
            finally:
                self.active -= 1
                slot.add(Counter.WORKERS, -1)
                await self._fixture("teardown", wid)
        finally:
            self._settle(wid)

    async def _session_lifetime(self, wid: int) -> None:
        ok, options = await self._fixture(
            "setup", wid, self.args, failures=Counter.SETUP_FAILURES, check=fixtures.session_options
        )
        if not ok:
            return
        try:
            session = self.sessions.create(wid, options or {})
        except PROPAGATED:
            raise
        except USER_ERRORS as exc:
            self._setup_failed(Counter.SETUP_FAILURES)
            message = f"cannot create a session with the setup() options: {exc}"
            self.report(ErrorKind.SETUP, message, exc)
            return
        try:
            ok, _ = await self._fixture(
                "setup_session", wid, session, failures=Counter.SESSION_SETUP_FAILURES
            )
            if not ok:
                return
            self._settle(wid)
            try:
                await self.steps(wid, session)
            finally:
                await self._fixture("teardown_session", wid, session)
        finally:
            await session.close()

    async def _fixture(
        self,
        name: str,
        *args: Any,
        failures: Counter | None = None,
        check: Callable[[Any], Any] | None = None,
    ) -> tuple[bool, Any]:
        """Call the worker fixture ``name``, if the test has one, with ``args``.

        ``(True, what it returned, through check)``; or ``(False, None)`` once its failure is
        counted (in ``failures``, which also holds the pool's growth back) and reported.
        ``teardown`` is a plain function, called where a worker ends whatever ended it; the
        others are coroutines.
        """
        fixture = self.registry.fixture(name)
        if fixture is None:
            return True, None
        kind, awaited = fixtures.WORKER_FIXTURES[name]
        try:
            result = fixture(*args)
            if awaited:
                result = await result
            if check is not None:
                result = check(result)
        except PROPAGATED:
            raise
        except USER_ERRORS as exc:
            if failures is not None:
                self._setup_failed(failures)
            self.report(kind, f"{name}() failed: {describe_error(exc)[1]}", exc)
            return False, None
        return True, result

    def _setup_failed(self, counter: Counter) -> None:
        self.slot.add(counter)
        self._grow_after = time.monotonic_ns() + GROWTH_BACKOFF_NS

    async def join(self) -> None:
        """Wait for every worker, including those started meanwhile; re-raise a crash."""
        while True:
            pending = [task for task in self.tasks if not task.done()]
            if not pending:
                break
            await asyncio.wait(pending)
        for task in self.tasks:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    def cancel(self, current: asyncio.Task[Any] | None) -> None:
        for task in self.tasks:
            if task is not current:
                task.cancel()

    def cancel_overdue(self, timeout_ns: int) -> None:
        """Cancel the steps that have run longer than ``timeout_ns`` (once a second)."""
        limit = time.monotonic_ns() - timeout_ns
        for wid, started in enumerate(self.step_started):
            if 0 < started < limit and wid not in self.overdue:
                self.overdue.add(wid)
                self.tasks[wid].cancel()

    def grow(self, waiting: int) -> None:
        """The open model: every worker is busy and ``waiting`` arrivals wait: add one."""
        if (
            self.size < self.config.pool_limit
            and self.starting < waiting
            and not self.flag.stopping
            and time.monotonic_ns() >= self._grow_after
        ):
            self.spawn()

    # -- the steps ------------------------------------------------------------------------

    async def steps(self, wid: int, session: aiohttp.ClientSession) -> None:
        """A worker's steps, one after the other, until its run is over.

        The closed model: the next step starts when the last one is done (after its delay),
        up to ``-r`` steps, while the stages want this worker. The open model: the next step
        is the next arrival the scheduler hands over; a step's response time counts from the
        instant it was due. One loop for both, and the step itself inline, because this is
        the hot path: every frame on the way to the scenario costs on each resume of the task
        (measured: a step() coroutine of its own cost ~4 % CPU per request).

        Long on purpose: (~110 lines) split into helpers, each step would
        pay one more call, and attribute lookups, that the locals read once above the loop
        spare it. Only the slow paths (a failure, a timeout, a pick that raised, parking) are
        methods of their own.
        """
        flag, config, slot = self.flag, self.config, self.slot
        arrivals = self.arrivals
        stages = self.stages
        events = self.events
        context = get_context(session)
        picker = Picker(self.registry, config, self.rng)
        index_of = self._scenario_index
        step_started = self.step_started
        clock = time.monotonic_ns
        once = self.registry.sorted_scenarios() if config.single_run else None
        last = len(once) if once is not None else config.max_runs
        if arrivals is not None:
            last = None  # the scheduler counts the arrivals
        extra_delay = config.delay
        if arrivals is None:
            await self.start.until_start()  # held (a cluster agent's run) until the start
        # With --ramp-up, -d is this worker's own, from its (scheduled) start, as in 2.x.
        own_end = 0
        if config.duration and config.ramp_up and self.bus.start_ns:
            own_end = self.bus.start_ns + int((config.ramp_start(wid) + config.duration) * 1e9)
        step = 0
        while True:
            due = 0
            if arrivals is not None:
                due = arrivals.take()
                if not due:
                    due = await arrivals.wait()
                    if not due:
                        break
                elif not step % YIELD_EVERY:
                    await asyncio.sleep(0)  # arrivals kept waiting: let the loop breathe
            else:
                if last is not None and step >= last:
                    break
                if stages is not None and wid >= stages.local_target:
                    await self._park(wid, stages)
                if flag.stopping or (own_end and clock() >= own_end):
                    break
            step += 1
            context.step = step
            try:
                scenario = once[step - 1] if once is not None else picker.pick(wid, step)
            except PROPAGATED:
                raise
            except USER_ERRORS as exc:
                self.failures.pick_failed(exc)
                continue
            index = index_of[scenario.name]
            if events:
                info = scenario.as_event_dict()
                await events.send("scenario_start", scenario=info, wid=wid)
            started = step_started[wid] = clock()
            if due:
                slot.step_started((started - due) // 1000)
                slot.add(Counter.BUSY)
            else:
                slot.add(Counter.STARTED)
            try:
                try:
                    await scenario.func(session, *scenario.args, **scenario.kw)
                except asyncio.CancelledError:
                    if flag.cancelled or wid not in self.overdue:
                        raise
                    self.overdue.discard(wid)
                    raise self.failures.timed_out() from None  # a failure like any other
                finally:
                    step_started[wid] = 0
                    if due:
                        slot.add(Counter.BUSY, -1)
            except asyncio.CancelledError:
                if flag.cancelled:
                    # The stop's cancellation (--graceful-stop ran out, or a second Ctrl-C):
                    # a failed step of its own kind, whose request counted as a timeout.
                    self.failures.cut(index, started, due)
                    break
                raise
            except GeneratorExit:  # with the CancelledError above: PROPAGATED
                raise
            except USER_ERRORS as exc:
                ended = clock()
                slot.step_done(index, False, (ended - started) // 1000)
                if due:
                    slot.response_time(index, (ended - due) // 1000)
                self.failures.failed(exc, index)
                if events:
                    await events.send("scenario_failure", scenario=info, exception=exc, wid=wid)
                delay = extra_delay
            else:
                ended = clock()
                slot.step_done(index, True, (ended - started) // 1000)
                if due:
                    slot.response_time(index, (ended - due) // 1000)
                if events:
                    await events.send("scenario_success", scenario=info, wid=wid)
                delay = scenario.delay + extra_delay
            if arrivals is not None:
                continue  # arrivals set the pace
            if delay > 0:
                await flag.sleep(delay)
            elif not step % YIELD_EVERY:
                # A scenario that never suspends must still let the monitor see a stop; every
                # step would cost ~13 % per request (each yield lets the other workers run and
                # go cold in the caches), so only now and then.
                await asyncio.sleep(0)

    async def _park(self, wid: int, stages: StageController) -> None:
        """Stages ramping down: this worker waits, idle and not counted, until wanted again."""
        self.active -= 1
        self.slot.add(Counter.WORKERS, -1)
        try:
            await stages.wait_for(wid)
        finally:
            self.active += 1
            self.slot.add(Counter.WORKERS)
