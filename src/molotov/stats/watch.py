"""Which request names' latency histograms a live tick reads.

Reading a name's histogram costs the parent ~10-30 µs per process; a run may have hundreds of
names, and a tick needs only a few: the busiest ones (the live console's lines) and those with
a per-second series in the report. The final snapshot reads every name.

Series go to the first :data:`SERIES_NAMES` names seen, from their first request (a scenario
rarely has more, and then its first names are its main path); the :data:`TOP_NAMES` busiest
are read at every tick as well, for the console.
"""

from __future__ import annotations

from molotov.stats.snapshot import Snapshot

SERIES_NAMES = 20
TOP_NAMES = 5


class NameWatch:
    """The names a tick reads the latency of: give :meth:`wants` to ``StatsBus.snapshot``."""

    def __init__(self, series_names: int = SERIES_NAMES, top_names: int = TOP_NAMES) -> None:
        self.series: set[str] = set()
        self._top: set[str] = set()
        self._series_room = series_names
        self._top_count = top_names

    def wants(self, name: str) -> bool:
        """A read that closes a second of the series: the series' names (a name joins them
        the first time it is seen, while there is room) and the busiest."""
        if name in self.series:
            return True
        if len(self.series) < self._series_room:
            self.series.add(name)
            return True
        return name in self._top

    def top(self, name: str) -> bool:
        """Only the busiest names (a console redraw that is not also a series' second)."""
        return name in self._top

    def observe(self, snapshot: Snapshot) -> None:
        """The busiest names of this tick are read at the next."""
        self._top = {r.name for r in snapshot.requests_by_traffic()[: self._top_count]}
