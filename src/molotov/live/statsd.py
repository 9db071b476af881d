"""StatsD: the parent's emitter of run metrics.

The emitter runs in the parent only, every ``--statsd-interval`` seconds, from bus deltas, in
one pipeline (a few packets) per flush, never a packet per request:

* ``<prefix>.scenario.<name>.success`` / ``.failure``, ``<prefix>.requests``,
  ``<prefix>.status.<N>xx``, ``<prefix>.errors.<kind>``: counters, summed per flush;
* ``<prefix>.workers``: a gauge; ``<prefix>.latency.p50`` / ``.p95`` / ``.p99``: gauges of the
  request latency in the interval, in ms;
* the open model: ``<prefix>.dropped`` (a counter), ``<prefix>.response.p50`` / ``.p95`` /
  ``.p99`` (gauges of the steps' response times in the interval, ms), ``<prefix>.target``
  (a gauge: the arrival rate asked for; with closed-model stages, the workers asked for);
* Molotov-compatible per-request names ``molotov.<hostname>.<METHOD>.<urlhost>.<urlpath>``
  (:func:`molotov.stats.naming.statsd_name`, from the per-request table, with dynamic path
  segments grouped): a counter per status (``….200:17|c``) and timings: every latency of the
  interval when there were at most :data:`SAMPLES_PER_FLUSH`, else that many evenly spaced
  quantiles of the interval's histogram, with ``|@rate`` telling the server how many requests
  they stand for (so its counts are exact).

A StatsD server that cannot be reached or resolved never fails or slows the run: one warning,
then the emitter (or a scenario's client) goes quiet. The client scenarios get in their
context is the worker's (:mod:`molotov.worker.statsd_client`, whose ``connect`` this uses too);
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from molotov.config.parsers import expand_placeholders
from molotov.stats.histogram import Histogram, bucket_bounds, percentiles_us
from molotov.stats.naming import statsd_name
from molotov.stats.snapshot import REQUEST_ERROR_KINDS, STATUS_CLASSES, RequestStats, Snapshot
from molotov.worker.statsd_client import connect

SAMPLES_PER_FLUSH = 20
_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]+")
ERROR_NAMES = {
    kind: name
    for kind, name in zip(
        REQUEST_ERROR_KINDS,
        ("refused", "reset", "timeout", "dns", "tls", "connection", "protocol", "descriptors"),
        strict=True,
    )
}


def _metric(name: str) -> str:
    return _UNSAFE.sub("_", name).strip("_") or "_"


class StatsdEmitter:
    """Sends the deltas between two snapshots at each flush."""

    def __init__(self, address: str, prefix: str, index: int, warn: Callable[[str], None]) -> None:
        """``index``: what ``{index}`` in ``prefix`` stands for (the load generator's)."""
        self.prefix = _metric_prefix(expand_placeholders(prefix, index))
        self._warn = warn
        self._address = address
        self._client: Any = None
        self._last: Snapshot | None = None
        try:
            self._client = connect(address)
        except OSError as exc:
            self._disable(exc)

    def _disable(self, exc: OSError) -> None:
        self._client = None
        self._warn(f"StatsD at {self._address} is unreachable ({exc}); no metrics will be sent")

    @property
    def active(self) -> bool:
        return self._client is not None

    def flush(self, snapshot: Snapshot, target: float | None = None) -> None:
        """The deltas since the last flush; ``snapshot`` holds every request name's latency."""
        last, self._last = self._last, snapshot
        if self._client is None:
            return
        try:
            with self._client.pipeline() as pipe:
                self._run_metrics(pipe, snapshot, last)
                if target is not None:
                    pipe.gauge(f"{self.prefix}.target", target)
                before = {r.name: r for r in last.by_request} if last else {}
                for stats in snapshot.by_request:
                    _request_metrics(pipe, stats, before.get(stats.name))
        except OSError as exc:
            self._disable(exc)

    def _run_metrics(self, pipe: Any, now: Snapshot, last: Snapshot | None) -> None:
        prefix = self.prefix
        before = {s.name: s for s in last.scenarios} if last else {}
        for stats in now.scenarios:
            old = before.get(stats.name)
            name = f"{prefix}.scenario.{_metric(stats.name)}"
            _count(pipe, f"{name}.success", stats.successes - (old.successes if old else 0))
            _count(pipe, f"{name}.failure", stats.failures - (old.failures if old else 0))
        _count(pipe, f"{prefix}.requests", now.requests - (last.requests if last else 0))
        old_statuses = last.statuses if last else (0,) * len(STATUS_CLASSES)
        for label, count, old_count in zip(STATUS_CLASSES, now.statuses, old_statuses, strict=True):
            _count(pipe, f"{prefix}.status.{label}", count - old_count)
        old_errors = last.request_errors_by_kind if last else (0,) * len(REQUEST_ERROR_KINDS)
        for kind, count, old_count in zip(
            REQUEST_ERROR_KINDS, now.request_errors_by_kind, old_errors, strict=True
        ):
            _count(pipe, f"{prefix}.errors.{ERROR_NAMES[kind]}", count - old_count)
        _count(pipe, f"{prefix}.dropped", now.dropped - (last.dropped if last else 0))
        pipe.gauge(f"{prefix}.workers", now.workers)
        _percentiles(
            pipe, f"{prefix}.latency", now.request_latency, last.request_latency if last else None
        )
        _percentiles(
            pipe, f"{prefix}.response", now.response_times, last.response_times if last else None
        )


def _request_metrics(pipe: Any, now: RequestStats, before: RequestStats | None) -> None:
    """One request name's status counters and timings since the last flush."""
    name = statsd_name(now.name, now.host)
    old_codes = dict(before.status_codes) if before is not None else {}
    for code, count in now.status_codes:
        _count(pipe, f"{name}.{code or 'other'}", count - old_codes.get(code, 0))
    if now.latency is None or (before is not None and before.requests == now.requests):
        return
    interval = now.latency
    if before is not None and before.latency is not None:
        interval = interval.minus(before.latency)
    for value_us, rate in _timings(interval):
        if rate >= 1:
            pipe.timing(name, value_us / 1000)
        else:
            # The package's timing(rate<1) would drop samples at random itself; these are
            # already the sample, so the rate is only written on each line.
            pipe._send_stat(name, f"{value_us / 1000:.3f}|ms|@{rate:.6g}", 1)


def _timings(interval: Histogram) -> list[tuple[int, float]]:
    """(latency µs, sample rate) lines for an interval's histogram: each value when there are
    few, else evenly spaced quantiles standing for ``count / SAMPLES_PER_FLUSH`` each."""
    count = interval.count
    pairs = [(index, hits) for index, hits in enumerate(interval.buckets) if hits]
    if count <= SAMPLES_PER_FLUSH:
        top = interval.max_us
        return [(min(bucket_bounds(i)[1], top), 1.0) for i, hits in pairs for _ in range(hits)]
    percents = [100 * (i + 0.5) / SAMPLES_PER_FLUSH for i in range(SAMPLES_PER_FLUSH)]
    rate = SAMPLES_PER_FLUSH / count
    return [(us, rate) for us in percentiles_us(pairs, count, interval.max_us, percents)]


def _percentiles(pipe: Any, name: str, now: Histogram, before: Histogram | None) -> None:
    """Gauges of p50, p95 and p99 (ms) of what a histogram recorded since ``before``."""
    interval = now.minus(before) if before is not None else now
    if interval.count:
        for percent in (50, 95, 99):
            pipe.gauge(f"{name}.p{percent}", interval.percentile_us(percent) / 1000)


def _count(pipe: Any, name: str, count: int) -> None:
    if count:
        pipe.incr(name, count)


def _metric_prefix(prefix: str) -> str:
    return ".".join(_metric(part) for part in prefix.split(".") if part) or "molotov"
