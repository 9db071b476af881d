"""Children that stop with their parent: SIGINT, SIGTERM, SIGHUP are forwarded, then waited for.

While a child runs, the signal goes to it (it was started in its own session, so a Ctrl-C in
the terminal reaches it once, through here) and the wait goes on: the child decides how to
stop, and its exit code is the result. With no child running, the signal raises
:class:`Interrupted` so the caller can clean up and exit.

:func:`within` runs a child that has a deadline instead (the clone): at the deadline, or
whatever else ends the wait (a signal's :class:`Interrupted`), its whole process group is
killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # SIGHUP: the terminal closed


class Interrupted(BaseException):
    """SIGINT, SIGTERM or SIGHUP arrived while no child was running."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class Signals:
    """Install the handlers for the ``with`` block; :meth:`run` children under them."""

    def __init__(self) -> None:
        self._child: subprocess.Popen[bytes] | None = None
        self._previous: dict[int, Any] = {}
        self.received: int | None = None  # the last signal that arrived

    def __enter__(self) -> Signals:
        for signum in SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    @staticmethod
    def ignore() -> None:
        """From now on, ignore these signals (while cleaning up)."""
        for signum in SIGNALS:
            signal.signal(signum, signal.SIG_IGN)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received = signum
        child = self._child
        if child is None:
            raise Interrupted(signum)
        if child.poll() is None:
            child.send_signal(signum)

    def run(self, args: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None) -> int:
        """Run ``args`` (a list, never a shell) to its end; its exit code (128+N if killed)."""
        child: subprocess.Popen[bytes] | None = None
        try:
            child = subprocess.Popen(list(args), cwd=cwd, env=env, start_new_session=True)
            self._child = child
            code = child.wait()
        except Interrupted as exc:  # it came between the start and the registration
            if child is not None and child.poll() is None:
                self._child = child  # a further signal is forwarded too
                child.send_signal(exc.signum)
                child.wait()
            raise
        finally:
            self._child = None
        return code if code >= 0 else 128 - code


def within(args: Sequence[str], seconds: float) -> tuple[int, str]:
    """Run ``args`` (a list, never a shell) for at most ``seconds``: (exit code, its stderr).

    The child runs in a session of its own, so that ending it at the deadline also ends what
    it started (``ssh``, say); :class:`subprocess.TimeoutExpired` says the deadline came.
    """
    child = subprocess.Popen(
        list(args),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        _, err = child.communicate(timeout=seconds)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
    return child.returncode, err.decode("utf-8", "replace")
