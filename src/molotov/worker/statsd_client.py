"""The StatsD client of a worker process: the one scenarios get in their context.

``get_context(session).statsd`` is a :class:`ScenarioStatsd` (with ``--statsd``): Molotov
2.x's method names and the ``statsd`` package's, sending straight to the server from the
worker process. :func:`connect` opens the package's client for a ``udp://`` or ``tcp://``
address; the parent's emitter (:mod:`molotov.live.statsd`) connects through it too.
"""

from __future__ import annotations

import contextlib
from typing import Any

import statsd as statsd_package

from molotov.config.parsers import parse_statsd_address

TCP_TIMEOUT = 0.5  # seconds: a silent StatsD server must not hold the parent's loop


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
