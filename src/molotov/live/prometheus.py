"""Prometheus remote write: the run's metrics sent every ``--prometheus-rw-interval``.

The parent hands a snapshot to :meth:`RemoteWriter.push` when :meth:`RemoteWriter.due` says
so (the tick fan-out of a local run, the coordinator's loop of a cluster run: both send the
same series), and the final one to :meth:`RemoteWriter.close`. Everything else happens in a
daemon thread: the series (:mod:`.promseries`), their encoding (:mod:`.promwire`) and the
POST; and, for a local run, reading every request name's stats and latency from the bus (a
tick reads only the watched names' latency), so that the tick never pays for it. The parent
never waits for the network, nor for the encoding:

* the queue holds at most :data:`QUEUE` snapshots; a full one drops its oldest (counted):
  the numbers are cumulative, so the newest carries everything the dropped one did;
* a Prometheus that is down, slow or answers an error costs the run nothing: the send is
  counted as failed, the first failure is said once on the console, the next send tries
  again (no retry of an old one: the next is newer);
* at the end, the final snapshot replaces what is still queued (it carries all of it) and
  gets :data:`FLUSH_TIMEOUT` seconds to be sent, then the run goes on to its summary whatever
  happened; a tally line says what failed, if anything. From then on the thread never reads
  the bus (which the run closes).
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from urllib.parse import urlsplit, urlunsplit

from molotov._version import __version__
from molotov.config.runconfig import RunConfig
from molotov.live.promseries import FAMILIES, Context, RequestLabels, snapshot_series
from molotov.live.promwire import write_request
from molotov.stats.snapshot import RequestStats, ScenarioStats, Snapshot

QUEUE = 4
SEND_TIMEOUT = 5.0  # seconds a POST may take
FLUSH_TIMEOUT = 3.0  # seconds the end of the run waits for the last sends
_HEADERS = {
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
    "User-Agent": f"molotov/{__version__}",
}


def remote_writer(
    config: RunConfig, warn: Callable[[str], None], run_id: str | None = None
) -> RemoteWriter | None:
    """The run's writer (None without ``--prometheus-rw``), said on the console; ``run_id``:
    the run's (a cluster run's coordinator has one), else a new one (12 hex digits)."""
    if config.prometheus_rw is None:
        return None
    writer = RemoteWriter(
        config.prometheus_rw,
        config.prometheus_rw_interval,
        warn,
        run_id=run_id or secrets.token_hex(6),
        index=config.generator_index,
        open_model=config.open_model,
    )
    warn(writer.notice())
    return writer


RequestsReader = Callable[[], tuple[RequestStats, ...]]  # every name's, with its latency
ScenariosReader = Callable[[], tuple[ScenarioStats, ...]]  # every scenario's, with histograms


@dataclass(frozen=True)
class _Push:
    snapshot: Snapshot
    target: float | None
    timestamp_ms: int
    requests: RequestsReader | None = None  # for the names whose latency the tick did not read
    scenarios: ScenariosReader | None = None  # for the histograms the tick did not read


class _Endpoint:
    """The URL without its credentials (what messages show), and the headers of a POST."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        netloc = parts.hostname or ""
        if ":" in netloc:  # an IPv6 address
            netloc = f"[{netloc}]"
        if parts.port is not None:
            netloc += f":{parts.port}"
        self.url = urlunsplit(parts._replace(netloc=netloc))
        self.headers = dict(_HEADERS)
        if parts.username is not None:
            pair = f"{parts.username}:{parts.password or ''}".encode()
            self.headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()


def _why(exc: Exception) -> str:
    """A failed send in a few words: ``HTTP 500 Internal Server Error``, ``connection
    refused``, ``timed out``."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror.lower()
    return str(reason) or type(reason).__name__


class RemoteWriter:
    """Sends the run's series to one remote-write endpoint from a daemon thread."""

    def __init__(
        self,
        url: str,
        interval: float,
        warn: Callable[[str], None],
        *,
        run_id: str,
        index: int,
        open_model: bool,
    ) -> None:
        self.endpoint = _Endpoint(url)
        self.interval = interval
        self.run_id = run_id
        self._warn = warn
        self._common = (("index", str(index)), ("run_id", run_id))
        self._open_model = open_model
        self._names = RequestLabels()  # the sending thread's alone
        self._queue: deque[_Push] = deque()
        self._wake = threading.Condition()
        self._reading = threading.Lock()  # held while the thread reads the bus
        self._closing = False
        self._last_ms = 0
        self._next = 0.0
        # Counted by the sending thread, read by the parent's (ints: no lock needed to read).
        self.sent = self.failed = self.dropped = 0
        self.failure = ""  # why the first send failed
        self._said = False
        self._thread = threading.Thread(target=self._send_all, name="molotov-prw", daemon=True)
        self._thread.start()

    def notice(self) -> str:
        return (
            f"Prometheus remote write to {self.endpoint.url} every {self.interval:g}s "
            f"(run_id={self.run_id})"
        )

    def begin(self, now: float) -> None:
        """The run starts at ``now`` (monotonic): the first send is an interval later."""
        self._next = now + self.interval

    def due(self, now: float) -> bool:
        """Whether a send is due at ``now`` (monotonic)."""
        return now >= self._next

    def push(
        self,
        snapshot: Snapshot,
        target: float | None,
        now: float,
        requests: RequestsReader | None = None,
        scenarios: ScenariosReader | None = None,
    ) -> None:
        """Queue ``snapshot`` to be sent; never blocks. ``requests`` reads every request
        name's stats with its latency, for the names whose latency ``snapshot`` lacks, and
        ``scenarios`` every scenario's histograms, which a tick's snapshot lacks (both are
        called by the sending thread, never after :meth:`close`)."""
        self._next = now + self.interval
        self._enqueue(_Push(snapshot, target, self._stamp(), requests, scenarios))
        self._say_failure()

    def close(self, snapshot: Snapshot, target: float | None = None) -> None:
        """Send the final numbers (every name's latency read), waiting at most
        :data:`FLUSH_TIMEOUT` seconds, then stop."""
        final = _Push(snapshot, target, self._stamp())
        with self._reading, self._wake:  # a read of the bus in progress ends first
            self._closing = True
            self._queue.clear()  # the final numbers carry everything these did
            self._queue.append(final)
            self._wake.notify()
        self._thread.join(FLUSH_TIMEOUT)
        self._say_failure()
        unsent = len(self._queue) + (1 if self._thread.is_alive() else 0)
        if self.failed or unsent or self.dropped:
            parts = [f"{self.sent} sent", f"{self.failed} failed"]
            if self.dropped:
                parts.append(f"{self.dropped} dropped (queue full)")
            if unsent:
                parts.append(f"{unsent} not sent within {FLUSH_TIMEOUT:g}s at the end")
            last = f" (first failure: {self.failure})" if self.failure else ""
            self._warn(f"Prometheus remote write: {', '.join(parts)}{last}")

    def _stamp(self) -> int:
        """Now in epoch ms, strictly increasing: Prometheus refuses a second sample of a
        series at the same timestamp."""
        self._last_ms = max(int(time.time() * 1000), self._last_ms + 1)
        return self._last_ms

    def _enqueue(self, push: _Push) -> None:
        with self._wake:
            if len(self._queue) >= QUEUE:
                self._queue.popleft()
                self.dropped += 1
            self._queue.append(push)
            self._wake.notify()

    def _say_failure(self) -> None:
        if self.failure and not self._said:
            self._said = True
            self._warn(
                f"Prometheus remote write to {self.endpoint.url} failed: {self.failure}; "
                "the run goes on (the next sends try again, failures are counted)"
            )

    def _send_all(self) -> None:
        """The sending thread: every queued snapshot, oldest first, until closed and empty."""
        while True:
            with self._wake:
                while not self._queue and not self._closing:
                    self._wake.wait()
                if not self._queue:
                    return
                push = self._queue.popleft()
            self._send(push)

    def _complete(self, push: _Push) -> Snapshot | None:
        """The push's snapshot with every name's latency and every scenario's histograms;
        None when it can no longer be read (the run is closing: the final numbers carry it)."""
        snapshot = push.snapshot
        if push.requests is None and push.scenarios is None:
            return snapshot
        # Read even when the tick read every name's latency (a StatsD flush): the requests'
        # counters then always come from this thread's reads, in order, so they never go
        # back (a tick's snapshot can be older than the previous send's read).
        with self._reading:
            if self._closing:
                return None
            requests = push.requests() if push.requests is not None else snapshot.by_request
            if push.scenarios is None:
                return replace(snapshot, by_request=requests)
            return replace(snapshot, by_request=requests, scenarios=push.scenarios())

    def _send(self, push: _Push) -> None:
        context = Context(self._common, self._open_model, push.target)
        try:
            snapshot = self._complete(push)
            if snapshot is None:
                return
            series = snapshot_series(snapshot, context, self._names)
            body = write_request(series, push.timestamp_ms, FAMILIES)
            request = urllib.request.Request(
                self.endpoint.url, data=body, headers=self.endpoint.headers, method="POST"
            )
            with urllib.request.urlopen(request, timeout=SEND_TIMEOUT) as response:
                response.read()
        except Exception as exc:  # whatever it is, the run goes on
            self.failure = self.failure or _why(exc)
            self.failed += 1
        else:
            self.sent += 1
