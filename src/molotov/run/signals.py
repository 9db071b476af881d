"""The signals that stop a run, and holding them off while the run's results are written.

SIGINT (Ctrl-C), SIGTERM and SIGHUP (the terminal closed) all stop a run gracefully; during the
run the runner handles them. Once it has returned, the summary, ``global_teardown()`` and the
report still have to happen, and the exit code must be the run's: from then on until the
process exits a stop signal is noted and changes nothing, so a third Ctrl-C or a late SIGTERM
cannot lose the report or the exit code (SIGKILL still ends molotov).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from multiprocessing import resource_tracker, spawn
from types import FrameType
from typing import Any

from molotov.run.errors import RunError

STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


def start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker (it unlinks the stats bus if molotov is killed)
    so that it survives a hang-up of the process group; a :class:`RunError` if it can't start.

    It ignores SIGINT and SIGTERM on its own, not SIGHUP; an ignored signal stays ignored
    across the ``exec`` that starts it. Once it runs, creating the bus reuses it.

    multiprocessing does not look at whether the tracker started (its spawn ignores a failed
    ``exec``): the bus would then be registered into a pipe that nobody reads, a
    BrokenPipeError that click takes for a closed stdout (exit 1, not a word) and the bus left
    in /dev/shm. So the tracker's interpreter is tried first, and what stops it is said.
    """
    _try_tracker_interpreter()
    hangup = getattr(signal, "SIGHUP", None)
    previous = signal.signal(hangup, signal.SIG_IGN) if hangup is not None else None
    try:
        resource_tracker.ensure_running()
    except OSError as exc:  # no process or descriptor left for it
        raise RunError(f"{TRACKER}: {exc.strerror or exc}") from None
    finally:
        if hangup is not None:
            signal.signal(hangup, previous)


TRACKER = "Can't start the resource tracker that removes the stats bus if molotov is killed"
TRACKER_START = 60.0  # seconds: a safety net, an interpreter starts in a fraction of one


def _try_tracker_interpreter() -> None:
    """Start the tracker's interpreter as multiprocessing will, and import the tracker."""
    executable = os.fsdecode(spawn.get_executable())  # set_executable() stores bytes
    args = [executable, "-c", "import multiprocessing.resource_tracker"]
    try:
        done = subprocess.run(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=TRACKER_START,
            check=False,
        )
    except OSError as exc:  # not executable (another user's interpreter), gone, E2BIG, ...
        raise RunError(f"{TRACKER}: {executable!r}: {exc.strerror or exc}") from None
    except subprocess.TimeoutExpired:
        raise RunError(f"{TRACKER}: {executable!r} did not start in {TRACKER_START:g}s") from None
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        why = lines[-1] if lines else f"exit code {done.returncode}"
        raise RunError(f"{TRACKER}: {executable!r}: {why}")


def sleep_unless_signalled(seconds: float) -> None:
    """Sleep up to ``seconds``; a stop signal ends the sleep (the dashboard's linger), and the
    handlers are then what they were."""
    signalled: list[int] = []
    previous = {sig: signal.signal(sig, lambda s, f: signalled.append(s)) for sig in STOP_SIGNALS}
    try:
        deadline = time.monotonic() + seconds
        while not signalled and time.monotonic() < deadline:
            time.sleep(min(LINGER_LOOK, max(0.0, deadline - time.monotonic())))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


LINGER_LOOK = 0.1  # seconds between two looks for a signal while sleeping


class Holder:
    """From :meth:`hold` to :meth:`release` (or the process's exit), a stop signal is noted
    instead of acted on."""

    def __init__(self) -> None:
        self._previous: dict[signal.Signals, Any] = {}
        self.received: list[int] = []

    def hold(self) -> None:
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._note)

    def _note(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)

    def release(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
