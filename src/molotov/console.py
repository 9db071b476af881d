"""What the parent shows while a run goes: a rich live view, plain lines, or nothing.

* a terminal (and no ``-c``): a ``rich.live.Live`` view redrawn every ``--console-update`` s;
* not a terminal, ``-c``, or ``-vv`` (whose request dumps would tear a live view): plain
  progress lines every few seconds, and each distinct error once, as it first happens;
* ``-q``: nothing at all.

Every view reads only :class:`~molotov.snapshot.Snapshot` values.
"""

from __future__ import annotations

import sys
from typing import TextIO

from molotov.histogram import format_percentiles
from molotov.report import (
    LATENCY_PERCENTILES,
    durations_text,
    request_errors_text,
    statuses_text,
)
from molotov.snapshot import ErrorStat, Snapshot

PLAIN_PROGRESS_EVERY = 2.0  # seconds between two progress lines in plain mode
TOP_ERRORS = 5


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return (
        f"{hours:d}:{rest // 60:02d}:{rest % 60:02d}"
        if hours
        else f"{rest // 60:02d}:{rest % 60:02d}"
    )


class _Rates:
    """Steps and requests per second between two consecutive snapshots."""

    def __init__(self) -> None:
        self._last: Snapshot | None = None
        self.steps = 0.0
        self.requests = 0.0

    def update(self, snapshot: Snapshot) -> None:
        last = self._last
        if last is not None and snapshot.taken_at > last.taken_at:
            seconds = snapshot.taken_at - last.taken_at
            self.steps = (snapshot.steps - last.steps) / seconds
            self.requests = (snapshot.requests - last.requests) / seconds
        self._last = snapshot


class Console:
    """The quiet console, and the interface of the others."""

    def __init__(self, verbose: int = 0, stream: TextIO | None = None) -> None:
        self.verbose = verbose
        self.stream = stream or sys.stdout
        self._seen_errors: set[tuple[int, str]] = set()

    def start(self, banner: str) -> None:
        """Called once before the workers start."""

    def update(self, snapshot: Snapshot, elapsed: float, remaining: float | None) -> None:
        """Called at every tick of the parent's loop with the latest snapshot."""

    def print(self, text: str) -> None:
        """A line of the run's own (a warning, a notice); kept out of the live view's way."""

    def stop(self) -> None:
        """Called once, before the summary is printed."""

    def new_errors(self, snapshot: Snapshot) -> list[ErrorStat]:
        fresh = []
        for error in snapshot.errors:
            key = (int(error.kind), error.message)
            if key not in self._seen_errors:
                self._seen_errors.add(key)
                fresh.append(error)
        return fresh

    def describe_error(self, error: ErrorStat) -> str:
        text = f"ERROR {error.kind.label} ({error.message})"
        if self.verbose and error.traceback:
            text += "\n" + error.traceback.rstrip()
        return text


class PlainConsole(Console):
    def __init__(self, verbose: int = 0, stream: TextIO | None = None) -> None:
        super().__init__(verbose, stream)
        self._rates = _Rates()
        self._next_progress = 0.0

    def print(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def start(self, banner: str) -> None:
        self.print(banner)

    def update(self, snapshot: Snapshot, elapsed: float, remaining: float | None) -> None:
        self._rates.update(snapshot)
        for error in self.new_errors(snapshot):
            self.print(self.describe_error(error))
        if elapsed >= self._next_progress:
            self._next_progress = elapsed + PLAIN_PROGRESS_EVERY
            left = f" remaining={_clock(remaining)}" if remaining is not None else ""
            self.print(
                f"[{_clock(elapsed)}]{left} workers={snapshot.workers} "
                f"successes={snapshot.successes} failures={snapshot.failures} "
                f"steps/s={self._rates.steps:.1f} requests/s={self._rates.requests:.1f} "
                f"{statuses_text(snapshot)} {format_percentiles(snapshot.durations)}"
            )


class LiveConsole(Console):
    """A ``rich`` live view; refreshed by the parent's loop (no refresh thread)."""

    def __init__(self, verbose: int = 0, stream: TextIO | None = None) -> None:
        super().__init__(verbose, stream)
        from rich.console import Console as RichConsole
        from rich.live import Live

        self._rates = _Rates()
        self._rich = RichConsole(file=self.stream)
        self._live = Live(console=self._rich, auto_refresh=False, transient=False)
        self._banner = ""

    def start(self, banner: str) -> None:
        self._banner = banner
        self._live.start()

    def print(self, text: str) -> None:
        self._live.console.print(text, markup=False, highlight=False)

    def update(self, snapshot: Snapshot, elapsed: float, remaining: float | None) -> None:
        from rich.table import Table
        from rich.text import Text

        self._rates.update(snapshot)
        for error in self.new_errors(snapshot):
            if self.verbose:
                self.print(self.describe_error(error))
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        time_text = _clock(elapsed)
        if remaining is not None:
            time_text += f" elapsed, {_clock(remaining)} remaining"
        table.add_row("Time", time_text)
        table.add_row(
            "Workers", f"{snapshot.workers} active in {snapshot.processes_running} process(es)"
        )
        table.add_row(
            "Steps",
            Text.assemble(
                ("SUCCESSES ", "bold"),
                (f"{snapshot.successes}", "green"),
                ("  FAILURES ", "bold"),
                (f"{snapshot.failures}", "red" if snapshot.failures else "green"),
                f"  {self._rates.steps:.1f} steps/s",
            ),
        )
        table.add_row(
            "Requests",
            f"{snapshot.requests}  {self._rates.requests:.1f} requests/s  "
            f"{statuses_text(snapshot)}  errors: {request_errors_text(snapshot)}",
        )
        table.add_row("Durations", format_percentiles(snapshot.durations))
        table.add_row("Latency", durations_text(snapshot.request_latency, LATENCY_PERCENTILES))
        for error in snapshot.top_errors(TOP_ERRORS):
            table.add_row("Error", Text(error.line(), style="red"))
        outer = Table.grid()
        outer.add_row(Text(self._banner, style="bold cyan"))
        outer.add_row(table)
        self._live.update(outer, refresh=True)

    def stop(self) -> None:
        self._live.stop()


def make_console(quiet: bool, plain: bool, verbose: int, stream: TextIO | None = None) -> Console:
    stream = stream or sys.stdout
    if quiet:
        return Console(verbose, stream)
    if plain or verbose > 1 or not stream.isatty():
        return PlainConsole(verbose, stream)
    return LiveConsole(verbose, stream)
