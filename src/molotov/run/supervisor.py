"""The parent process: fork the worker processes, watch the bus, stop them, sum up.

The parent never runs scenarios. It creates the stats bus, forks ``--processes`` children
(they inherit the loaded scenario module and the bus), then loops every ``--console-update``
seconds: read a snapshot, apply the stop conditions (duration, ``--fail``, sizing, signals)
by setting the bus's stop flag, and feed the console. The loop's jobs live in their own
modules: the start handshake (:mod:`.handshake`), the stop guard (:mod:`.stopguard`) and the
tick fan-out to the series, StatsD and the console (:mod:`.fanout`). Whatever way the run
ends, the children are reaped and the shared memory is unlinked.
"""

from __future__ import annotations

import gc
import multiprocessing
import multiprocessing.connection
import signal
import sys
import time
from dataclasses import dataclass, field

from molotov.api import Registry
from molotov.config.load import rate_shape, worker_shape
from molotov.config.runconfig import RunConfig
from molotov.config.shape import LoadShape
from molotov.live.console import Console
from molotov.live.dashboard import Dashboard
from molotov.run.errors import RunError
from molotov.run.fanout import TickFanout
from molotov.run.handshake import Start, StartGate, StartHandshake
from molotov.run.stopguard import SizingResult, StopGuard, death_message, signals_to
from molotov.stats.bus import StatsBus
from molotov.stats.coherent import coherent
from molotov.stats.layout import Counter, StopReason
from molotov.stats.series import Second
from molotov.stats.snapshot import ErrorKind, Snapshot
from molotov.worker import fixtures
from molotov.worker.process import process_main

MAX_TICK = 0.5  # seconds between two looks at the bus, at most
READY_TICK = 0.005  # seconds between two looks while the open model's workers set up
JOIN_GRACE = 5.0  # seconds a child gets to exit after the run before it is killed


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
    drain: float = 0.0  # seconds from the stop to the end: in-flight steps finishing

    @property
    def load_seconds(self) -> float:
        """The seconds of load, start to stop: what the run's rates are per."""
        return max(0.0, self.elapsed - self.drain)


def fork_available() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


class _Watch:
    """The parent's loop over a running run. Its three jobs are objects of their own: the
    start handshake (:mod:`.handshake`), the stop guard (:mod:`.stopguard`) and the fan-out of
    each tick's snapshot (:mod:`.fanout`); this loop only sequences them."""

    def __init__(
        self,
        config: RunConfig,
        bus: StatsBus,
        console: Console,
        teardown_in_worker: bool,
        gate: StartGate | None = None,
        dashboard: Dashboard | None = None,
    ) -> None:
        self.config = config
        self.teardown_in_worker = teardown_in_worker
        self.bus = bus
        self.console = console
        self.processes: list[multiprocessing.process.BaseProcess] = []
        target: LoadShape | None = None
        if config.open_model:
            target = rate_shape(config)
        elif config.stages:
            target = worker_shape(config)
        self.guard = StopGuard(config, bus, console, self.processes)
        self.fanout = TickFanout(config, bus, console, target, dashboard)
        self.handshake = StartHandshake(config, bus, console, self.processes, gate)
        self.start: Start | None = None
        self._begin_if_ready()

    def _begin_if_ready(self) -> None:
        """Once the handshake has decided the start, the guard and the fan-out count from it."""
        self.start = self.handshake.poll()
        if self.start is not None:
            self.guard.begin(self.start)
            self.fanout.begin(self.start)

    def loop(self) -> None:
        """Until every worker process has exited."""
        # At least two looks a second for the time series; the console is redrawn every
        # --console-update seconds.
        tick = min(self.config.console_update, MAX_TICK)
        while True:
            alive = [p for p in self.processes if p.exitcode is None]
            self.guard.report_deaths()
            if not alive:
                return
            if self.fanout.stop_asked():
                self.guard.signals.handle(signal.SIGINT, None)  # the Stop button: a Ctrl-C
            self.guard.enforce(alive)
            self._release_teardown()
            if self.start is None:
                self._begin_if_ready()
            timeout = tick if self.start is not None else READY_TICK
            deadline = self.guard.deadline
            if deadline is not None and self.bus.stop_reason == StopReason.RUNNING:
                timeout = min(timeout, max(0.0, deadline - time.monotonic()))
            multiprocessing.connection.wait([p.sentinel for p in alive], timeout)
            if self.start is not None:
                now = time.monotonic()
                self.guard.check_deadline(now)
                snapshot = self.fanout.read(now)
                self.guard.check(snapshot)
                self.fanout.tick(snapshot, now)

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

    def result(self) -> RunResult:
        """The final numbers, read once every worker process has exited."""
        start = self.start
        elapsed = max(0.0, time.monotonic() - start.monotonic) if start is not None else 0.0
        stopped = self.guard.stopped_at
        drain = 0.0
        if start is not None and stopped is not None:
            drain = min(elapsed, max(0.0, elapsed - (stopped - start.monotonic)))
        # Coherent: a process killed mid-record left one counter of a pair written.
        snapshot = coherent(self.bus.snapshot())
        series = self.fanout.finish(snapshot, elapsed)
        started_at = start.wall if start is not None else time.time()
        sizing = self.guard.sizing
        return RunResult(
            snapshot=snapshot,
            elapsed=elapsed,
            drain=drain,
            stop_reason=self.bus.stop_reason,
            started_at=started_at,
            ended_at=started_at + elapsed,
            series=series,
            dead_processes=self.guard.dead_processes(),
            killed=list(self.guard.killed.values()),
            global_teardown_done=self.bus.counter(0, Counter.FINISHING) == 2,
            sizing=sizing.result if sizing else None,
        )


class Runner:
    def __init__(
        self,
        config: RunConfig,
        registry: Registry,
        console: Console,
        gate: StartGate | None = None,
        dashboard: Dashboard | None = None,
    ) -> None:
        self.config = config
        self.registry = registry
        self.console = console
        self.gate = gate  # a held run's start (a cluster agent): see run.handshake
        self.dashboard = dashboard  # --dashboard: fed each tick by the fan-out

    def run(self) -> RunResult:
        names = [s.name for s in self.registry.sorted_scenarios()]
        try:
            bus = StatsBus.create(self.config.processes, names, self.config.max_request_names)
        except OSError as exc:  # no room for it (ulimit -v), no descriptor left, ...
            # A BrokenPipeError (the resource tracker gone) left alone would be taken by click
            # for a closed stdout: exit 1 without a word.
            raise RunError(
                f"Can't create the stats bus in shared memory ({self.config.processes} "
                f"process(es) x {len(names)} scenario(s)): {exc.strerror or exc}"
            ) from None
        try:
            if self.gate is not None:
                self.gate.opened(bus)
            return self._run(bus)
        finally:
            if self.gate is not None:
                self.gate.closed()
            if self.dashboard is not None:
                self.dashboard.close_reads()  # its thread reads the bus no more
            bus.close()

    def _run(self, bus: StatsBus) -> RunResult:
        config = self.config
        # Fork, so children inherit the loaded scenario module and the bus without pickling.
        context = multiprocessing.get_context("fork")
        teardown = fixtures.teardown_in_worker(self.registry, config.processes)
        watch = _Watch(config, bus, self.console, teardown, self.gate, self.dashboard)
        sys.stdout.flush()
        sys.stderr.flush()
        # What the children inherit (aiohttp, the scenario module, ...) lives as long as they
        # do: out of the collector's sight, their full collections skip it and leave its
        # pages shared (measured: -2.4 % CPU per request for -p 2, neutral for -p 1).
        gc.freeze()
        with signals_to(watch.guard.signals):
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


def lost_processes(result: RunResult) -> list[str]:
    """One line per worker process that ended before the run did, or was killed for not
    stopping (the report's ``lost_processes``)."""
    return [death_message(index, code) for index, code in result.dead_processes] + result.killed


def dead_process_messages(result: RunResult) -> list[str]:
    """The lost processes, and the crashes a worker process reported before it ended."""
    crashes = [e for e in result.snapshot.errors if e.kind is ErrorKind.WORKER]
    return lost_processes(result) + [e.message for e in crashes]
