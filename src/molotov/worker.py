"""One worker process: an event loop running W workers that loop over scenarios.

Each worker picks a scenario, runs it with its own ``ClientSession``, and records the outcome
in this process's slot of the stats bus. The loop below is the hot path: it takes no lock,
logs nothing and makes no system call of its own; failures (the slow path) format their error
once per distinct message.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import os
import random
import signal
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp

from molotov import api
from molotov.api import Registry, Scenario
from molotov.bus import Counter, SlotWriter, StatsBus, StopReason
from molotov.config import RunConfig
from molotov.errors import CONNECT_KINDS, describe_error, format_traceback
from molotov.listeners import EventSender
from molotov.session import SessionFactory, get_context
from molotov.snapshot import ErrorKind
from molotov.statsd import ScenarioStatsd, overflow_name

MONITOR_INTERVAL = 0.05  # how often a process looks at the bus's stop flag
EXIT_CRASHED = 3  # a worker process's exit code when molotov itself failed in it
YIELD_EVERY = 64  # steps between two forced yields of a worker (see _steps)


class StepTimeout(TimeoutError):
    """A step ran longer than ``--step-timeout`` and was cancelled.

    Sessions have no per-request total timeout (arming a timer for every request costs ~10 %
    of the CPU per request); this once-a-second check of every worker's step is what guards
    against a target that never answers, as aiohttp's default 300 s total timeout did.
    """


class _Picker:
    """Chooses each step's scenario: a ``@scenario_picker``, ``-s``, or the weights."""

    def __init__(self, registry: Registry, config: RunConfig) -> None:
        self._by_name = registry.scenarios
        self._picker = registry.fixture("scenario_picker")
        self._scenarios = registry.sorted_scenarios()
        self._single = registry.scenarios[config.single_mode] if config.single_mode else None
        cumulative: list[float] = []
        total = 0.0
        for item in self._scenarios:
            total += item.weight
            cumulative.append(total)
        self._cumulative = cumulative
        self._total = total

    def pick(self, worker_id: int, step: int) -> Scenario:
        if self._picker is not None:
            name = self._picker(worker_id, step)
            try:
                return self._by_name[name]
            except KeyError:
                raise LookupError(f"scenario_picker returned unknown scenario {name!r}") from None
        if self._single is not None:
            return self._single
        if len(self._scenarios) == 1:
            return self._scenarios[0]
        index = bisect.bisect_right(self._cumulative, random.random() * self._total)
        return self._scenarios[min(index, len(self._scenarios) - 1)]


class ProcessRun:
    """The state of one worker process: its slot, its stop flag and its workers."""

    def __init__(self, config: RunConfig, registry: Registry, bus: StatsBus, index: int) -> None:
        self.config = config
        self.registry = registry
        self.bus = bus
        self.slot: SlotWriter = bus.writer(index)
        self.args = config.as_args()
        self.stopping = False
        self.cancelled = False
        self._parent = os.getppid()
        self._stop_event = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        # perf_counter_ns() when each worker's current step started, 0 between steps.
        self._step_started = [0] * config.workers
        self._overdue: set[int] = set()
        self._active = 0
        self._scenario_index = {s.name: i for i, s in enumerate(registry.sorted_scenarios())}
        self.events = EventSender(registry.event_handlers, self._event_failed)
        self.statsd = ScenarioStatsd(config.statsd_address) if config.statsd else None
        self.sessions = SessionFactory(
            args=self.args,
            events=self.events,
            slot=self.slot,
            statsd=self.statsd,
            verbose=config.verbose,
            dns_cache=not config.disable_dns_resolve,
            endpoints=bus.endpoint_writer(index, overflow_name()) if config.statsd else None,
        )

    # -- errors ---------------------------------------------------------------------------

    def report(self, kind: ErrorKind, message: str, exc: BaseException | None) -> None:
        tb = format_traceback(exc) if exc is not None and self.config.verbose else ""
        self.slot.error(kind, message, tb)

    def _event_failed(self, event: str, exc: BaseException) -> None:
        _, message = describe_error(exc)
        self.report(ErrorKind.EVENT, f"event handler failed on {event!r}: {message}", exc)

    # -- stopping -------------------------------------------------------------------------

    def stop(self, reason: StopReason | None = None) -> None:
        if reason is not None:
            self.bus.request_stop(reason)
        if not self.stopping:
            self.stopping = True
            self._stop_event.set()
        if self.bus.forced or (self.config.force_shutdown and reason is not None):
            self.cancel_steps()

    def cancel_steps(self) -> None:
        if self.cancelled:
            return
        self.cancelled = True
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()

    async def sleep(self, seconds: float) -> None:
        """Sleep, but wake up as soon as the run stops."""
        if self.stopping:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stop_event.wait(), seconds)

    async def _monitor(self) -> None:
        """Follow the bus's control block and the parent; send ``current_workers`` each second."""
        next_tick = time.monotonic() + 1.0
        while True:
            reason = self.bus.stop_reason
            if reason != StopReason.RUNNING:
                self.stop()
                if self.bus.forced or self.config.force_shutdown:
                    self.cancel_steps()
            if os.getppid() != self._parent:
                self.stop(StopReason.PARENT_GONE)
                self.cancel_steps()
            now = time.monotonic()
            if now >= next_tick:
                next_tick = now + 1.0
                self._cancel_overdue_steps()
                if self.events:
                    await self.events.send("current_workers", workers=self._active)
            await asyncio.sleep(MONITOR_INTERVAL)

    def _cancel_overdue_steps(self) -> None:
        limit = time.perf_counter_ns() - int(self.config.step_timeout * 1e9)
        for wid, started in enumerate(self._step_started):
            if started and started < limit and wid not in self._overdue:
                self._overdue.add(wid)
                self._tasks[wid].cancel()

    # -- running --------------------------------------------------------------------------

    async def main(self) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signal.SIGTERM, self.stop)
        monitor = asyncio.create_task(self._monitor())
        if self.config.start_at is not None:
            # Every process (and every pod given the same --start-at) starts together.
            await self.sleep(self.config.start_at - time.time())
        workers = self.config.workers
        self._tasks = [asyncio.create_task(self._worker(wid)) for wid in range(workers)]
        try:
            await asyncio.gather(*self._tasks, return_exceptions=False)
        finally:
            monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await monitor

    async def _worker(self, wid: int) -> None:
        ramp = wid * self.config.ramp_up / self.config.workers
        if ramp > 0:
            await self.sleep(ramp)
        if self.stopping:
            return
        slot = self.slot
        slot.add(Counter.WORKERS_STARTED)
        slot.add(Counter.WORKERS)
        self._active += 1
        try:
            await self._session_lifetime(wid)
        except asyncio.CancelledError:
            pass
        finally:
            self._active -= 1
            slot.add(Counter.WORKERS, -1)
            self._teardown(wid)

    async def _session_lifetime(self, wid: int) -> None:
        setup = self.registry.fixture("setup")
        options: dict[str, Any] = {}
        if setup is not None:
            try:
                result = await setup(wid, self.args)
                if result is not None and not isinstance(result, dict):
                    raise TypeError(
                        f"setup() must return a dict of ClientSession options or None, "
                        f"not {type(result).__name__}"
                    )
                options = result or {}
            except Exception as exc:
                self.slot.add(Counter.SETUP_FAILURES)
                self.report(ErrorKind.SETUP, f"setup() failed: {describe_error(exc)[1]}", exc)
                return
        try:
            session = self.sessions.create(wid, options)
        except Exception as exc:
            self.slot.add(Counter.SETUP_FAILURES)
            message = f"cannot create a session with the setup() options: {exc}"
            self.report(ErrorKind.SETUP, message, exc)
            return
        try:
            setup_session = self.registry.fixture("setup_session")
            if setup_session is not None:
                try:
                    await setup_session(wid, session)
                except Exception as exc:
                    self.slot.add(Counter.SESSION_SETUP_FAILURES)
                    message = f"setup_session() failed: {describe_error(exc)[1]}"
                    self.report(ErrorKind.SESSION_SETUP, message, exc)
                    return
            try:
                await self._steps(wid, session)
            finally:
                teardown_session = self.registry.fixture("teardown_session")
                if teardown_session is not None:
                    try:
                        await teardown_session(wid, session)
                    except Exception as exc:
                        message = f"teardown_session() failed: {describe_error(exc)[1]}"
                        self.report(ErrorKind.TEARDOWN, message, exc)
        finally:
            await session.close()

    def _teardown(self, wid: int) -> None:
        teardown = self.registry.fixture("teardown")
        if teardown is None:
            return
        try:
            teardown(wid)
        except Exception as exc:
            self.report(ErrorKind.TEARDOWN, f"teardown() failed: {describe_error(exc)[1]}", exc)

    def _plan(self, wid: int) -> Iterator[Scenario]:
        """The scenarios a worker runs, in order; endless unless the run is bounded."""
        if self.config.single_run:
            yield from self.registry.sorted_scenarios()
            return
        picker = _Picker(self.registry, self.config)
        max_runs = self.config.max_runs
        step = 0
        while max_runs is None or step < max_runs:
            step += 1
            try:
                yield picker.pick(wid, step)
            except Exception as exc:
                self._record_pick_failure(exc)

    def _record_pick_failure(self, exc: Exception) -> None:
        self.slot.add(Counter.PICK_FAILURES)
        self.report(ErrorKind.PICKER, describe_error(exc)[1], exc)
        if self.config.exception:
            self.stop(StopReason.EXCEPTION)

    async def _steps(self, wid: int, session: aiohttp.ClientSession) -> None:
        context = get_context(session)
        slot = self.slot
        events = self.events
        index_of = self._scenario_index
        extra_delay = self.config.delay
        clock: Callable[[], int] = time.perf_counter_ns
        step_started = self._step_started
        for step, scenario in enumerate(self._plan(wid), start=1):
            if self.stopping:
                break
            context.step = step
            if events:
                info = scenario.as_event_dict()
                await events.send("scenario_start", scenario=info, wid=wid)
            started = step_started[wid] = clock()
            try:
                try:
                    await scenario.func(session, *scenario.args, **scenario.kw)
                except asyncio.CancelledError:
                    if self.cancelled or wid not in self._overdue:
                        raise
                    raise self._step_timed_out(wid) from None  # a failure like any other
                finally:
                    step_started[wid] = 0
            except asyncio.CancelledError:
                if self.cancelled:
                    break  # a forced shutdown: the step is abandoned, not counted
                raise
            except Exception as exc:
                slot.step_done(index_of[scenario.name], False, (clock() - started) // 1000)
                self._record_failure(exc)
                if events:
                    await events.send("scenario_failure", scenario=info, exception=exc, wid=wid)
                delay = extra_delay
            else:
                slot.step_done(index_of[scenario.name], True, (clock() - started) // 1000)
                if events:
                    await events.send("scenario_success", scenario=info, wid=wid)
                delay = scenario.delay + extra_delay
            if delay > 0:
                await self.sleep(delay)
            elif not step % YIELD_EVERY:
                # A scenario that never suspends must still let the monitor see a stop; every
                # step would cost ~13 % per request (each yield lets the other workers run and
                # go cold in the caches), so only now and then.
                await asyncio.sleep(0)

    def _step_timed_out(self, wid: int) -> StepTimeout:
        """The cancellation of an overdue step, turned back into a plain failure."""
        self._overdue.discard(wid)
        task = asyncio.current_task()
        if task is not None and hasattr(task, "uncancel"):
            task.uncancel()  # Python 3.11+: the task goes on, no longer cancelling
        return StepTimeout(f"the step ran over {self.config.step_timeout:g}s and was cancelled")

    def _record_failure(self, exc: Exception) -> None:
        kind, message = describe_error(exc)
        if kind in CONNECT_KINDS:
            self.slot.add(Counter.CONNECTION_FAILURES)
        self.report(kind, message, exc)
        if self.config.exception:
            self.stop(StopReason.EXCEPTION)


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
        api.control_run(lambda: run.stop(StopReason.STOP_CALLED), lambda: run.stopping)
        loop.run_until_complete(run.main())
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
