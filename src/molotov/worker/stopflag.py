"""Whether a worker process's run is stopping, and a sleep that wakes up when it does.

One :class:`StopFlag` per process, shared by what runs there (the pool's workers, the
scheduler, the stages): they read ``stopping`` between steps and sleep through
:meth:`StopFlag.sleep`. The process (:class:`~molotov.worker.process.ProcessRun`) is the one
that raises it, on a stop asked on the bus, by a signal, or by a failure with ``-x``.
"""

from __future__ import annotations

import asyncio
import contextlib

SHORT_SLEEP = 0.05  # seconds: a sleep this short does not need to wake up on a stop


class StopFlag:
    """``stopping``: the run winds down; ``cancelled``: its steps are being cancelled."""

    def __init__(self) -> None:
        self.stopping = False
        self.cancelled = False
        self._event = asyncio.Event()

    def raise_flag(self) -> None:
        """The run stops: every sleep in :meth:`sleep` wakes up."""
        self.stopping = True
        self._event.set()

    async def sleep(self, seconds: float) -> None:
        """Sleep, but wake up as soon as the run stops.

        A short sleep is a plain one (callers look at ``stopping`` after it): waiting on the
        stop event costs a task and a timeout per sleep, ~3x the plain sleep's CPU.
        """
        if self.stopping:
            return
        if seconds <= SHORT_SLEEP:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._event.wait(), seconds)
