"""The dashboard's page while its run goes on: the HTML report's own parts, of the run so far.

The document is the one ``--report`` will write (:func:`molotov.reports.jsonreport.document`)
of the latest snapshot, without its series; the charts come from a
:class:`~molotov.reports.htmlreport.downsample.Downsampler` that takes each series row once,
as it comes (encoded as the report encodes it), so that drawing the page costs the same at
the first minute of a run and at its tenth hour. The sampler is made anew only when the run
outgrows its resolution (one point a second up to 25 minutes, then 2 s, 5 s, ...: a few
times in a day).

Runs in the dashboard's web thread only.
"""

from __future__ import annotations

from molotov.live.dashfeed import LiveFeed, View
from molotov.reports import htmlreport, jsonreport
from molotov.reports.htmlreport import Page, charts
from molotov.reports.htmlreport.downsample import Downsampled, Downsampler, resolution
from molotov.reports.htmlreport.sections import RUNNING
from molotov.reports.jsonreport import RunReport
from molotov.stats.snapshot import Snapshot

NOTHING_YET = Snapshot(taken_at=0.0, scenarios=())


class LivePage:
    """The parts of the live page, from what the run handed over to ``feed``."""

    def __init__(self, feed: LiveFeed) -> None:
        self.feed = feed
        self._sampler: Downsampler | None = None
        self._first = 0  # the first row's second
        self._fed = 0  # rows the sampler has

    def parts(self, view: View) -> Page:
        """The page of the run so far (its final report's, once there is one)."""
        if view.final is not None:
            return view.final
        sampler = self._sample(view.rows)
        report = RunReport(
            snapshot=view.snapshot or NOTHING_YET,
            started_at=view.started_at,
            ended_at=view.taken_at,
            duration=max(0.0, view.taken_at - view.started_at),
            options=self.feed.options,
            stop_reason=RUNNING,
        )
        doc = jsonreport.document(report)
        if sampler is None:
            return htmlreport.parts(doc, None, Downsampled(1, []))
        # The busiest names the series has, as the final report picks them.
        return htmlreport.parts(doc, None, sampler.result(charts.request_names(doc, sampler.names)))

    def _sample(self, rows: int) -> Downsampler | None:
        """The sampler of the series so far (None: no row yet): the rows it has not seen go
        in, into a new one when the run outgrew the resolution of the one it had."""
        if rows == 0:
            return None
        if self._sampler is None:
            self._first = self.feed.rows(0, 1)[0].t
        last = self.feed.rows(rows - 1, rows)[0].t
        k = resolution(last - self._first + 1)
        if self._sampler is None or self._sampler.k != k:
            # names=None: every name the rows have the latency of (the series' names: at most
            # 20, see molotov.stats.watch).
            self._sampler = Downsampler(self._first, k, "request_latency", names=None)
            self._fed = 0
        for row in self.feed.rows(self._fed, rows):
            self._sampler.add(jsonreport.row_json(row))
        self._fed = rows
        return self._sampler
