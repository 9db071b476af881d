"""One worker process: an event loop, its pool of workers, and what drives them.

:class:`ProcessRun` holds the process's state (its bus slot, its stop flag) and watches the
bus's control block. The workers live in a :class:`~molotov.worker.pool.WorkerPool`, which gets
what it uses of the process (:class:`~molotov.worker.pool.PoolParts`), never the process itself;
what makes them run steps is the model: in the closed model each worker loops over steps
(ramped up by ``--ramp-up``, or following ``--stages`` through a
:class:`~molotov.worker.stages.StageController`); in the open model (``--rate``) a
:class:`~molotov.worker.arrivals.Scheduler` hands them arrivals at their due instants.
Nothing else in ``molotov.worker`` imports this module: it is the process's entry.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import sys
import time

from molotov import api
from molotov.api import Registry
from molotov.config.runconfig import RunConfig
from molotov.scope import install_recorder, last_request
from molotov.stats.bus import StatsBus
from molotov.stats.layout import Counter, StopReason
from molotov.stats.slot import SlotWriter
from molotov.stats.snapshot import ErrorKind
from molotov.worker import fixtures
from molotov.worker.arrivals import Arrivals, Scheduler
from molotov.worker.errors import describe_error, format_traceback, protocol_sample
from molotov.worker.listeners import EventSender
from molotov.worker.pool import PoolParts, WorkerPool
from molotov.worker.session import SessionFactory
from molotov.worker.stages import StageController
from molotov.worker.start import ProcessStart
from molotov.worker.statsd_client import ScenarioStatsd
from molotov.worker.stopflag import StopFlag

MONITOR_INTERVAL = 0.05  # how often a process looks at the bus's stop flag
TEARDOWN_POLL = 0.01  # how often the worker process looks for the go of global_teardown
EXIT_CRASHED = 3  # a worker process's exit code when molotov itself failed in it


class ProcessRun:
    """The state of one worker process: its slot, its stop flag, its pool and its driver."""

    def __init__(self, config: RunConfig, registry: Registry, bus: StatsBus, index: int) -> None:
        self.config = config
        self.registry = registry
        self.bus = bus
        self.index = index
        self.slot: SlotWriter = bus.writer(index)
        self.args = config.as_args()
        self.flag = StopFlag()
        self.start = ProcessStart(bus, self.slot, self.flag)
        self._parent = os.getppid()
        self.events = EventSender(registry.event_handlers, self._event_failed)
        self.statsd = ScenarioStatsd(config.statsd_address) if config.statsd else None
        self.sessions = SessionFactory(
            args=self.args,
            events=self.events,
            slot=self.slot,
            requests=bus.request_writer(index),
            statsd=self.statsd,
            verbose=config.verbose,
            dns_cache=not config.disable_dns_resolve,
        )
        self.stages: StageController | None = None
        if not config.open_model and config.stages:
            self.stages = StageController(config, index, self.flag)
        parts = PoolParts(
            config=config,
            registry=registry,
            bus=bus,
            slot=self.slot,
            index=index,
            args=self.args,
            sessions=self.sessions,
            events=self.events,
            flag=self.flag,
            start=self.start,
            stop=self.stop,
            report=self.report,
        )
        self.pool = WorkerPool(parts, self.stages)
        self.checks = bus.check_writer(index)
        install_recorder(self._record_check)
        self.arrivals: Arrivals | None = self.pool.arrivals

    # -- errors ---------------------------------------------------------------------------

    def report(
        self,
        kind: ErrorKind,
        message: str,
        exc: BaseException | None,
        scenario: int = -1,
        request: int = -1,
    ) -> None:
        tb = ""
        if exc is not None and self.config.verbose:
            tb = format_traceback(exc)
        elif exc is not None and kind is ErrorKind.PROTOCOL:
            tb = protocol_sample(exc)  # the first invalid answer, shown in the summary
        self.slot.error(kind, message, tb, scenario, request)

    def _record_check(self, name: str, passed: bool) -> None:
        """``molotov.check`` in this process: the totals, and the (check, request) entry."""
        self.slot.add(Counter.CHECKS_PASSED if passed else Counter.CHECKS_FAILED)
        entry = last_request()
        request = self.sessions.requests.index_of(entry) if entry >= 0 else -1
        if not self.checks.record(name, request, passed):
            self.slot.add(Counter.CHECKS_DROPPED)

    def _event_failed(self, event: str, exc: BaseException) -> None:
        _, message = describe_error(exc)
        self.report(ErrorKind.EVENT, f"event handler failed on {event!r}: {message}", exc)

    # -- stopping -------------------------------------------------------------------------

    def stop(self, reason: StopReason | None = None) -> None:
        if reason is not None:
            self.bus.request_stop(reason)
        if not self.flag.stopping:
            self.flag.raise_flag()
            if self.arrivals is not None:
                self.arrivals.close()
            if self.stages is not None:
                self.stages.wake()
        if self.bus.forced or (self.config.force_shutdown and reason is not None):
            self.cancel_steps()

    def cancel_steps(self) -> None:
        if self.flag.cancelled:
            return
        self.flag.cancelled = True
        self.pool.cancel(asyncio.current_task())

    async def _monitor(self) -> None:
        """Follow the bus's control block, the parent and the stages; time steps out; send
        ``current_workers`` at the start, then every second."""
        timeout_ns = int(self.config.step_timeout * 1e9)
        # One turn of the loop lets the workers just spawned count themselves; then the first
        # ``current_workers`` goes out at once, as Molotov 2.x sent it: a run shorter than the
        # first interval still has one (its example7's global_teardown takes a max() of them).
        await asyncio.sleep(0)
        if self.events:
            await self.events.send("current_workers", workers=self.pool.active)
        next_tick = time.monotonic() + 1.0
        while True:
            await asyncio.sleep(MONITOR_INTERVAL)
            reason = self.bus.stop_reason
            if reason != StopReason.RUNNING:
                self.stop()
                if self.bus.forced or self.config.force_shutdown:
                    self.cancel_steps()
            if os.getppid() != self._parent:
                self.stop(StopReason.PARENT_GONE)
                self.cancel_steps()
            start_ns = self.bus.start_ns
            if self.stages is not None and start_ns:
                self.stages.update((time.monotonic_ns() - start_ns) / 1e9)
            if self.arrivals is not None:
                self.arrivals.prune()
            now = time.monotonic()
            if now >= next_tick:
                next_tick = now + 1.0
                self.pool.cancel_overdue(timeout_ns)
                if self.events:
                    await self.events.send("current_workers", workers=self.pool.active)

    # -- running --------------------------------------------------------------------------

    async def main(self) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signal.SIGTERM, self.stop)
        monitor = asyncio.create_task(self._monitor())
        try:
            if self.arrivals is not None:
                await self._open_model(self.arrivals)
            else:
                await self._closed_model()
        finally:
            monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await monitor

    async def _closed_model(self) -> None:
        config = self.config
        if not self.bus.start_ns:
            await self._closed_held()
            return
        if config.start_at is not None:
            # Every process (and every pod given the same --start-at) starts together.
            await self.flag.sleep(config.start_at - time.time())
        pool = self.pool
        if self.stages is not None:
            # Every worker the stages will need; those above the target park at once.
            for _ in range(self.stages.pool_size):
                pool.spawn()
        else:
            for wid in range(config.workers):
                pool.spawn(config.ramp_start(wid))
        await pool.join()

    async def _closed_held(self) -> None:
        """The closed model when the parent forked before knowing the start (an agent of a
        cluster run holds until its coordinator sends it): the workers due at the start set
        up now and wait in :meth:`ProcessStart.until_start`; the process says it is ready on the
        bus; the workers of a ``--ramp-up`` start after the start instant, at their own times."""
        config, pool = self.config, self.pool
        if self.stages is not None:
            first = self.stages.pool_size
        else:
            first = sum(1 for wid in range(config.workers) if config.ramp_start(wid) <= 0)
        pool.spawn_initial(first)
        await pool.initial_settled()
        self.slot.set(Counter.READY, 1)
        start_ns = await self.start.instant()
        if start_ns and self.stages is None:
            for wid in range(first, config.workers):
                since = (time.monotonic_ns() - start_ns) / 1e9
                pool.spawn(config.ramp_start(wid) - since)
        await pool.join()

    async def _open_model(self, arrivals: Arrivals) -> None:
        """Set up the first ``-w`` workers, say so on the bus, wait for the run's start
        instant (the parent sets it once every process is ready), then schedule."""
        pool = self.pool
        pool.spawn_initial(self.config.workers)
        await pool.initial_settled()
        if not pool.active:
            arrivals.close()  # every setup failed: nothing could run an arrival
        else:
            # What the setups made (sessions, connectors, lazily imported modules) lives as
            # long as the run: out of the collector's sight, its full collections stay short,
            # and so do the pauses that make arrivals late (measured: start lateness p99
            # 5-9 ms without, ~2.3 ms with, at 5,000/s on one core).
            gc.freeze()
            self.slot.set(Counter.READY, 1)
            start_ns = await self.start.instant()
            if start_ns:
                scheduler = Scheduler(self.config, self.index, self.flag, arrivals)
                await scheduler.run(start_ns, self.start.first_step)
            else:
                arrivals.close()
        await pool.join()


def _new_loop(use_uvloop: bool) -> asyncio.AbstractEventLoop:
    if use_uvloop:
        try:
            import uvloop
        except ImportError:
            pass
        else:
            loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
            return loop
    return asyncio.new_event_loop()


def _global_teardown(
    config: RunConfig, registry: Registry, bus: StatsBus, slot: SlotWriter
) -> None:
    """The only worker process runs ``global_teardown`` with the state its run built, once
    the parent has put its console away (so what the fixture prints is not drawn over)."""
    slot.set(Counter.FINISHING, 1)
    parent = os.getppid()
    while not bus.teardown_allowed and os.getppid() == parent:
        time.sleep(TEARDOWN_POLL)
    fixtures.global_teardown(registry, config.verbose)
    slot.set(Counter.FINISHING, 2)


def process_main(config: RunConfig, registry: Registry, bus: StatsBus, index: int) -> None:
    """Entry point of a forked worker process; its exit code tells the parent how it ended."""
    # Ctrl-C reaches the whole process group: the parent alone decides what it means.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # so does a terminal's hang-up
    slot = bus.writer(index)
    slot.set(Counter.PID, os.getpid())
    slot.set(Counter.RUNNING, 1)
    code = 0
    loop = _new_loop(config.uvloop)
    try:
        asyncio.set_event_loop(loop)
        loop.set_debug(config.debug)
        run = ProcessRun(config, registry, bus, index)
        api.control_run(lambda: run.stop(StopReason.STOP_CALLED), lambda: run.flag.stopping)
        loop.run_until_complete(run.main())
        if fixtures.teardown_in_worker(registry, config.processes):
            _global_teardown(config, registry, bus, slot)
    except BaseException as exc:
        slot.error(
            ErrorKind.WORKER,
            f"worker process crashed: {describe_error(exc)[1]}",
            format_traceback(exc),
        )
        code = EXIT_CRASHED
    finally:
        with contextlib.suppress(Exception):
            loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        slot.set(Counter.RUNNING, 0)
        sys.stdout.flush()
    if code:
        sys.exit(code)
