"""StatsD: the parent's emitter of run metrics, and the client scenarios get in their context.

The emitter runs in the parent only, every ``--statsd-interval`` seconds, from bus deltas, in
one pipeline (a few packets) per flush, never a packet per request:

* ``<prefix>.scenario.<name>.success`` / ``.failure``, ``<prefix>.requests``,
  ``<prefix>.status.<N>xx``, ``<prefix>.errors.<kind>``: counters, summed per flush;
* ``<prefix>.workers``: a gauge; ``<prefix>.latency.p50`` / ``.p95`` / ``.p99``: gauges of the
  request latency in the interval, in ms;
* the open model: ``<prefix>.dropped`` (a counter), ``<prefix>.response.p50`` / ``.p95`` /
  ``.p99`` (gauges of the steps' response times in the interval, ms), ``<prefix>.target``
  (a gauge: the arrival rate asked for; with closed-model stages, the workers asked for);
* Molotov-compatible per-request names ``molotov.<hostname>.<METHOD>.<urlhost>.<urlpath>``:
  a counter per status (``….200:17|c``) and timings, at most :data:`SAMPLES_PER_FLUSH` per
  name and flush with ``|@rate`` telling the server how many they stand for.

A StatsD server that cannot be reached or resolved never fails or slows the run: one warning,
then the emitter (or a scenario's client) goes quiet.
"""

from __future__ import annotations

import contextlib
import random
import re
import socket
from collections.abc import Callable
from typing import Any

import statsd as statsd_package

from molotov.config.parsers import expand_placeholders, parse_statsd_address
from molotov.stats.endpoints import OVERFLOW_SUFFIX, EndpointDelta
from molotov.stats.histogram import Histogram
from molotov.stats.snapshot import REQUEST_ERROR_KINDS, STATUS_CLASSES, Snapshot

SAMPLES_PER_FLUSH = 20
TCP_TIMEOUT = 0.5  # seconds: a silent StatsD server must not hold the parent's loop
HOSTNAME = socket.gethostname()
_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]+")
ERROR_NAMES = {
    kind: name
    for kind, name in zip(
        REQUEST_ERROR_KINDS,
        ("refused", "reset", "timeout", "dns", "tls", "connection", "protocol", "descriptors"),
        strict=True,
    )
}


_LINE_BREAKERS = str.maketrans({":": "_", "|": "_", "@": "_", "\n": "_"})


def endpoint_name(method: str, host: str | None, path: str) -> str:
    """Molotov 2.x's per-request metric name, so existing dashboards keep working.

    Only the characters that would break a StatsD line (``:``, ``|``, ``@``, newlines) are
    replaced; slashes stay, as Molotov 2.x sent them.
    """
    return f"molotov.{HOSTNAME}.{method}.{host}.{path or '/'}".translate(_LINE_BREAKERS)


def overflow_name() -> str:
    """Where per-request metrics go once a process has seen too many distinct names."""
    return f"molotov.{HOSTNAME}.{OVERFLOW_SUFFIX}"


def _metric(name: str) -> str:
    return _UNSAFE.sub("_", name).strip("_") or "_"


def connect(address: str, prefix: str | None = None) -> Any:
    """A ``statsd`` package client for ``udp://`` or ``tcp://HOST:PORT`` (may raise OSError)."""
    scheme, host, port = parse_statsd_address(address)
    if scheme == "tcp":
        return statsd_package.TCPStatsClient(host, port, prefix=prefix, timeout=TCP_TIMEOUT)
    return statsd_package.StatsClient(host, port, prefix=prefix)


class ScenarioStatsd:
    """The client in ``get_context(session).statsd``: Molotov's names and the package's.

    A sending error turns it off silently, so a scenario is never failed by StatsD; the
    parent's emitter, which talks to the same server, is the one that warns (once).
    """

    def __init__(self, address: str) -> None:
        self._client: Any = None
        with contextlib.suppress(OSError):
            self._client = connect(address)

    def _send(self, method: str, *args: Any) -> None:
        if self._client is None:
            return
        try:
            getattr(self._client, method)(*args)
        except OSError:
            self._client = None

    def increment(self, stat: str, count: int = 1, rate: float = 1) -> None:
        self._send("incr", stat, count, rate)

    def decrement(self, stat: str, count: int = 1, rate: float = 1) -> None:
        self._send("decr", stat, count, rate)

    incr = increment
    decr = decrement

    def gauge(self, stat: str, value: float, rate: float = 1, delta: bool = False) -> None:
        self._send("gauge", stat, value, rate, delta)

    def timing(self, stat: str, delta: float, rate: float = 1) -> None:
        self._send("timing", stat, delta, rate)

    def set(self, stat: str, value: Any, rate: float = 1) -> None:
        self._send("set", stat, value, rate)


class StatsdEmitter:
    """Sends the deltas between two snapshots (and the endpoints' deltas) at each flush."""

    def __init__(self, address: str, prefix: str, warn: Callable[[str], None]) -> None:
        self.prefix = _metric_prefix(expand_placeholders(prefix))
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

    def flush(
        self,
        snapshot: Snapshot,
        endpoints: dict[str, EndpointDelta],
        target: float | None = None,
    ) -> None:
        last, self._last = self._last, snapshot
        if self._client is None:
            return
        try:
            with self._client.pipeline() as pipe:
                self._run_metrics(pipe, snapshot, last)
                if target is not None:
                    pipe.gauge(f"{self.prefix}.target", target)
                for name, delta in endpoints.items():
                    self._endpoint_metrics(pipe, name, delta)
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

    def _endpoint_metrics(self, pipe: Any, name: str, delta: EndpointDelta) -> None:
        for status, count in delta.statuses.items():
            _count(pipe, f"{name}.{status or 'other'}", count)
        samples = delta.samples
        if len(samples) > SAMPLES_PER_FLUSH:
            samples = random.sample(samples, SAMPLES_PER_FLUSH)
        rate = len(samples) / delta.timed if delta.timed else 1.0
        for us in samples:
            if rate >= 1:
                pipe.timing(name, us / 1000)
            else:
                # The package's timing(rate<1) would drop samples at random itself; these are
                # already the sample, so the rate is only written on each line.
                pipe._send_stat(name, f"{us / 1000:.3f}|ms|@{rate:.6g}", 1)


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
