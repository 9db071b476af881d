"""The signals that stop a run, and holding them off while the run's results are written.

SIGINT (Ctrl-C), SIGTERM and SIGHUP (the terminal closed) all stop a run gracefully; during the
run the runner handles them. Once it has returned, the summary, ``global_teardown()`` and the
report still have to happen, and the exit code must be the run's: from then on until the
process exits a stop signal is noted and changes nothing, so a third Ctrl-C or a late SIGTERM
cannot lose the report or the exit code (SIGKILL still ends molotov).
"""

from __future__ import annotations

import signal
from multiprocessing import resource_tracker
from types import FrameType
from typing import Any

STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


def start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker (it unlinks the stats bus if molotov is killed)
    so that it survives a hang-up of the process group.

    It ignores SIGINT and SIGTERM on its own, not SIGHUP; an ignored signal stays ignored
    across the ``exec`` that starts it. Once it runs, creating the bus reuses it.
    """
    hangup = getattr(signal, "SIGHUP", None)
    if hangup is None:
        resource_tracker.ensure_running()
        return
    previous = signal.signal(hangup, signal.SIG_IGN)
    try:
        resource_tracker.ensure_running()
    finally:
        signal.signal(hangup, previous)


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
