"""A snapshot as Prometheus series: names, labels, and histograms with a bounded set of bounds.

Every number is the run's cumulative total (counters), or its value now (gauges), so a send
that is lost costs nothing but its resolution: the next one carries everything. What a
snapshot becomes (all with the labels ``run_id`` and ``index``, the load generator's):

* ``molotov_steps_total{scenario, result="success"|"failure"}``;
* ``molotov_requests_total{request, status, class}``: requests by name and status code
  (``status="200"``, ``class="2xx"``); requests that got no answer have ``status="error"``
  (``class="error"``), and their kinds are ``molotov_request_errors_total{request, kind}``;
  ``status="other"``: codes past the 16 a name's table lists, or outside 100-599;
* ``molotov_dropped_arrivals_total`` (the open model);
* gauges: ``molotov_workers``, and what the run asks for now: ``molotov_target_workers``
  (closed-model stages) or ``molotov_target_arrivals_per_second`` (the open model);
* classic histograms (``_bucket{le}``, ``_sum``, ``_count``, in seconds):
  ``molotov_step_duration_seconds{scenario}``, ``molotov_request_latency_seconds{request}``
  and, in the open model, ``molotov_response_time_seconds{scenario}`` (from the instant an
  arrival was due).

Histogram bounds: molotov's log-linear buckets (:mod:`molotov.stats.histogram`) coarsened to
:data:`BOUNDS`, the bucket edges nearest a 1-2.5-5 series from 100 µs to 60 s (``le="0.09984"``
for 100 ms): a coarse bucket is a sum of whole fine buckets, so its count is exact.

Request names: the first :data:`REQUEST_LABELS` names seen (the busiest first when more come
at once) keep their own ``request`` label for the whole run; the others, and the bus's own
``other`` row, are summed as ``request="other"``. The chosen names never change, so no
counter moves from one label to another (which Prometheus would read as a reset).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from molotov.live.promwire import COUNTER, GAUGE, HISTOGRAM
from molotov.live.statsd import ERROR_NAMES
from molotov.stats.histogram import Histogram, bucket_bounds, bucket_of
from molotov.stats.naming import OTHER
from molotov.stats.snapshot import REQUEST_ERROR_KINDS, RequestStats, Snapshot

REQUEST_LABELS = 20
_WANTED_US = (
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000, 30_000_000, 60_000_000,
)  # fmt: skip


def _edge(us: int) -> int:
    """The fine bucket index whose bottom edge is nearest ``us``."""
    index = bucket_of(us)
    low = bucket_bounds(index)[0]
    return index if us - low <= bucket_bounds(index + 1)[0] - us else index + 1


# Each coarse bound: the first fine bucket above it (values below its bottom edge are <= it).
_CUTS = tuple(_edge(us) for us in _WANTED_US)
BOUNDS = tuple(str(bucket_bounds(cut)[0] / 1e6) for cut in _CUTS)  # the ``le`` labels
_LE = (*BOUNDS, "+Inf")

Labels = tuple[tuple[str, str], ...]
Series = tuple[Labels, float]

# (family, type, help) of every family, for the WriteRequest's metadata.
FAMILIES = (
    ("molotov_steps_total", COUNTER, "Steps run, by scenario and result."),
    ("molotov_requests_total", COUNTER, "Requests, by name and status code."),
    ("molotov_request_errors_total", COUNTER, "Requests that got no answer, by kind."),
    ("molotov_dropped_arrivals_total", COUNTER, "Open model: arrivals never started."),
    ("molotov_workers", GAUGE, "Workers running."),
    ("molotov_target_workers", GAUGE, "Workers the stages ask for now."),
    ("molotov_target_arrivals_per_second", GAUGE, "Arrivals per second asked for now."),
    ("molotov_step_duration_seconds", HISTOGRAM, "Step durations (service times)."),
    ("molotov_request_latency_seconds", HISTOGRAM, "Request latency, to the headers."),
    ("molotov_response_time_seconds", HISTOGRAM, "Open model: from due instant to the end."),
)


@dataclass
class Coarse:
    """A histogram on :data:`BOUNDS`: cumulative counts (``+Inf`` last), sum and count."""

    cumulative: list[int] = field(default_factory=lambda: [0] * len(_LE))
    sum_seconds: float = 0.0

    @classmethod
    def of(cls, histogram: Histogram) -> Coarse:
        buckets = histogram.buckets
        cumulative, total, low = [], 0, 0
        for cut in _CUTS:
            total += sum(buckets[low:cut])
            cumulative.append(total)
            low = cut
        cumulative.append(histogram.count)
        return cls(cumulative, histogram.total_us / 1e6)

    def add(self, other: Coarse) -> None:
        self.cumulative = [a + b for a, b in zip(self.cumulative, other.cumulative, strict=True)]
        self.sum_seconds += other.sum_seconds


class RequestLabels:
    """Which request names keep a label of their own (see the module's docstring)."""

    def __init__(self, limit: int = REQUEST_LABELS) -> None:
        self.limit = limit
        self.chosen: set[str] = set()

    def choose(self, by_traffic: Sequence[RequestStats]) -> None:
        """Give labels to new names while there is room; ``by_traffic``: busiest first."""
        for stats in by_traffic:
            if len(self.chosen) >= self.limit:
                return
            if stats.name != OTHER:
                self.chosen.add(stats.name)

    def of(self, name: str) -> str:
        return name if name in self.chosen else OTHER


@dataclass(frozen=True)
class Context:
    """What every series of one send carries, and what the run asks for now."""

    common: Labels  # run_id and index
    open_model: bool
    target: float | None = None


def _series(name: str, context: Context, value: float, **labels: str) -> Series:
    pairs = sorted((*context.common, *labels.items()))
    return ((("__name__", name), *pairs), float(value))


def _histogram(name: str, context: Context, coarse: Coarse, **labels: str) -> Iterator[Series]:
    # The labels sorted once, ``le`` put in its place: most series of a send are buckets.
    pairs = sorted((*context.common, *labels.items()))
    at = bisect.bisect(pairs, ("le",))
    before, after = tuple(pairs[:at]), tuple(pairs[at:])
    bucket = ("__name__", f"{name}_bucket")
    for le, count in zip(_LE, coarse.cumulative, strict=True):
        yield ((bucket, *before, ("le", le), *after), float(count))
    yield _series(f"{name}_sum", context, coarse.sum_seconds, **labels)
    yield _series(f"{name}_count", context, coarse.cumulative[-1], **labels)


def _status(code: int) -> tuple[str, str]:
    """(status, class) labels of a status code (0: codes the table had no room for)."""
    if 100 <= code <= 599:
        return str(code), f"{code // 100}xx"
    return OTHER, OTHER


def snapshot_series(snapshot: Snapshot, context: Context, names: RequestLabels) -> list[Series]:
    """Every series of a snapshot, read with every request name's latency."""
    out: list[Series] = []
    for scenario in snapshot.scenarios:
        for result, count in (("success", scenario.successes), ("failure", scenario.failures)):
            out.append(
                _series(
                    "molotov_steps_total", context, count, scenario=scenario.name, result=result
                )
            )
        durations = Coarse.of(scenario.durations)
        out.extend(
            _histogram("molotov_step_duration_seconds", context, durations, scenario=scenario.name)
        )
        if context.open_model:
            times = Coarse.of(scenario.response_times)
            out.extend(
                _histogram("molotov_response_time_seconds", context, times, scenario=scenario.name)
            )
    out.extend(_request_series(snapshot, context, names))
    out.append(_series("molotov_workers", context, snapshot.workers))
    if context.open_model:
        out.append(_series("molotov_dropped_arrivals_total", context, snapshot.dropped))
    if context.target is not None:
        name = "arrivals_per_second" if context.open_model else "workers"
        out.append(_series(f"molotov_target_{name}", context, context.target))
    return out


def _request_series(snapshot: Snapshot, context: Context, names: RequestLabels) -> Iterator[Series]:
    """Requests by (label, status), errors by (label, kind), latency by label."""
    names.choose(snapshot.requests_by_traffic())
    statuses: dict[tuple[str, str, str], int] = {}
    errors: dict[tuple[str, str], int] = {}
    latency: dict[str, Coarse] = {}
    for stats in snapshot.by_request:
        label = names.of(stats.name)
        for code, count in stats.status_codes:
            key = (label, *_status(code))
            statuses[key] = statuses.get(key, 0) + count
        if stats.errors:
            key = (label, "error", "error")
            statuses[key] = statuses.get(key, 0) + stats.errors
        for error, count in zip(REQUEST_ERROR_KINDS, stats.errors_by_kind, strict=True):
            if count:
                pair = (label, ERROR_NAMES[error])
                errors[pair] = errors.get(pair, 0) + count
        if stats.latency is not None:
            latency.setdefault(label, Coarse()).add(Coarse.of(stats.latency))
    for (label, status, status_class), count in sorted(statuses.items()):
        yield _series(
            "molotov_requests_total",
            context,
            count,
            request=label,
            status=status,
            **{"class": status_class},
        )
    for (label, kind), count in sorted(errors.items()):
        yield _series("molotov_request_errors_total", context, count, request=label, kind=kind)
    for label, coarse in sorted(latency.items()):
        yield from _histogram("molotov_request_latency_seconds", context, coarse, request=label)
