"""Option values from their text: durations, start times, rates, stages, StatsD addresses,
the Prometheus remote-write URL, the dashboard's address.

The command line, the environment and molotov.json write these the same way; each parser
takes the text (or, from JSON, the number) and returns the value RunConfig holds.
``expand_placeholders`` fills in a report path's or a StatsD prefix's per-generator parts.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import socket
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from molotov.config.errors import ConfigError
from molotov.config.shape import Stage

MAX_RATE = 1_000_000.0  # arrivals per second: far beyond what one machine generates

_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse_duration(text: str | float) -> float:
    """Seconds from ``30``, ``1.5``, ``500ms``, ``30s``, ``5m``, ``1h`` or ``1h30m`` (finite).

    The one reader of every duration: each duration flag, ``MOLOTOV_*`` variable and
    ``molotov.json`` key (and each stage's), so all take the same spellings; a plain number
    is seconds, as Molotov 2.x's ``-d``, ``--ramp-up`` and ``--delay`` were.
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    elif not isinstance(text, str):
        raise ValueError(f"not a duration: {text!r}")
    else:
        value = text.strip().lower()
        try:
            seconds = float(value)
        except ValueError:
            parts = _DURATION_PART.findall(value)
            if not parts or "".join(n + u for n, u in parts) != value:
                raise ValueError(
                    f"not a duration: {text!r} (use seconds, or e.g. 500ms, 30s, 5m, 1h)"
                ) from None
            seconds = sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)
    # float() also reads "nan" and "inf": a run would then never reach its deadline.
    if not math.isfinite(seconds):
        raise ValueError(f"not a duration: {text!r} (it must be a finite number of seconds)")
    return seconds


def parse_start_at(text: str | float) -> float:
    """Epoch seconds from ``1767225600.5`` or an ISO 8601 time (UTC when it names no zone)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    elif isinstance(text, str):
        try:
            value = float(text)
        except ValueError:
            try:
                moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(
                    f"not a start time: {text!r} (use epoch seconds or ISO 8601, "
                    "e.g. 2026-11-26T15:00:00Z)"
                ) from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            value = moment.timestamp()
    else:
        raise ValueError(f"not a start time: {text!r}")
    if not math.isfinite(value):
        raise ValueError(f"not a start time: {text!r}")
    return value


_RATE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(?:/(s|m|h|min))?")
_PER_UNIT = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_rate(text: str | float) -> float:
    """Arrivals per second from ``100``, ``100/s``, ``6000/m`` or ``50/h`` (0 included)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    elif isinstance(text, str):
        match = _RATE.fullmatch(text.strip().lower().replace(" ", ""))
        if not match:
            raise ValueError(f"not a rate: {text!r} (use e.g. 100, 100/s, 6000/m)")
        value = float(match.group(1)) / _PER_UNIT[match.group(2) or "s"]
    else:
        raise ValueError(f"not a rate: {text!r}")
    if not math.isfinite(value) or not 0 <= value <= MAX_RATE:
        raise ValueError(f"not a rate: {text!r} (from 0 to {MAX_RATE:,.0f}/s)")
    return value


def parse_stages(stages: str | list[Any]) -> tuple[tuple[Stage, ...], bool]:
    """Stages from ``30s:100,2m:100,30s:0`` or ``[{"duration": "30s", "target": 100}, ...]``.

    Also says whether a target was written as a rate (``100/s``): that selects the open model.
    """
    pairs: list[tuple[Any, Any]] = []
    if isinstance(stages, str):
        for part in stages.split(","):
            duration, colon, target = part.strip().partition(":")
            if not colon or not duration or not target:
                raise ValueError(
                    f"not a stage: {part.strip()!r} (use DURATION:TARGET, e.g. 30s:100)"
                )
            pairs.append((duration, target))
    elif isinstance(stages, list):
        for item in stages:
            if not isinstance(item, dict) or set(item) != {"duration", "target"}:
                raise ValueError(
                    f'not a stage: {item!r} (use {{"duration": "30s", "target": 100}})'
                )
            pairs.append((item["duration"], item["target"]))
    else:
        raise ValueError(f"not a list of stages: {stages!r}")
    if not pairs:
        raise ValueError("no stage given")
    result = []
    for duration, target in pairs:
        seconds = parse_duration(duration)
        if seconds <= 0:
            raise ValueError(f"stage {duration}:{target}: a stage lasts more than 0 s")
        result.append(Stage(seconds, parse_rate(target)))
    as_rate = any(isinstance(target, str) and "/" in target for _, target in pairs)
    return tuple(result), as_rate


def parse_statsd_address(address: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of ``udp://HOST:PORT`` or ``tcp://HOST:PORT``."""
    parts = urlsplit(address)
    if parts.scheme not in ("udp", "tcp"):
        raise ConfigError(f"statsd address {address!r}: the scheme must be udp:// or tcp://")
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"statsd address {address!r}: {exc}") from None
    if not parts.hostname or not port:
        raise ConfigError(f"statsd address {address!r}: expected {parts.scheme}://HOST:PORT")
    return parts.scheme, parts.hostname, port


def parse_remote_write_url(url: str) -> str:
    """A Prometheus remote-write endpoint, ``http(s)://[USER:PASSWORD@]HOST[:PORT]/PATH``."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - read for its check: a port that is not a number raises
    except ValueError as exc:  # "Invalid IPv6 URL", "Port could not be cast ...", ...
        raise ConfigError(f"prometheus remote-write URL {url!r}: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise ConfigError(
            f"prometheus remote-write URL {url!r}: the scheme must be http:// or https:// "
            "(e.g. http://localhost:9090/api/v1/write)"
        )
    if not parts.hostname:
        raise ConfigError(f"prometheus remote-write URL {url!r}: no host")
    return url


DASHBOARD_HOST = "127.0.0.1"


def parse_dashboard(text: str) -> tuple[str, int]:
    """``(host, port)`` of ``PORT``, ``HOST:PORT`` or ``[IPv6]:PORT`` (the host defaults to
    127.0.0.1; port 0: any free one); ValueError if not one."""
    host, port = DASHBOARD_HOST, text
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        port = port if sep else ""
    elif text.count(":") == 1:
        host, port = text.split(":")
    elif ":" in text:
        port = ""  # an IPv6 address without its brackets
    if not host or not (port.isascii() and port.isdigit() and int(port) <= 65535):
        raise ValueError(
            f"--dashboard {text!r}: use [HOST:]PORT (8089, 127.0.0.1:8089, [::1]:8089)"
        )
    return host, int(port)


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine's loopback interface: ``localhost``, 127.0.0.0/8,
    ``::1`` (a name is not resolved: only ``localhost`` counts)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def job_completion_index() -> int:
    """This pod's index in a Kubernetes Indexed Job (``JOB_COMPLETION_INDEX``), else 0."""
    text = os.environ.get("JOB_COMPLETION_INDEX", "")
    return int(text) if text.isascii() and text.isdigit() else 0


def expand_placeholders(text: str, index: int) -> str:
    """``{hostname}`` and ``{index}`` (the load generator's index: see
    :attr:`~molotov.config.runconfig.RunConfig.generator_index`) in a report path or a StatsD
    prefix, so every load generator gets its own."""
    return text.replace("{hostname}", socket.gethostname()).replace("{index}", str(index))
