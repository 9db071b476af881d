"""The tick fan-out: each snapshot the parent reads goes to the series, StatsD, Prometheus
remote write, the console and the dashboard.

The series recorder gets every tick (at least two a second); StatsD every
``--statsd-interval``, Prometheus every ``--prometheus-rw-interval`` and the console every
``--console-update`` seconds; the dashboard (``--dashboard``) each tick that closes a second
of the series, with the rows it closed. At the end, they get the final numbers and the series
its last, partial second (the dashboard gets the final report from the conductor).

A tick's snapshot holds every request name's counters; the latency of the names a
:class:`~molotov.stats.watch.NameWatch` picks (the series' and the busiest) only at the ticks
that use it (one that closes a second of the series, or redraws the console); a StatsD flush
reads every name's, since it sends each name's timings. Likewise every scenario's counts, but
no scenario's histograms: the series and the console use the run-wide step durations, which
the bus keeps whole, and the remote write's and the dashboard's threads read the scenarios'
when they send or draw a page (until the run closes the bus). A remote write needs them too, but
its sending thread reads them from the bus itself: the tick only hands the snapshot over.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from molotov.config.runconfig import RunConfig
from molotov.config.shape import LoadShape
from molotov.live.console import Console
from molotov.live.dashboard import Dashboard
from molotov.live.prometheus import remote_writer
from molotov.live.statsd import StatsdEmitter
from molotov.run.handshake import Start
from molotov.stats.bus import StatsBus
from molotov.stats.series import Second, SeriesRecorder
from molotov.stats.snapshot import Snapshot
from molotov.stats.watch import NameWatch


def _no_name(name: str) -> bool:
    return False


class TickFanout:
    """Hands each tick's snapshot to the series recorder, the StatsD emitter, the remote
    writer, the console and the dashboard."""

    def __init__(
        self,
        config: RunConfig,
        bus: StatsBus,
        console: Console,
        target: LoadShape | None,
        dashboard: Dashboard | None = None,
    ) -> None:
        self.config = config
        self.dashboard = dashboard
        self.bus = bus
        self.console = console
        self.target = target  # what the stages or the rate ask for (None: nothing asked)
        self.statsd: StatsdEmitter | None = None
        if config.statsd:
            self.statsd = StatsdEmitter(
                config.statsd_address,
                config.statsd_prefix,
                config.generator_index,
                console.print,
            )
        self.prometheus = remote_writer(config, console.print)
        self.watch = NameWatch()
        self._wall = 0.0  # time.time() of the last read: its tick's second in the series
        self._start: Start | None = None
        self._series: SeriesRecorder | None = None
        self._next_console = 0.0
        self._console_waited = False  # a redraw put off by a tick that closed a second
        self._next_flush = 0.0

    def begin(self, start: Start) -> None:
        self._start = start
        self._series = SeriesRecorder(
            self.bus.snapshot(self.watch.wants), start.wall, self._target_at, self.watch.series
        )
        self._next_flush = start.monotonic + self.config.statsd_interval
        if self.prometheus is not None:
            self.prometheus.begin(start.monotonic)
        if self.dashboard is not None:
            self.dashboard.begin(start.wall)

    def read(self, now: float) -> Snapshot:
        """This tick's snapshot: every name's latency when StatsD flushes now, the watched
        names' when the series closes a second, the busiest names' when a console that shows
        them redraws, else none; never the scenarios' histograms (the run-wide ones serve the
        series and the console)."""
        self._wall = time.time()
        series = self._series
        closes = series is not None and series.closes(self._wall)
        latency_of: Callable[[str], bool] | None = _no_name
        if self.statsd is not None and now >= self._next_flush:
            latency_of = None
        elif closes:
            latency_of = self.watch.wants
        elif now >= self._next_console and self.console.SHOWS_REQUESTS:
            latency_of = self.watch.top
        snapshot = self.bus.snapshot(latency_of, scenarios=False)
        self.watch.observe(snapshot)
        return snapshot

    def _target_at(self, wall: float) -> float | None:
        """What the stages or the rate ask for at a wall-clock time (None: nothing asked)."""
        if self.target is None or self._start is None:
            return None
        # A cluster agent's share of what the whole cluster is asked for.
        return self.target.value_at(wall - self._start.wall) / self.config.agent_count

    def tick(self, snapshot: Snapshot, now: float) -> None:
        """One look at the bus, ``now`` on the monotonic clock (after :meth:`begin`)."""
        start, series = self._start, self._series
        assert start is not None and series is not None
        closed = series.update(snapshot, self._wall)
        if self.dashboard is not None and closed is not None:
            # A second closed: its snapshot read the series' names' latency.
            self.dashboard.update(snapshot, (closed,), self._wall, self.bus.read_scenarios)
        if self.statsd is not None and now >= self._next_flush:
            self._next_flush = now + self.config.statsd_interval
            self.statsd.flush(snapshot, self._target_at(time.time()))
        if self.prometheus is not None and self.prometheus.due(now):
            target = self._target_at(time.time())
            self.prometheus.push(
                snapshot, target, now, self.bus.read_requests, self.bus.read_scenarios
            )
        if now < self._next_console:
            return
        if closed is not None and not self._console_waited:
            # This tick read the series' names and cut their row: the redraw waits for the
            # next tick (one console update late at most), so that no tick does both.
            self._console_waited = True
            return
        self._console_waited = False
        self._next_console = now + self.config.console_update
        remaining = max(0.0, start.deadline - now) if start.deadline is not None else None
        target = self._target_at(time.time())
        self.console.update(snapshot, now - start.monotonic, remaining, target)

    def stop_asked(self) -> bool:
        """Whether the dashboard's Stop button was pressed (said on the console)."""
        return self.dashboard is not None and self.dashboard.stop_asked(self.console.print)

    def finish(self, snapshot: Snapshot, elapsed: float) -> list[Second]:
        """The final numbers to the console, StatsD and Prometheus; the series' rows (none if
        never begun)."""
        self.console.update(snapshot, elapsed, None, None)
        if self.statsd is not None:
            self.statsd.flush(snapshot, None)
        if self.prometheus is not None:
            self.prometheus.close(snapshot)
        # Names first seen since the last second closed join the series now, if there is room
        # (a run shorter than a second has all its names here).
        for stats in snapshot.requests_by_traffic():
            self.watch.wants(stats.name)
        return self._series.finish(snapshot) if self._series is not None else []
