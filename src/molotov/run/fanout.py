"""The tick fan-out: each snapshot the parent reads goes to the series, StatsD and the console.

The series recorder gets every tick (at least two a second); StatsD every
``--statsd-interval`` and the console every ``--console-update`` seconds. At the end, both get
the final numbers and the series its last, partial second.
"""

from __future__ import annotations

import time

from molotov.config.runconfig import RunConfig
from molotov.config.shape import LoadShape
from molotov.live.console import Console
from molotov.live.statsd import StatsdEmitter
from molotov.run.handshake import Start
from molotov.stats.bus import StatsBus
from molotov.stats.endpoints import EndpointReader
from molotov.stats.series import Second, SeriesRecorder
from molotov.stats.snapshot import Snapshot


class TickFanout:
    """Hands each tick's snapshot to the series recorder, the StatsD emitter and the console."""

    def __init__(
        self, config: RunConfig, bus: StatsBus, console: Console, target: LoadShape | None
    ) -> None:
        self.config = config
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
        self._endpoints = EndpointReader()
        self._start: Start | None = None
        self._series: SeriesRecorder | None = None
        self._next_console = 0.0
        self._next_flush = 0.0

    def begin(self, start: Start) -> None:
        self._start = start
        self._series = SeriesRecorder(self.bus.snapshot(), start.wall, self._target_at)
        self._next_flush = start.monotonic + self.config.statsd_interval

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
        series.update(snapshot, time.time())
        if self.statsd is not None and now >= self._next_flush:
            self._next_flush = now + self.config.statsd_interval
            endpoints = self.bus.read_endpoints(self._endpoints)
            self.statsd.flush(snapshot, endpoints, self._target_at(time.time()))
        if now >= self._next_console:
            self._next_console = now + self.config.console_update
            remaining = max(0.0, start.deadline - now) if start.deadline is not None else None
            target = self._target_at(time.time())
            self.console.update(snapshot, now - start.monotonic, remaining, target)

    def finish(self, snapshot: Snapshot, elapsed: float) -> list[Second]:
        """The final numbers to the console and StatsD; the series' rows (none if never begun)."""
        self.console.update(snapshot, elapsed, None, None)
        if self.statsd is not None:
            self.statsd.flush(snapshot, self.bus.read_endpoints(self._endpoints), None)
        return self._series.finish(snapshot) if self._series is not None else []
