"""An agent's state, shared by its HTTP thread (the API) and its main thread (the run).

The HTTP thread records what the coordinator asks (prepare, start, stop, release) and answers
status and snapshots; the main thread runs the one prepared run, and through the
:class:`~molotov.run.handshake.StartGate` methods here learns the start instant and lends
the run's stats bus for live snapshots. One lock guards it all: every method is short.

The dead-man's switch: once a coordinator has made an authenticated call, ``deadman`` seconds
without another one stop the run and release the agent (it prints its report and exits).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from molotov._version import __version__
from molotov.cluster.protocol import MIN_START_MARGIN, State
from molotov.cluster.wire import snapshot_to_wire
from molotov.stats.bus import StatsBus
from molotov.stats.layout import Counter, StopReason
from molotov.stats.snapshot import Snapshot

WAIT_SLICE = 0.5  # the main thread's waits wake this often (so Ctrl-C is seen)


@dataclass(frozen=True)
class Prepare:
    """What ``POST /v1/prepare`` asked for."""

    run_id: str
    options: dict[str, Any]
    index: int
    count: int


class AgentState:
    def __init__(self, deadman: float) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._state = State.IDLE
        self.error: str | None = None
        self.run_id: str | None = None
        self.deadman = deadman
        self.deadman_fired = False
        self._last_call: float | None = None  # monotonic; None until a coordinator called
        self._prepare: Prepare | None = None
        self._released = False
        self._stop = False
        self._bus: StatsBus | None = None
        self._final: Snapshot | None = None
        self._start_at: float | None = None
        self._first_step_at: float | None = None
        self.report: dict[str, Any] | None = None

    # -- the API's side (the HTTP thread) -----------------------------------------------

    def touch(self) -> None:
        """An authenticated call: the coordinator is there."""
        with self._lock:
            self._last_call = time.monotonic()

    def _current(self) -> State:
        bus = self._bus
        if self._state in (State.HELD, State.RUNNING) and (
            self._stop or (bus is not None and bus.stop_reason != StopReason.RUNNING)
        ):
            return State.STOPPING
        return self._state

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {
                "state": self._current().value,
                "version": __version__,
                "clock": time.time(),
                "error": self.error,
                "run_id": self.run_id,
            }

    def prepare(self, request: Prepare) -> str | None:
        """Why the agent cannot prepare this run, or None (the main thread then runs it)."""
        with self._lock:
            if self._state is not State.IDLE or self._released:
                return f"the agent is {self._current().value}, not idle: it runs one run"
            self._prepare = request
            self.run_id = request.run_id
            self._state = State.PREPARING
            self._changed.notify_all()
            return None

    def start(self, at: float) -> str | None:
        """Why the start instant ``at`` (this machine's epoch seconds) is refused, or None."""
        with self._lock:
            state = self._current()
            if state is not State.HELD:
                return f"the agent is {state.value}, not held"
            ahead = at - time.time()
            if ahead < MIN_START_MARGIN:
                return (
                    f"the start instant is {ahead:+.3f}s from now on this agent's clock: too "
                    f"late (it needs {MIN_START_MARGIN:g}s ahead)"
                )
            self._start_at = at
            self._state = State.RUNNING
            return None

    def snapshot(self) -> dict[str, Any]:
        """The run's cumulative numbers now (the bus's, or the final ones), and the state."""
        with self._lock:
            bus = self._bus
            snapshot = bus.snapshot() if bus is not None else self._final
            if snapshot is None:
                snapshot = Snapshot(taken_at=0.0, scenarios=())
            return {
                "state": self._current().value,
                "snapshot": snapshot_to_wire(snapshot),
                "first_step_at": self._first_step(),
            }

    def _first_step(self) -> float | None:
        """When the first step of this agent started (its epoch seconds), once one has."""
        bus = self._bus
        if self._first_step_at is None and bus is not None:
            firsts = [bus.counter(i, Counter.FIRST_STEP_NS) for i in range(bus.nslots)]
            first = min((ns for ns in firsts if ns), default=0)
            if first:
                self._first_step_at = time.time() - (time.monotonic_ns() - first) / 1e9
        return self._first_step_at

    @property
    def stop_requested(self) -> bool:
        """Whether the coordinator asked this agent to stop (or not to start)."""
        with self._lock:
            return self._stop

    def stop(self) -> None:
        """Stop the run gracefully (as Ctrl-C once), or keep it from starting."""
        with self._lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        self._stop = True
        if self._bus is not None and self._bus.stop_reason == StopReason.RUNNING:
            self._bus.request_stop(StopReason.SIGNAL)
        self._changed.notify_all()

    def release(self) -> None:
        """The coordinator is done with this agent: stop what runs; the agent exits."""
        with self._lock:
            self._released = True
            self._stop_locked()

    def check_deadman(self) -> bool:
        """Stop and release if the coordinator has been silent too long; True once fired."""
        with self._lock:
            last = self._last_call
            silent = last is not None and time.monotonic() - last > self.deadman
            if silent and not self.deadman_fired:
                self.deadman_fired = True
                self._released = True
                self._stop_locked()
            return self.deadman_fired

    # -- the StartGate (the main thread, in the run's parent loop) ------------------------

    def opened(self, bus: StatsBus) -> None:
        with self._lock:
            self._bus = bus
            if self._stop:
                bus.request_stop(StopReason.SIGNAL)

    def held(self) -> float | None:
        with self._lock:
            if self._state is State.PREPARING:
                self._state = State.HELD
            return self._start_at

    def closed(self) -> None:
        with self._lock:
            if self._bus is not None:
                self._final = self._bus.snapshot()
                self._first_step()
            self._bus = None

    # -- the main thread ----------------------------------------------------------------

    def next_run(self) -> Prepare | None:
        """Wait for ``prepare`` (the run to do), or None when released first."""
        with self._changed:
            while self._prepare is None and not self._released:
                self._changed.wait(WAIT_SLICE)
            return None if self._released and self._prepare is None else self._prepare

    def finish(self, report: dict[str, Any] | None, error: str | None = None) -> None:
        with self._lock:
            self.report = report
            self.error = error
            self._state = State.FINISHED if report is not None else State.FAILED

    def wait_release(self, bound: float) -> None:
        """Until released (or the dead-man's switch fires), ``bound`` seconds at most."""
        deadline = time.monotonic() + bound
        with self._changed:
            while not self._released and time.monotonic() < deadline:
                self._changed.wait(WAIT_SLICE)
