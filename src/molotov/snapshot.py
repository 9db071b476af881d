"""The immutable view of a run's counters that the console, StatsD and the report consume.

The parent builds one from the stats bus at each tick; two snapshots give rates by difference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from functools import cached_property

from molotov.histogram import Histogram


class ErrorKind(IntEnum):
    """What raised: the part of a run an aggregated error came from."""

    SCENARIO = 1
    CONNECTION = 2
    SETUP = 3
    SESSION_SETUP = 4
    TEARDOWN = 5
    EVENT = 6
    PICKER = 7
    WORKER = 8

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", " ")


@dataclass(frozen=True)
class ErrorStat:
    """One distinct error (same kind and message), with how often it happened."""

    kind: ErrorKind
    message: str
    count: int
    traceback: str = ""


@dataclass(frozen=True)
class ScenarioStats:
    name: str
    successes: int
    failures: int
    durations: Histogram

    @property
    def steps(self) -> int:
        return self.successes + self.failures


@dataclass(frozen=True)
class Snapshot:
    """Totals over every worker process at one instant (``taken_at``, monotonic seconds)."""

    taken_at: float
    scenarios: tuple[ScenarioStats, ...]
    errors: tuple[ErrorStat, ...] = ()
    workers: int = 0
    workers_started: int = 0
    processes_running: int = 0
    pick_failures: int = 0
    connection_failures: int = 0
    setup_failures: int = 0
    session_setup_failures: int = 0
    errors_dropped: int = 0
    pids: tuple[int, ...] = field(default=())

    @property
    def successes(self) -> int:
        return sum(s.successes for s in self.scenarios)

    @property
    def failures(self) -> int:
        return sum(s.failures for s in self.scenarios) + self.pick_failures

    @property
    def steps(self) -> int:
        return self.successes + self.failures

    @cached_property
    def durations(self) -> Histogram:
        """Scenario durations of every scenario together."""
        return Histogram.merge([s.durations for s in self.scenarios])

    def top_errors(self, limit: int | None = None) -> list[ErrorStat]:
        ranked = sorted(self.errors, key=lambda e: (-e.count, e.kind, e.message))
        return ranked if limit is None else ranked[:limit]
