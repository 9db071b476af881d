"""What a running run hands its dashboard, and the one structure its two threads share.

The run's side (the parent's tick, or a cluster coordinator's poll) is a synchronous loop that
must never wait on the dashboard's web thread: each tick it hands over references to values
it already has (the snapshot, which is immutable, and the series rows its recorder just
closed), under a lock held for a few assignments. Everything costly (encoding the rows,
rendering the page, writing to sockets) happens in the web thread, on demand.

The web thread's side reads the latest state, the rows from an index on, the final page once
the run's report exists, and says when a browser asked to stop the run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from molotov.reports.htmlreport import Page
from molotov.stats.series import Second, Tiers
from molotov.stats.snapshot import ScenarioStats, Snapshot

ScenariosReader = Callable[[], tuple[ScenarioStats, ...]]  # every scenario's, with histograms


@dataclass(frozen=True)
class View:
    """The state at one look: ``version`` changes with every update."""

    version: int
    started_at: float  # epoch seconds: the run's start (the dashboard's, before it)
    snapshot: Snapshot | None  # the latest (None: no look at the run yet)
    taken_at: float  # epoch seconds: when ``snapshot`` was read
    rows: int  # series rows handed over so far
    final: Page | None  # the final report's page, once the run has one


class LiveFeed:
    """The run's state for the dashboard: written by the run's loop, read by the web thread."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options  # the run's options, as its report will say them
        self._lock = threading.Lock()
        self._version = 0
        self._started_at = time.time()
        self._snapshot: Snapshot | None = None
        self._taken_at = self._started_at
        # The rows, as the report's series keeps them (older ones joined: a day's run costs
        # a day's report, not 86,400 rows), and how many seconds were handed over.
        self._tiers = Tiers()
        self._count = 0
        self._final: Page | None = None
        self._stop_asked = False
        self._notices: list[str] = []
        # Reads the scenarios' histograms a local run's ticks leave out (from the web thread,
        # under its own lock: the run's side takes it away before the bus closes).
        self._scenarios: ScenariosReader | None = None
        self._reading = threading.Lock()

    # -- the run's side --------------------------------------------------------------------

    def begin(self, started_at: float) -> None:
        with self._lock:
            self._started_at = started_at
            self._version += 1

    def update(
        self,
        snapshot: Snapshot,
        rows: Sequence[Second],
        taken_at: float,
        scenarios: ScenariosReader | None = None,
    ) -> None:
        """A newer snapshot, read at ``taken_at`` (epoch seconds), and the rows closed since
        the last update; ``scenarios`` reads the scenarios' histograms when ``snapshot``
        lacks them (see :meth:`complete`)."""
        with self._lock:
            self._snapshot = snapshot
            self._taken_at = taken_at
            for row in rows:
                self._tiers.add(row)
            self._count += len(rows)
            self._version += 1
        if scenarios is not None and self._scenarios is None:
            with self._reading:
                self._scenarios = scenarios

    def close_reads(self) -> None:
        """No more reads of the run's stats (its bus closes): waits for one in progress."""
        with self._reading:
            self._scenarios = None

    def finish(self, page: Page) -> None:
        with self._lock:
            self._final = page
            self._stop_asked = False  # too late: the run is over
            self._version += 1

    def stop_asked(self) -> bool:
        """Whether a browser asked to stop the run since the last call (once per ask)."""
        with self._lock:
            asked, self._stop_asked = self._stop_asked, False
            return asked

    def notices(self) -> list[str]:
        """The web thread's lines for the run's console, each said once."""
        with self._lock:
            lines, self._notices = self._notices, []
            return lines

    # -- the web thread's side -------------------------------------------------------------

    def view(self) -> View:
        with self._lock:
            return View(
                self._version,
                self._started_at,
                self._snapshot,
                self._taken_at,
                self._count,
                self._final,
            )

    def complete(self, snapshot: Snapshot) -> Snapshot:
        """``snapshot`` with its scenarios' histograms, read now if it lacks them (a local
        run's tick reads the run-wide ones only; the page's scenario table needs them)."""
        if snapshot.scenario_histograms:
            return snapshot
        with self._reading:
            if self._scenarios is None:
                return snapshot  # the run is over: its final page comes next
            return replace(snapshot, scenarios=self._scenarios())

    def history(self) -> tuple[list[Second], int]:
        """Every row so far, the older joined as the report's series joins them (see
        :class:`~molotov.stats.series.Tiers`), and how many seconds were handed over: the
        rows from that index on come from :meth:`rows`."""
        with self._lock:
            return self._tiers.rows, self._count

    def rows(self, start: int, end: int) -> list[Second]:
        """The seconds handed over from index ``start`` to ``end`` (``LookupError`` if some
        were joined since: only the last ten minutes or so are kept a second at a time)."""
        with self._lock:
            recent = self._tiers.recent
            first = self._count - len(recent)  # the index of the oldest second kept
            if start < first:
                raise LookupError(f"rows {start}..{first} are joined")
            return recent[start - first : end - first]

    def ask_stop(self) -> bool:
        """A browser's Stop; False once the run is over."""
        with self._lock:
            if self._final is not None:
                return False
            self._stop_asked = True
            return True

    def notice(self, line: str) -> None:
        with self._lock:
            self._notices.append(line)
