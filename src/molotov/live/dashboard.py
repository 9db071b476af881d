"""``--dashboard [HOST:]PORT``: the run's HTML report page, served and updated while it runs.

A consumer of the snapshots the parent reads, as the console and StatsD are: a local run's
tick fan-out (:mod:`molotov.run.fanout`) hands it each second's snapshot and the series rows
it closed; a cluster coordinator, the merged snapshot of its agents each poll, whose rows are
cut here. Either way the page is the one ``--html`` writes (:mod:`molotov.reports.htmlreport`),
rendered from the run so far, and at the end the final report's page itself. The web server
runs in a thread of its own (:mod:`.dashserver`); the run's loop only hands references over
(:mod:`.dashfeed`) and never waits for it.

On loopback (127.0.0.1 by default) the dashboard is this machine's; any other address needs
``--dashboard-public``, which asks for a random token, part of the URL printed at the start,
in every request (on any address, loopback too: behind a tunnel or a proxy, say). The Stop
button posts the page's token; the run's loop takes the ask at its next look
(:meth:`Dashboard.stop_asked`) and stops as on Ctrl-C.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import socket
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from molotov.config.parsers import parse_dashboard
from molotov.config.runconfig import RunConfig
from molotov.config.shape import LoadShape
from molotov.live.dashfeed import LiveFeed, ScenariosReader
from molotov.live.dashserver import Access, DashServer
from molotov.reports import htmlreport
from molotov.stats.series import Second, SeriesRecorder
from molotov.stats.snapshot import Snapshot
from molotov.stats.watch import NameWatch

ANY_ADDRESS = ("0.0.0.0", "::", "")
NOTHING = Snapshot(taken_at=0.0, scenarios=())


class DashboardError(Exception):
    """The dashboard cannot listen where it was asked to (one line)."""


def _url(host: str, port: int, token: str | None) -> str:
    shown = socket.gethostname() if host in ANY_ADDRESS else host
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")


class Dashboard:
    """The run's side of the dashboard: what its loops call."""

    def __init__(self, feed: LiveFeed, server: DashServer, url: str) -> None:
        self.feed = feed
        self.url = url
        self._server = server
        self._recorder: SeriesRecorder | None = None
        self._watch = NameWatch()
        self._started_at = 0.0
        self._target: LoadShape | None = None
        self.finished = False

    @classmethod
    def open(cls, config: RunConfig, options: dict[str, Any] | None = None) -> Dashboard:
        """Listen at ``config.dashboard`` (checked by :meth:`RunConfig.check_dashboard`);
        ``options``: the run's options as its report says them (default: ``config``'s)."""
        assert config.dashboard is not None
        host, port = parse_dashboard(config.dashboard)
        public = config.dashboard_public  # on any address: the token is needed
        token = secrets.token_urlsafe(18)
        feed = LiveFeed(dataclasses.asdict(config) if options is None else options)
        server = DashServer(feed, host, port, Access(token, public))
        try:
            port = server.start()
        except OSError as exc:  # asyncio words it "error while attempting to bind on ..."
            why = os.strerror(exc.errno) if exc.errno else str(exc)
            raise DashboardError(
                f"--dashboard {config.dashboard!r}: cannot listen there: {why}"
            ) from None
        return cls(feed, server, _url(host, port, token if public else None))

    # -- during the run --------------------------------------------------------------------

    def begin(self, started_at: float, target: LoadShape | None = None) -> None:
        """The run starts at ``started_at`` (epoch seconds); ``target``: what the rate or the
        stages ask for (for the rows cut by :meth:`update_totals`)."""
        self._started_at, self._target = started_at, target
        self.feed.begin(started_at)

    def _target_at(self, wall: float) -> float | None:
        return None if self._target is None else self._target.value_at(wall - self._started_at)

    def update(
        self,
        snapshot: Snapshot,
        rows: Sequence[Second],
        taken_at: float,
        scenarios: ScenariosReader | None = None,
    ) -> None:
        """A local run's tick: its snapshot (read at ``taken_at``, epoch seconds), the series
        rows closed since the last update (references: nothing is copied), and what reads
        the scenarios' histograms the tick left out, when a page is drawn (in the web
        thread, until :meth:`close_reads`)."""
        self.feed.update(snapshot, rows, taken_at, scenarios)

    def close_reads(self) -> None:
        """The run's stats are about to go away: no more reads of them."""
        self.feed.close_reads()

    def update_totals(self, snapshot: Snapshot, taken_at: float) -> None:
        """A cluster coordinator's poll (after :meth:`begin`): its agents' merged snapshot,
        whose series rows are cut here (the first 20 request names get theirs, as in a local
        run)."""
        for stats in snapshot.by_request:
            self._watch.wants(stats.name)
        if self._recorder is None:
            self._recorder = SeriesRecorder(
                NOTHING, self._started_at, self._target_at, self._watch.series
            )
        closed = self._recorder.update(snapshot, taken_at)
        self.feed.update(snapshot, () if closed is None else (closed,), taken_at)

    def stop_asked(self, say: Callable[[str], None]) -> bool:
        """Whether the Stop button was pressed since the last call; first, its lines for the
        run's console (Stop pressed, a browser disconnected, ...) to ``say``, each once."""
        for line in self.feed.notices():
            say(line)
        return self.feed.stop_asked()

    # -- at the end ------------------------------------------------------------------------

    def finish(self, doc: Mapping[str, Any], exit_code: int) -> None:
        """The run's report document and exit code: the page becomes the final report's,
        the one ``--html`` writes of them."""
        self.feed.finish(htmlreport.parts(doc, exit_code))
        self.finished = True
        self._server.publish()

    def close(self) -> None:
        """Stop serving, once the browsers got the final report (a few seconds at most)."""
        self._server.close()
