"""What the parent shows while a run goes: a rich live view, plain lines, or nothing.

* a terminal (and no ``-c``): a ``rich.live.Live`` view redrawn every ``--console-update`` s;
* not a terminal, ``-c``, or ``-vv`` (whose request dumps would tear a live view): plain
  progress lines every few seconds, and each distinct error once, as it first happens;
* ``-q``: nothing at all.

Both views name the busiest requests with their rate, p95 and failed share over the last
seconds (:class:`~molotov.live.window.Window`): three of them (five on a tall terminal), so
the headline lines stay on a 24-line terminal. Every view reads only
:class:`~molotov.stats.snapshot.Snapshot` values.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

from molotov.live.window import NAME_CHARACTERS, RATE_WINDOW, Window
from molotov.reports.summary import (
    request_errors_text,
    statuses_text,
)
from molotov.stats.histogram import Histogram, format_percentiles
from molotov.stats.snapshot import ErrorKind, ErrorStat, Snapshot

if TYPE_CHECKING:
    from rich.console import Console as RichConsole
    from rich.console import RenderableType
    from rich.text import Text

PLAIN_PROGRESS_EVERY = 2.0  # seconds between two progress lines in plain mode
TOP_ERRORS = 5
# The busiest request names shown: few, so the headline lines stay on a 24-line terminal.
TOP_REQUESTS = 3
TOP_REQUESTS_TALL = 5  # on a terminal of TALL_TERMINAL lines or more
TALL_TERMINAL = 32
# A busiest row's width besides the name: the label column, the rate, p95 and failed share
# (``12345.6/s  p95 123.4ms  failed 100.0%``) and the padding.
BUSIEST_NUMBERS_WIDTH = 52
MIN_NAME_CHARACTERS = 12
GAP = "  "  # between two columns of the live view


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return (
        f"{hours:d}:{rest // 60:02d}:{rest % 60:02d}"
        if hours
        else f"{rest // 60:02d}:{rest % 60:02d}"
    )


class Console:
    """The quiet console, and the interface of the others."""

    SHOWS_REQUESTS = False  # whether update() reads the busiest names' latency

    def __init__(
        self, verbose: int = 0, stream: TextIO | None = None, open_model: bool = False
    ) -> None:
        self.verbose = verbose
        self.stream = stream or sys.stdout
        self.open_model = open_model
        self.stopped = False
        self._seen_errors: set[tuple[ErrorKind, str, str, str]] = set()

    def start(self, banner: str) -> None:
        """Called once before the workers start."""

    def update(
        self,
        snapshot: Snapshot,
        elapsed: float,
        remaining: float | None,
        target: float | None = None,
    ) -> None:
        """Called at every tick of the parent's loop with the latest snapshot, and what the
        rate or the stages ask for now (None when nothing is asked)."""

    def print(self, text: str) -> None:
        """A line of the run's own (a warning, a notice); kept out of the live view's way."""

    def stop(self) -> None:
        """Called before the summary is printed (and may be earlier: before a worker
        process's global_teardown); nothing is shown after it."""
        self.stopped = True

    def new_errors(self, snapshot: Snapshot) -> list[ErrorStat]:
        fresh = []
        for error in snapshot.errors:
            key = error.key()
            if key not in self._seen_errors:
                self._seen_errors.add(key)
                fresh.append(error)
        return fresh

    def describe_error(self, error: ErrorStat) -> str:
        text = f"ERROR {error.text()}"
        if self.verbose and error.traceback:
            text += "\n" + error.traceback.rstrip()
        return text


class _ViewConsole(Console):
    SHOWS_REQUESTS = True  # its lines name the busiest requests with their recent p95

    """What the plain and the live console share: the window of recent snapshots, and the
    new errors of each tick (printed as they come; the live view only with ``-v``)."""

    ERRORS_WITHOUT_VERBOSE = True

    def __init__(
        self, verbose: int = 0, stream: TextIO | None = None, open_model: bool = False
    ) -> None:
        super().__init__(verbose, stream, open_model)
        self.window = Window()

    def update(
        self,
        snapshot: Snapshot,
        elapsed: float,
        remaining: float | None,
        target: float | None = None,
    ) -> None:
        if self.stopped:
            return
        self.window.update(snapshot, elapsed)
        for error in self.new_errors(snapshot):
            if self.verbose or self.ERRORS_WITHOUT_VERBOSE:
                self.print(self.describe_error(error))
        self.render(snapshot, elapsed, remaining, target)

    def render(
        self, snapshot: Snapshot, elapsed: float, remaining: float | None, target: float | None
    ) -> None:
        raise NotImplementedError


class PlainConsole(_ViewConsole):
    def __init__(
        self, verbose: int = 0, stream: TextIO | None = None, open_model: bool = False
    ) -> None:
        super().__init__(verbose, stream, open_model)
        self._next_progress = 0.0

    def print(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def start(self, banner: str) -> None:
        self.print(banner)

    def render(
        self, snapshot: Snapshot, elapsed: float, remaining: float | None, target: float | None
    ) -> None:
        window = self.window
        if elapsed >= self._next_progress:
            self._next_progress = elapsed + PLAIN_PROGRESS_EVERY
            left = f" remaining={_clock(remaining)}" if remaining is not None else ""
            asked = f" target={_target(target, self.open_model)}" if target is not None else ""
            arrivals = ""
            if self.open_model:
                arrivals = (
                    f" started/s={window.rate('started'):.1f} dropped={snapshot.dropped}"
                    f" waiting={snapshot.waiting}"
                )
            self.print(
                f"[{_clock(elapsed)}]{left}{asked} workers={snapshot.workers} "
                f"successes={snapshot.successes} failures={snapshot.failures} "
                f"steps/s={window.rate('steps'):.1f} requests/s={window.rate('requests'):.1f}"
                f"{arrivals}{_statuses(snapshot)} step {_percentiles(window.recent('durations'))}"
            )
            busiest = window.busiest(TOP_REQUESTS)
            if busiest:
                self.print(
                    "  busiest: "
                    + " | ".join(
                        f"{r.short_name()} {r.per_second:.1f}/s p95={r.p95()} failed={r.failed()}"
                        for r in busiest
                    )
                )


def _target(target: float, open_model: bool) -> str:
    """What the stages or the rate ask for now: ``150.0/s`` (arrivals), ``12`` (workers)."""
    return f"{target:.1f}/s" if open_model else f"{round(target)}"


def _statuses(snapshot: Snapshot) -> str:
    """`` 2xx=30 4xx=10``: the responses so far by class (nothing before the first)."""
    return (
        f" {statuses_text(snapshot)}" if snapshot.statuses != (0,) * len(snapshot.statuses) else ""
    )


def _percentiles(recent: Histogram) -> str:
    """``p50=12.3ms p95=20.1ms p99=31.0ms``, or ``p50=-`` before the first value."""
    return format_percentiles(recent) if recent.count else "p50=-"


class LiveConsole(_ViewConsole):
    """A ``rich`` live view; refreshed by the parent's loop (no refresh thread).

    It is transient: it goes away when the run ends, so that the summary printed next is the
    one set of final numbers on the screen.
    """

    def __init__(
        self, verbose: int = 0, stream: TextIO | None = None, open_model: bool = False
    ) -> None:
        super().__init__(verbose, stream, open_model)
        from rich.console import Console as RichConsole
        from rich.live import Live

        self._rich = RichConsole(file=self.stream)
        self._live = Live(console=self._rich, auto_refresh=False, transient=True)
        self._banner = ""

    def start(self, banner: str) -> None:
        self._banner = banner
        self._rich.print(banner, markup=False, highlight=False, style="bold cyan")
        self._live.start()

    def print(self, text: str) -> None:
        self._live.console.print(text, markup=False, highlight=False)

    ERRORS_WITHOUT_VERBOSE = False  # the view lists the top errors itself

    def render(
        self, snapshot: Snapshot, elapsed: float, remaining: float | None, target: float | None
    ) -> None:
        self._live.update(self.view(snapshot, elapsed, remaining, target), refresh=True)

    def view(
        self, snapshot: Snapshot, elapsed: float, remaining: float | None, target: float | None
    ) -> RenderableType:
        """What the live view shows for a snapshot (the window holds the recent ones).

        One ``Text`` whose columns are padded here, not a ``rich`` table: a table measures
        and lays out every cell again at each refresh, ~5 ms of the parent's tick where the
        text takes ~0.4 ms (``bench.py --tick-cost``)."""
        from rich.text import Text

        window = self.window
        rows: list[tuple[str, str | Text]] = []
        time_text = _clock(elapsed)
        if remaining is not None:
            time_text += f" elapsed, {_clock(remaining)} remaining"
        rows.append(("Time", time_text))
        workers = f"{snapshot.workers} active in {snapshot.processes_running} process(es)"
        if self.open_model:
            workers = (
                f"{snapshot.workers} in the pool, {snapshot.busy} busy, "
                f"in {snapshot.processes_running} process(es)"
            )
        elif target is not None:
            workers += f" (target {round(target)})"
        rows.append(("Workers", workers))
        if self.open_model:
            asked = f"target {_target(target, True)}, " if target is not None else ""
            rows.append(
                (
                    "Arrivals",
                    Text.assemble(
                        f"{asked}started {window.rate('started'):.1f}/s  "
                        f"waiting {snapshot.waiting}  ",
                        ("dropped ", "bold"),
                        (f"{snapshot.dropped}", "red" if snapshot.dropped else "green"),
                    ),
                )
            )
        rows.append(
            (
                "Steps",
                Text.assemble(
                    ("SUCCESSES ", "bold"),
                    (f"{snapshot.successes}", "green"),
                    ("  FAILURES ", "bold"),
                    (f"{snapshot.failures}", "red" if snapshot.failures else "green"),
                    f"  {window.rate('steps'):.1f} steps/s",
                ),
            )
        )
        rows.append(
            (
                "Requests",
                f"{snapshot.requests}  {window.rate('requests'):.1f} requests/s  "
                f"{statuses_text(snapshot)}  errors: {request_errors_text(snapshot)}",
            )
        )
        recent = f"last {RATE_WINDOW:g}s"
        histograms = [("Durations", "durations")]
        if self.open_model:
            histograms.append(("Response", "response_times"))
        histograms.append(("Latency", "request_latency"))
        for label, histogram in histograms:
            rows.append(
                (
                    label,
                    f"{recent}: {format_percentiles(window.recent(histogram))}  "
                    f"run: {format_percentiles(getattr(snapshot, histogram))}",
                )
            )
        for i, line in enumerate(self._busiest_lines()):
            rows.append(("Busiest" if i == 0 else "", line))
        for error in snapshot.top_errors(TOP_ERRORS):
            rows.append(("Error", Text(error.line(), style="red")))
        return _columns(rows, self._rich)

    def _busiest_lines(self) -> list[Text]:
        """The busiest names, one a line: their rate, p95 and failed share over the window,
        each in its column."""
        from rich.cells import cell_len, set_cell_size
        from rich.text import Text

        width, height = self._rich.size
        busiest = self.window.busiest(
            TOP_REQUESTS_TALL if height >= TALL_TERMINAL else TOP_REQUESTS
        )
        # Names are cut so that a row stays on one line: the numbers are what matters.
        limit = min(NAME_CHARACTERS, max(MIN_NAME_CHARACTERS, width - BUSIEST_NUMBERS_WIDTH))
        cells = [
            (
                recent.short_name(limit),
                f"{recent.per_second:.1f}/s",
                f"p95 {recent.p95()}",
                Text(f"failed {recent.failed()}", style="red" if recent.failures else "green"),
            )
            for recent in busiest
        ]
        if not cells:
            return []
        names = max(cell_len(name) for name, *_ in cells)
        rates = max(len(rate) for _, rate, _, _ in cells)
        p95s = max(len(p95) for _, _, p95, _ in cells)
        return [
            Text.assemble(
                f"{set_cell_size(name, names)}{GAP}{rate:>{rates}}{GAP}{p95:<{p95s}}{GAP}",
                failed,
            )
            for name, rate, p95, failed in cells
        ]

    def stop(self) -> None:
        super().stop()
        self._live.stop()


def _columns(rows: list[tuple[str, str | Text]], console: RichConsole) -> Text:
    """The rows as one text: the labels in bold, in a column as wide as the longest, and
    a value longer than the line folded under itself (as a table's column would be)."""
    from rich.text import Text

    width = max(len(label) for label, _ in rows) + len(GAP)
    room = max(MIN_NAME_CHARACTERS, console.width - width)
    text = Text(end="")
    for label, value in rows:
        lines = (Text(value) if isinstance(value, str) else value).wrap(console, room)
        for i, line in enumerate(lines):
            if text:
                text.append("\n")
            text.append(label.ljust(width) if i == 0 else " " * width, style="bold")
            text.append(line)
    return text


def make_console(
    quiet: bool,
    plain: bool,
    verbose: int,
    stream: TextIO | None = None,
    open_model: bool = False,
) -> Console:
    stream = stream or sys.stdout
    if quiet:
        return Console(verbose, stream, open_model)
    if plain or verbose > 1 or not stream.isatty():
        return PlainConsole(verbose, stream, open_model)
    return LiveConsole(verbose, stream, open_model)
