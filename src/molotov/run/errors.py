"""The error that stops a run before it starts: one line (and a traceback with ``-v``)."""

from __future__ import annotations


class RunError(Exception):
    """Stops the run before it starts, with one line (and a traceback with ``-v``)."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail
