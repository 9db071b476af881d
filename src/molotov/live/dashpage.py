"""The dashboard's page while its run goes on: the HTML report's own parts, of the run so far.

The document is the one ``--report`` will write (:func:`molotov.reports.jsonreport.document`)
of the latest snapshot, without its series; the charts come from a
:class:`~molotov.reports.htmlreport.downsample.Downsampler` that takes each series row once,
as it comes (encoded as the report encodes it), so that drawing the page costs the same at
the first minute of a run and at its tenth hour, and a browser that comes at the tenth hour
waits for nothing. The rows go in as they come whether a browser looks or not
(:meth:`LivePage.advance`, a few hundred µs a row), at most :data:`CATCH_UP_ROWS` at a time.

When the run outgrows the charts' resolution (one point a second up to 25 minutes, then 2 s,
5 s, ...: a few times in a day), a sampler of the new resolution takes the run's rows from the
first, a slice at a time, while the current one goes on serving the page; it replaces it once
it has caught up. The feed keeps the rows as the report's series does (older ones joined, see
:class:`~molotov.stats.series.Tiers`), so that is what a new sampler takes: its charts are then
the final report's, and a day's run costs the dashboard a day's report, not 86,400 rows.

Runs in the dashboard's web thread only.
"""

from __future__ import annotations

from molotov.live.dashfeed import LiveFeed, View
from molotov.reports import htmlreport, jsonreport
from molotov.reports.htmlreport import Page, charts
from molotov.reports.htmlreport.downsample import Downsampled, Downsampler, resolution
from molotov.reports.htmlreport.sections import RUNNING
from molotov.reports.jsonreport import RunReport
from molotov.stats.series import WIDTHS, Second
from molotov.stats.snapshot import Snapshot

NOTHING_YET = Snapshot(taken_at=0.0, scenarios=())
CATCH_UP_ROWS = 200  # rows a sampler takes in one go (a busy row takes up to ~1 ms)


class _Sampling:
    """A sampler of the run's rows: the feed's history when it began (``backlog``, older rows
    joined), then the seconds handed over from index ``taken`` on."""

    def __init__(self, feed: LiveFeed, k: int) -> None:
        self.backlog, self.taken = feed.history()
        self.first = self.backlog[0].t if self.backlog else 0
        # names=None: every name the rows have the latency of (the series' names: at most
        # 20, see molotov.stats.watch); the page charts the busiest of them.
        self.sampler = Downsampler(self.first, k, "request_latency", names=None)

    def take(self, rows: list[Second]) -> None:
        for row in rows:
            self.sampler.add(jsonreport.row_json(row))


class LivePage:
    """The parts of the live page, from what the run handed over to ``feed``."""

    def __init__(self, feed: LiveFeed) -> None:
        self.feed = feed
        self._current: _Sampling | None = None
        self._next: _Sampling | None = None  # the same rows at a coarser resolution

    def advance(self, rows: int, rebuild: bool = True) -> bool:
        """Let the samplers take up to :data:`CATCH_UP_ROWS` of the run's first ``rows`` rows
        they have not taken (``rebuild``: the one of a coarser resolution too); whether they
        have taken them all."""
        if rows == 0:
            return True
        if self._current is None:
            self._current = _Sampling(self.feed, 1)
        last = self.feed.rows(rows - 1, rows)[0].t
        # A k that fits every width the feed's rows may have (see molotov.stats.series).
        k = resolution(last - self._current.first + 1, widths=WIDTHS)
        if self._current.sampler.k != k and (self._next is None or self._next.sampler.k != k):
            self._next = _Sampling(self.feed, k)
        self._current = self._take(self._current, rows)
        if self._next is not None and rebuild:
            self._next = self._take(self._next, rows)
            if not self._next.backlog and self._next.taken >= rows:
                self._current, self._next = self._next, None
        current = self._current
        return not current.backlog and current.taken >= rows and self._next is None

    def _take(self, sampling: _Sampling, rows: int) -> _Sampling:
        """``sampling`` after it took a slice of the rows (a new one, from the feed's history,
        if the seconds it had yet to take were joined since)."""
        if sampling.backlog:
            sampling.take(sampling.backlog[:CATCH_UP_ROWS])
            del sampling.backlog[:CATCH_UP_ROWS]
            return sampling
        if sampling.taken >= rows:  # its history had them (handed over since ``rows``)
            return sampling
        end = min(rows, sampling.taken + CATCH_UP_ROWS)
        try:
            sampling.take(self.feed.rows(sampling.taken, end))
        except LookupError:  # it fell ten minutes behind: a bug, but the charts go on
            return _Sampling(self.feed, sampling.sampler.k)
        sampling.taken = end
        return sampling

    def parts(self, view: View) -> Page:
        """The page of the run so far (its final report's, once there is one)."""
        if view.final is not None:
            return view.final
        self.advance(view.rows, rebuild=False)  # a second's row or two, as a rule
        report = RunReport(
            snapshot=self.feed.complete(view.snapshot) if view.snapshot else NOTHING_YET,
            started_at=view.started_at,
            ended_at=view.taken_at,
            duration=max(0.0, view.taken_at - view.started_at),
            options=self.feed.options,
            stop_reason=RUNNING,
        )
        doc = jsonreport.document(report)
        if self._current is None:
            return htmlreport.parts(doc, None, Downsampled(1, []))
        sampler = self._current.sampler
        # The busiest names the series has, as the final report picks them.
        return htmlreport.parts(doc, None, sampler.result(charts.request_names(doc, sampler.names)))
