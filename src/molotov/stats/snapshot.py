"""The immutable view of a run's counters that the console, StatsD and the report consume.

The parent builds one from the stats bus at each tick; two snapshots give rates by difference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from functools import cached_property
from operator import attrgetter

from molotov.stats.histogram import Histogram


class ErrorKind(IntEnum):
    """What went wrong: a transport error of a request, or the part of a run that raised."""

    SCENARIO = 1
    CONNECTION = 2
    SETUP = 3
    SESSION_SETUP = 4
    TEARDOWN = 5
    EVENT = 6
    PICKER = 7
    WORKER = 8
    REFUSED = 9
    RESET = 10
    TIMEOUT = 11
    DNS = 12
    TLS = 13
    PROTOCOL = 14  # the response was not valid HTTP
    DESCRIPTORS = 15  # the process ran out of file descriptors (EMFILE)
    CUT = 16  # a step still running when the stop's --graceful-stop ran out: cancelled

    @property
    def label(self) -> str:
        return _LABELS.get(self, self.name.lower().replace("_", " "))


_LABELS = {
    ErrorKind.CONNECTION: "connection error",
    ErrorKind.REFUSED: "connection refused",
    ErrorKind.RESET: "connection reset",
    ErrorKind.DNS: "dns error",
    ErrorKind.TLS: "tls error",
    ErrorKind.WORKER: "worker process",
    ErrorKind.PROTOCOL: "protocol error",
    ErrorKind.DESCRIPTORS: "too many open files",
    ErrorKind.CUT: "cut off at the stop",
}

# The kinds a request itself can fail with, in the order of the bus's request-error counters.
REQUEST_ERROR_KINDS = (
    ErrorKind.REFUSED,
    ErrorKind.RESET,
    ErrorKind.TIMEOUT,
    ErrorKind.DNS,
    ErrorKind.TLS,
    ErrorKind.CONNECTION,
    ErrorKind.PROTOCOL,
    ErrorKind.DESCRIPTORS,
)

STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx", "other")  # other: outside 100-599


@dataclass(frozen=True)
class ErrorStat:
    """One distinct error (same kind, message, scenario and request), with how often it
    happened. ``scenario`` is the name of the scenario whose step raised it (empty for a
    fixture or a pick); ``request`` the name of the request that raised it, if one did."""

    kind: ErrorKind
    message: str
    count: int
    traceback: str = ""
    scenario: str = ""
    request: str = ""

    def text(self) -> str:
        """What happened and where, without the count: ``login: POST /search answered 401
        Unauthorized``, ``login: GET /: connection refused (127.0.0.1:8080)``, ``login:
        AssertionError at loadtest.py:12``, ``setup (setup() failed: ...)``."""
        scenario_kind = self.kind is ErrorKind.SCENARIO
        if scenario_kind and not self.scenario:
            return f"{self.kind.label} ({self.message})"
        what = self.message if scenario_kind else f"{self.kind.label} ({self.message})"
        if self.request:
            answered = scenario_kind and self.message.startswith("answered ")
            what = f"{self.request} {what}" if answered else f"{self.request}: {what}"
        return f"{self.scenario}: {what}" if self.scenario else what

    def line(self) -> str:
        """:meth:`text` and the count: ``login: GET /: connection refused (...): 10``."""
        return f"{self.text()}: {self.count}"

    def key(self) -> tuple[ErrorKind, str, str, str]:
        """What tells two errors apart (their counts add when merged)."""
        return (self.kind, self.message, self.scenario, self.request)


_CLIENT_ERROR = 400


@dataclass(frozen=True)
class RequestStats:
    """What the requests of one name did (see :mod:`molotov.stats.naming`), summed.

    ``latency`` holds one value per response (its headers arrived), ``errors_by_kind`` one
    per request error: a request with no response, or a response whose body then broke (a
    response and an error both). So ``requests - errors <= latency.count <= requests``."""

    name: str
    requests: int = 0  # responses and request errors
    response_bytes: int = 0
    errors_by_kind: tuple[int, ...] = (0,) * len(REQUEST_ERROR_KINDS)
    status_codes: tuple[tuple[int, int], ...] = ()  # (code, responses), by code; 0: unlisted
    latency: Histogram | None = None  # None: not read in this (live) snapshot
    host: str = ""  # the host of the name's first request (StatsD's 2.x metric names)

    @property
    def errors(self) -> int:
        return sum(self.errors_by_kind)

    @property
    def failures(self) -> int:
        """Requests that failed at the HTTP level: 4xx and 5xx answers, and request errors."""
        bad = sum(n for code, n in self.status_codes if code >= _CLIENT_ERROR)
        return bad + self.errors

    @property
    def failure_rate(self) -> float:
        return min(1.0, self.failures / self.requests) if self.requests else 0.0

    def plus(self, other: RequestStats) -> RequestStats:
        """The same name's requests of two processes (or reports), as one."""
        codes = dict(self.status_codes)
        for code, count in other.status_codes:
            codes[code] = codes.get(code, 0) + count
        latency = None
        if self.latency is not None and other.latency is not None:
            latency = Histogram.merge([self.latency, other.latency])
        return RequestStats(
            self.name,
            requests=self.requests + other.requests,
            response_bytes=self.response_bytes + other.response_bytes,
            errors_by_kind=tuple(
                a + b for a, b in zip(self.errors_by_kind, other.errors_by_kind, strict=True)
            ),
            status_codes=tuple(sorted(codes.items())),
            latency=latency,
            host=self.host or other.host,
        )


@dataclass(frozen=True)
class CheckStats:
    """A named check (``molotov.check``) under one request name: how often it held."""

    name: str
    request: str  # the name of the last request before the check ("" if none)
    passes: int
    failures: int

    @property
    def count(self) -> int:
        return self.passes + self.failures


@dataclass(frozen=True)
class ScenarioStats:
    name: str
    successes: int
    failures: int
    durations: Histogram  # service times: from the call of the scenario to its return
    # The open model: from the instant the step was scheduled to its return (service time
    # plus the wait for a free worker); empty in the closed model.
    response_times: Histogram = field(default_factory=Histogram.empty)

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
    requests: int = 0
    statuses: tuple[int, ...] = (0,) * len(STATUS_CLASSES)  # responses by STATUS_CLASSES
    response_bytes: int = 0
    request_errors_by_kind: tuple[int, ...] = (0,) * len(REQUEST_ERROR_KINDS)
    request_latency: Histogram = field(default_factory=Histogram.empty)
    started: int = 0  # steps started
    dropped: int = 0  # open model: arrivals that never started
    waiting: int = 0  # open model: arrivals waiting for a free worker at this instant
    busy: int = 0  # open model: workers running a step at this instant
    # The open model: how late each step started after its scheduled instant.
    start_lateness: Histogram = field(default_factory=Histogram.empty)
    by_request: tuple[RequestStats, ...] = ()  # by name, see molotov.stats.naming
    checks: tuple[CheckStats, ...] = ()
    checks_passed: int = 0
    checks_failed: int = 0
    checks_dropped: int = 0  # checks counted in the totals but past the checks table's room
    retried: int = 0  # failed requests aiohttp sent again at once (each attempt a request)

    @property
    def checks_rate(self) -> float:
        """The share of checks that held (1.0 when there were none)."""
        total = self.checks_passed + self.checks_failed
        return self.checks_passed / total if total else 1.0

    def status_codes(self) -> dict[int, int]:
        """Responses by status code over every request name (0: codes a table had no room
        to list)."""
        codes: dict[int, int] = {}
        for stats in self.by_request:
            for code, count in stats.status_codes:
                codes[code] = codes.get(code, 0) + count
        return dict(sorted(codes.items()))

    def requests_by_traffic(self) -> list[RequestStats]:
        """The request names, busiest first (then by name)."""
        return list(self._by_traffic)

    @cached_property
    def _by_traffic(self) -> tuple[RequestStats, ...]:
        # Two sorts on C key functions (the second is stable, reversed or not): a live tick
        # ranks hundreds of names for the watch and again for the console.
        ranked = sorted(self.by_request, key=attrgetter("name"))
        ranked.sort(key=attrgetter("requests"), reverse=True)
        return tuple(ranked)

    @property
    def request_errors(self) -> int:
        return sum(self.request_errors_by_kind)

    @property
    def http_failures(self) -> int:
        """Requests that failed at the HTTP level: 4xx, 5xx, other statuses, request errors
        (k6's ``http_req_failed``). A step fails only if its scenario checks; this does not."""
        _, _, _, client, server, other = self.statuses
        return client + server + other + self.request_errors

    @property
    def http_failure_rate(self) -> float:
        return min(1.0, self.http_failures / self.requests) if self.requests else 0.0

    def status_classes(self) -> dict[str, int]:
        """``{"2xx": 30, "4xx": 10}``: the classes that were seen."""
        return {name: n for name, n in zip(STATUS_CLASSES, self.statuses, strict=True) if n}

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
        """Scenario durations (service times) of every scenario together."""
        return Histogram.merge([s.durations for s in self.scenarios])

    @cached_property
    def response_times(self) -> Histogram:
        """The open model's response times of every scenario together."""
        return Histogram.merge([s.response_times for s in self.scenarios])

    @cached_property
    def scenario_histograms(self) -> bool:
        """Whether the scenarios' histograms were read (False: a live tick's, see
        :meth:`without_scenario_histograms`)."""
        return True

    def without_scenario_histograms(
        self, durations: Histogram, response_times: Histogram
    ) -> Snapshot:
        """This snapshot as a live tick reads it: its scenarios' histograms left empty (not
        read: only a remote write, a dashboard and the final numbers need them), and the
        run's step durations and response times read whole from the bus instead of summed
        over hundreds of scenarios. Called once, by the bus, before anyone reads it: the
        values go where the properties cache theirs (``dataclasses.replace`` makes a snapshot
        whose totals are its scenarios' again: give it the scenarios read whole)."""
        self.__dict__.update(
            durations=durations, response_times=response_times, scenario_histograms=False
        )
        return self

    @property
    def arrivals(self) -> int:
        """The open model's arrivals so far: started, dropped or waiting."""
        return self.started + self.dropped + self.waiting

    def top_errors(self, limit: int | None = None) -> list[ErrorStat]:
        ranked = sorted(self.errors, key=lambda e: (-e.count, e.kind, e.message, e.scenario))
        return ranked if limit is None else ranked[:limit]
