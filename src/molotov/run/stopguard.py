"""The stop guard: every way a run is told to stop, and making sure it then does.

A run stops at its deadline (``-d``, the stages), at ``--fail`` failures, when ``--sizing``
finds its limit, or on a stop signal (once: graceful; twice: cancel the steps; three times:
kill). After the stop, steps get ``--graceful-stop`` and are then cancelled; a process still
alive ``KILL_GRACE`` later is killed. A process that dies on its own is said, once.
"""

from __future__ import annotations

import multiprocessing
import signal
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

from molotov.config.runconfig import RunConfig
from molotov.live.console import Console
from molotov.run.handshake import Start
from molotov.run.signals import STOP_SIGNALS
from molotov.stats.bus import StatsBus
from molotov.stats.layout import StopReason
from molotov.stats.snapshot import Snapshot

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


class SignalState:
    """Ctrl-C once: graceful stop; twice: cancel in-flight steps; three times: kill."""

    def __init__(self, bus: StatsBus, force_shutdown: bool) -> None:
        self.bus = bus
        self.force_shutdown = force_shutdown
        self.count = 0
        self.first_at: float | None = None  # time.monotonic() of the first stop signal

    def handle(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.first_at is None:
            self.first_at = time.monotonic()
        if self.count == 1 and not self.force_shutdown:
            self.bus.request_stop(StopReason.SIGNAL)
        else:
            self.bus.force()


@contextmanager
def signals_to(state: SignalState) -> Iterator[None]:
    previous = {sig: signal.signal(sig, state.handle) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def death_message(index: int, code: int) -> str:
    how = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
    return f"worker process {index} {how}"


class StopGuard:
    """Sets the bus's stop flag when the run must stop, and ends the processes that do not."""

    def __init__(
        self,
        config: RunConfig,
        bus: StatsBus,
        console: Console,
        processes: list[multiprocessing.process.BaseProcess],
    ) -> None:
        self.config = config
        self.bus = bus
        self.console = console
        self.processes = processes  # the supervisor's list, filled as it forks
        self.signals = SignalState(bus, config.force_shutdown)
        self.killed: dict[int, str] = {}  # process index -> why it was killed
        self._reported: set[int] = set()
        self._stop_seen: float | None = None  # when the parent first saw the stop flag
        # When the load stopped (time.monotonic()): the deadline, the signal, the tick that
        # saw --fail or a worker's stop; None while running, and for a run that just ended.
        self.stopped_at: float | None = None
        self.deadline: float | None = None
        self.sizing: Sizing | None = None

    def begin(self, start: Start) -> None:
        self.deadline = start.deadline
        if self.config.sizing:
            self.sizing = Sizing(self.config.sizing_tolerance, start.monotonic)

    def check_deadline(self, now: float) -> None:
        """A tick's first look, before its snapshot is read: the run's end (``-d``, stages)."""
        if self.deadline is not None and now >= self.deadline:
            self._stopped(self.deadline)
            self.bus.request_stop(StopReason.DURATION)

    def _stopped(self, at: float) -> None:
        if self.stopped_at is None and self.bus.stop_reason == StopReason.RUNNING:
            self.stopped_at = at

    def check(self, snapshot: Snapshot) -> None:
        """The stop conditions of a tick's snapshot: ``--fail``, ``--sizing``."""
        if self.config.fail is not None and snapshot.failures >= self.config.fail:
            self._stopped(snapshot.taken_at)
            self.bus.request_stop(StopReason.FAIL)
        if self.sizing is not None and self.sizing.update(snapshot):
            self._stopped(snapshot.taken_at)
            self.bus.request_stop(StopReason.SIZING)

    def enforce(self, alive: list[multiprocessing.process.BaseProcess]) -> None:
        """A third stop signal kills; a stop not obeyed in time cancels, then kills."""
        if self.signals.count >= 3:
            for process in alive:
                process.kill()
        self._bound_the_stop(alive)

    def _bound_the_stop(self, alive: list[multiprocessing.process.BaseProcess]) -> None:
        """Every run ends: ``--graceful-stop`` after the stop, the steps still running are
        cancelled; a process that still has not ended after that (stopped with SIGSTOP, or
        running a scenario that never gives the event loop back) is killed."""
        if self.bus.stop_reason == StopReason.RUNNING:
            return
        now = time.monotonic()
        if self._stop_seen is None:
            self._stop_seen = now
            if self.stopped_at is None:  # a signal, or a worker's own stop (-x, util.stop())
                self.stopped_at = self.signals.first_at or now
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

    def report_deaths(self) -> None:
        """Say once that a process died on its own (the others go on)."""
        for index, process in enumerate(self.processes):
            if process.exitcode and index not in self._reported and index not in self.killed:
                self._reported.add(index)
                self.console.print(f"{death_message(index, process.exitcode)}; the others go on")

    def dead_processes(self) -> list[tuple[int, int]]:
        """(index, exit code) of the processes that died on their own."""
        return [
            (i, p.exitcode)
            for i, p in enumerate(self.processes)
            if p.exitcode and i not in self.killed
        ]
