"""Standard streams that a closed pipe cannot break: ``molotov ... | head``.

When the reader of stdout (or stderr) goes away, the next write fails with ``EPIPE``. That is
not an error of the run: the stream's descriptor is pointed at ``/dev/null`` (at the descriptor
level, so what is still buffered, forked children and the interpreter's final flush all go
there quietly, with no "Exception ignored" at exit) and the run goes on to its own exit code.
"""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO, cast


class _PipeSafe:
    """A text stream that swallows ``BrokenPipeError`` once its reader has gone."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._to_devnull()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._to_devnull()
            self._stream.flush()  # what was buffered goes to /dev/null

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def _to_devnull(self) -> None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self._stream.fileno())
        finally:
            os.close(devnull)


def survive_closed_pipes() -> None:
    """Make ``sys.stdout`` and ``sys.stderr`` outlive their readers (once, at start-up)."""
    if not isinstance(sys.stdout, _PipeSafe):
        sys.stdout = cast(TextIO, _PipeSafe(sys.stdout))
    if not isinstance(sys.stderr, _PipeSafe):
        sys.stderr = cast(TextIO, _PipeSafe(sys.stderr))
