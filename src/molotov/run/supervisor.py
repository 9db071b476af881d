"""The parent process: fork the worker processes, watch the bus, stop them, sum up.

The parent never runs scenarios. It creates the stats bus, forks ``--processes`` children
(they inherit the loaded scenario module and the bus), then loops every ``--console-update``
seconds: read a snapshot, apply the stop conditions (duration, ``--fail``, sizing, signals)
by setting the bus's stop flag, and feed the console. Whatever way the run ends, the children
are reaped and the shared memory is unlinked.
"""

from __future__ import annotations

import gc
import multiprocessing
import multiprocessing.connection
import signal
import sys
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import FrameType

from molotov.api import Registry
from molotov.config.runconfig import RunConfig
from molotov.config.shape import LoadShape
from molotov.live.console import Console
from molotov.live.statsd import StatsdEmitter
from molotov.run.signals import STOP_SIGNALS
from molotov.stats.bus import Counter, StatsBus, StopReason
from molotov.stats.endpoints import EndpointReader
from molotov.stats.series import Second, SeriesRecorder
from molotov.stats.snapshot import ErrorKind, Snapshot
from molotov.worker import fixtures
from molotov.worker.process import process_main
from molotov.worker.scheduler import rate_shape, worker_shape

MAX_TICK = 0.5  # seconds between two looks at the bus, at most
READY_TICK = 0.005  # seconds between two looks while the open model's workers set up
START_MARGIN = 0.02  # seconds from "every process is ready" to the start instant
JOIN_GRACE = 5.0  # seconds a child gets to exit after the run before it is killed
KILL_GRACE = 5.0  # seconds from cancelling the steps that outlived --graceful-stop to a kill
SIZING_WINDOW = 60.0
SIZING_MIN_SAMPLES = 100


@dataclass(frozen=True)
class SizingResult:
    reached: bool
    ratio: float = 0.0
    workers: int = 0
    minute_successes: int = 0
    minute_failures: int = 0


class Sizing:
    """Watches the failure/success ratio over the last minute while workers ramp up."""

    def __init__(self, tolerance: float, started: float) -> None:
        self.tolerance = tolerance
        # The window starts at zero counts when the run starts, not at the first look.
        self._window: deque[tuple[float, int, int]] = deque([(started, 0, 0)])
        self.result = SizingResult(reached=False)

    def update(self, snapshot: Snapshot) -> bool:
        now = snapshot.taken_at
        self._window.append((now, snapshot.successes, snapshot.failures))
        while self._window[0][0] < now - SIZING_WINDOW:
            self._window.popleft()
        _, first_ok, first_failed = self._window[0]
        ok = snapshot.successes - first_ok
        failed = snapshot.failures - first_failed
        if self.result.reached or ok + failed < SIZING_MIN_SAMPLES:
            return self.result.reached
        ratio = 100.0 * failed / ok if ok else float("inf")
        if ratio > self.tolerance:
            self.result = SizingResult(True, ratio, snapshot.workers, ok, failed)
        return self.result.reached


@dataclass
class RunResult:
    snapshot: Snapshot
    elapsed: float
    stop_reason: StopReason
    started_at: float = 0.0  # wall clock (epoch seconds)
    ended_at: float = 0.0
    series: list[Second] = field(default_factory=list)
    dead_processes: list[tuple[int, int]] = field(default_factory=list)
    killed: list[str] = field(default_factory=list)  # processes killed for not stopping
    global_teardown_done: bool = False  # the worker process ran it (-p 1)
    sizing: SizingResult | None = None


class _SignalState:
    """Ctrl-C once: graceful stop; twice: cancel in-flight steps; three times: kill."""

    def __init__(self, bus: StatsBus, force_shutdown: bool) -> None:
        self.bus = bus
        self.force_shutdown = force_shutdown
        self.count = 0

    def handle(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.count == 1 and not self.force_shutdown:
            self.bus.request_stop(StopReason.SIGNAL)
        else:
            self.bus.force()


@contextmanager
def _signals_to(state: _SignalState) -> Iterator[None]:
    previous = {sig: signal.signal(sig, state.handle) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def fork_available() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


class _Watch:
    """The parent's loop over a running run: stop conditions, console, series, StatsD."""

    def __init__(
        self, config: RunConfig, bus: StatsBus, console: Console, teardown_in_worker: bool
    ) -> None:
        self.config = config
        self.teardown_in_worker = teardown_in_worker
        self.bus = bus
        self.console = console
        self.processes: list[multiprocessing.process.BaseProcess] = []
        self.signals = _SignalState(bus, config.force_shutdown)
        self.target: LoadShape | None = None
        if config.open_model:
            self.target = rate_shape(config)
        elif config.stages:
            self.target = worker_shape(config)
        self.statsd: StatsdEmitter | None = None
        if config.statsd:
            self.statsd = StatsdEmitter(config.statsd_address, config.statsd_prefix, console.print)
        self._endpoints = EndpointReader()
        self._reported: set[int] = set()
        self.killed: dict[int, str] = {}  # process index -> why it was killed
        self._stop_seen: float | None = None  # when the parent first saw the stop flag
        self._next_console = 0.0
        # The run starts now, or at --start-at: the worker processes wait for it. In the open
        # model it starts once every process has its first workers set up (or at --start-at,
        # whichever comes last): the processes then schedule from that one instant.
        self._start_at = config.start_at
        self.begun = False
        self.started = self.started_at = 0.0
        self.deadline: float | None = None
        self.series = SeriesRecorder(bus.snapshot(), time.time())
        self.sizing: Sizing | None = None
        self._next_flush = 0.0
        if not config.open_model:
            self._begin(self._start_wait(config.start_at, console))

    @staticmethod
    def _start_wait(start_at: float | None, console: Console) -> float:
        if start_at is None:
            return 0.0
        wait = start_at - time.time()
        when = datetime.fromtimestamp(start_at, timezone.utc).isoformat(timespec="milliseconds")
        if wait > 0:
            console.print(f"Waiting {wait:.1f}s to start at {when}")
            return wait
        console.print(f"Warning: the start time {when} is {-wait:.1f}s past; starting now")
        return 0.0

    def _begin(self, wait: float) -> None:
        """The run starts ``wait`` seconds from now: every clock of the run counts from it."""
        config = self.config
        self.begun = True
        self.started_at = time.time() + wait
        self.started = time.monotonic() + wait
        self.bus.set_start(time.monotonic_ns() + int(wait * 1e9))
        length = config.run_length
        self.deadline = self.started + length if length else None
        self.series = SeriesRecorder(self.bus.snapshot(), self.started_at, self._target_at)
        self.sizing = Sizing(config.sizing_tolerance, self.started) if config.sizing else None
        self._next_flush = self.started + config.statsd_interval

    def _target_at(self, wall: float) -> float | None:
        """What the stages or the rate ask for at a wall-clock time (None: nothing asked)."""
        if self.target is None:
            return None
        return self.target.value_at(wall - self.started_at)

    def _ready(self) -> bool:
        """The open model: every process has its first workers set up (or has ended)."""
        return all(
            self.bus.counter(index, Counter.READY) or process.exitcode is not None
            for index, process in enumerate(self.processes)
        )

    def _begin_when_ready(self) -> None:
        if not self._ready():
            return
        wait = START_MARGIN
        if self._start_at is not None:
            wait = max(wait, self._start_wait(self._start_at, self.console))
        self._begin(wait)

    def loop(self) -> None:
        """Until every worker process has exited."""
        # At least two looks a second for the time series; the console is redrawn every
        # --console-update seconds.
        tick = min(self.config.console_update, MAX_TICK)
        while True:
            alive = [p for p in self.processes if p.exitcode is None]
            self._report_deaths()
            if not alive:
                return
            if self.signals.count >= 3:
                for process in alive:
                    process.kill()
            self._bound_the_stop(alive)
            self._release_teardown()
            if not self.begun:
                self._begin_when_ready()
            timeout = tick if self.begun else READY_TICK
            if self.deadline is not None and self.bus.stop_reason == StopReason.RUNNING:
                timeout = min(timeout, max(0.0, self.deadline - time.monotonic()))
            multiprocessing.connection.wait([p.sentinel for p in alive], timeout)
            if self.begun:
                self._tick(time.monotonic())

    def _release_teardown(self) -> None:
        """``-p 1``: once the workers are done, the console goes away and the worker process
        runs ``global_teardown`` (see molotov.worker.fixtures)."""
        bus = self.bus
        if (
            self.teardown_in_worker
            and not bus.teardown_allowed
            and bus.counter(0, Counter.FINISHING)
        ):
            self.console.stop()
            bus.allow_teardown()

    def _bound_the_stop(self, alive: list[multiprocessing.process.BaseProcess]) -> None:
        """Every run ends: ``--graceful-stop`` after the stop, the steps still running are
        cancelled; a process that still has not ended after that (stopped with SIGSTOP, or
        running a scenario that never gives the event loop back) is killed."""
        if self.bus.stop_reason == StopReason.RUNNING:
            return
        now = time.monotonic()
        if self._stop_seen is None:
            self._stop_seen = now
        overdue = now - self._stop_seen - self.config.graceful_stop
        if overdue < 0:
            return
        if not self.bus.forced:
            self.console.print(
                f"Steps still running {self.config.graceful_stop:g}s after the stop "
                "(--graceful-stop): cancelling them"
            )
            self.bus.force()
        if overdue < KILL_GRACE:
            return
        for process in alive:
            index = self.processes.index(process)
            if index not in self.killed:
                self.killed[index] = (
                    f"worker process {index} (pid {process.pid}) did not end "
                    f"{self.config.graceful_stop + KILL_GRACE:g}s after the stop: killed"
                )
                self.console.print(self.killed[index])
                process.kill()

    def _report_deaths(self) -> None:
        for index, process in enumerate(self.processes):
            if process.exitcode and index not in self._reported and index not in self.killed:
                self._reported.add(index)
                self.console.print(f"{death_message(index, process.exitcode)}; the others go on")

    def _tick(self, now: float) -> None:
        bus, config = self.bus, self.config
        if self.deadline is not None and now >= self.deadline:
            bus.request_stop(StopReason.DURATION)
        snapshot = bus.snapshot()
        if config.fail is not None and snapshot.failures >= config.fail:
            bus.request_stop(StopReason.FAIL)
        if self.sizing is not None and self.sizing.update(snapshot):
            bus.request_stop(StopReason.SIZING)
        self.series.update(snapshot, time.time())
        if self.statsd is not None and now >= self._next_flush:
            self._next_flush = now + config.statsd_interval
            self.statsd.flush(snapshot, bus.read_endpoints(self._endpoints), self._target_now())
        if now >= self._next_console:
            self._next_console = now + config.console_update
            remaining = max(0.0, self.deadline - now) if self.deadline is not None else None
            self.console.update(snapshot, now - self.started, remaining, self._target_now())

    def _target_now(self) -> float | None:
        return self._target_at(time.time())

    def result(self) -> RunResult:
        """The final numbers, read once every worker process has exited."""
        elapsed = max(0.0, time.monotonic() - self.started) if self.begun else 0.0
        snapshot = self.bus.snapshot()
        self.console.update(snapshot, elapsed, None, None)
        if self.statsd is not None:
            self.statsd.flush(snapshot, self.bus.read_endpoints(self._endpoints), None)
        return RunResult(
            snapshot=snapshot,
            elapsed=elapsed,
            stop_reason=self.bus.stop_reason,
            started_at=self.started_at if self.begun else time.time(),
            ended_at=(self.started_at if self.begun else time.time()) + elapsed,
            series=self.series.finish(snapshot) if self.begun else [],
            dead_processes=[
                (i, p.exitcode)
                for i, p in enumerate(self.processes)
                if p.exitcode and i not in self.killed
            ],
            killed=list(self.killed.values()),
            global_teardown_done=self.bus.counter(0, Counter.FINISHING) == 2,
            sizing=self.sizing.result if self.sizing else None,
        )


class Runner:
    def __init__(self, config: RunConfig, registry: Registry, console: Console) -> None:
        self.config = config
        self.registry = registry
        self.console = console

    def run(self) -> RunResult:
        names = [s.name for s in self.registry.sorted_scenarios()]
        bus = StatsBus.create(self.config.processes, names)
        try:
            return self._run(bus)
        finally:
            bus.close()

    def _run(self, bus: StatsBus) -> RunResult:
        config = self.config
        # Fork, so children inherit the loaded scenario module and the bus without pickling.
        context = multiprocessing.get_context("fork")
        teardown = fixtures.teardown_in_worker(self.registry, config.processes)
        watch = _Watch(config, bus, self.console, teardown)
        sys.stdout.flush()
        sys.stderr.flush()
        # What the children inherit (aiohttp, the scenario module, ...) lives as long as they
        # do: out of the collector's sight, their full collections skip it and leave its
        # pages shared (measured: -2.4 % CPU per request for -p 2, neutral for -p 1).
        gc.freeze()
        with _signals_to(watch.signals):
            try:
                for index in range(config.processes):
                    process = context.Process(
                        target=process_main,
                        args=(config, self.registry, bus, index),
                        name=f"molotov-worker-{index}",
                        daemon=False,
                    )
                    process.start()
                    watch.processes.append(process)
                gc.unfreeze()  # the parent's own objects go back to the collector
                watch.loop()
            finally:
                self._reap(bus, watch.processes)
        return watch.result()

    def _reap(self, bus: StatsBus, processes: list[multiprocessing.process.BaseProcess]) -> None:
        """Make sure no child outlives the run, however it ended."""
        bus.request_stop(StopReason.FINISHED)
        for process in processes:
            process.join(JOIN_GRACE)
            if process.exitcode is None:
                bus.force()
                process.join(JOIN_GRACE)
            if process.exitcode is None:
                process.kill()
                process.join()


def death_message(index: int, code: int) -> str:
    how = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
    return f"worker process {index} {how}"


def dead_process_messages(result: RunResult) -> list[str]:
    messages = [death_message(index, code) for index, code in result.dead_processes]
    messages += result.killed
    crashes = [e for e in result.snapshot.errors if e.kind is ErrorKind.WORKER]
    messages += [e.message for e in crashes]
    return messages
