"""The protocol's JSON values: a run's options, and a :class:`Snapshot` with sparse histograms.

A snapshot on the wire is every field of :class:`Snapshot` (``taken_at`` aside: the reader
stamps its own clock) under its own name; a histogram is ``[count, sum_us, max_us, [index,
count, index, count, ...]]`` with only the non-empty buckets (the report's sparse form), so an
idle agent's snapshot is a few hundred bytes and a busy one's grows with the buckets it hit,
not with the run's length (snapshots are cumulative: a missed poll loses nothing).

Request names travel with every snapshot, each with its latency histogram (an agent reads all
of them, so that the last snapshot of an agent lost mid-run is as exact as a report): a busy
name adds its non-empty buckets, a few hundred bytes to ~1 KB.
"""

from __future__ import annotations

import dataclasses
import time
from array import array
from typing import Any

from molotov.config.errors import ConfigError
from molotov.config.jsonconfig import JSON_OPTIONS
from molotov.config.runconfig import RunConfig
from molotov.stats.histogram import NBUCKETS, Histogram
from molotov.stats.series import Sparse
from molotov.stats.snapshot import (
    CheckStats,
    ErrorKind,
    ErrorStat,
    RequestStats,
    ScenarioStats,
    Snapshot,
)

# What an agent takes from its own command line, never from the coordinator: its scenario and
# extensions (no call uploads code), and where its output goes (it reports over the API; the
# coordinator sends the cluster's numbers by Prometheus remote write, an agent never does).
AGENT_OWN = frozenset(
    {
        *("scenario", "use_extension", "config", "demo", "report", "html", "csv", "quiet"),
        *("console", "prometheus_rw", "prometheus_rw_interval"),
        # The coordinator serves the dashboard: an agent refuses one.
        *("dashboard", "dashboard_public", "dashboard_linger"),
    }
)


class WireError(ValueError):
    """A value that does not decode (an agent of another version, or not an agent)."""


def options_to_wire(config: RunConfig) -> dict[str, Any]:
    """The run's options as JSON values (stages as ``{"duration", "target"}`` objects)."""
    return dataclasses.asdict(config)


def config_from_wire(options: Any, base: RunConfig) -> RunConfig:
    """``base`` (the agent's own options) with the coordinator's run options laid over it,
    each checked as a ``molotov.json`` entry's (:data:`JSON_OPTIONS`)."""
    if not isinstance(options, dict):
        raise ConfigError("the run's options must be a JSON object")
    changes: dict[str, Any] = {}
    for key, value in options.items():
        convert = JSON_OPTIONS.get(key)
        if convert is None or key in AGENT_OWN or (key == "stages" and value == []):
            continue
        try:
            changes[key] = convert(value)
        except TypeError as exc:
            raise ConfigError(f"option {key!r} must be {exc}") from None
    if "stages" in changes:
        changes["stages"] = tuple(changes["stages"])
    changes["start_at"] = None  # the coordinator's start instant comes with /v1/start
    return base.replace(**changes)


def _histogram(histogram: Histogram) -> list[Any]:
    sparse = Sparse.of(histogram)
    return [sparse.count, sparse.sum_us, sparse.max_us, sparse.pairs.tolist()]


def _read_histogram(value: Any) -> Histogram:
    count, sum_us, max_us, pairs = value
    if len(pairs) % 2 or not all(0 <= i < NBUCKETS for i in pairs[::2]):
        raise WireError("histogram buckets out of range")
    return Sparse(array("i", pairs), int(count), int(sum_us), int(max_us)).histogram


def _request(stats: RequestStats) -> list[Any]:
    codes = [n for pair in stats.status_codes for n in pair]
    latency = None if stats.latency is None else _histogram(stats.latency)
    errors = list(stats.errors_by_kind)
    return [stats.name, stats.requests, stats.response_bytes, errors, codes, latency, stats.host]


def _read_request(value: Any) -> RequestStats:
    name, requests, size, errors, codes, latency, host = value
    return RequestStats(
        str(name),
        requests=int(requests),
        response_bytes=int(size),
        errors_by_kind=tuple(int(n) for n in errors),
        status_codes=tuple(zip(map(int, codes[::2]), map(int, codes[1::2]), strict=True)),
        latency=None if latency is None else _read_histogram(latency),
        host=str(host),
    )


def snapshot_to_wire(snapshot: Snapshot) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in dataclasses.fields(Snapshot):
        value = getattr(snapshot, field.name)
        if field.name == "taken_at":
            continue
        if field.name == "scenarios":
            value = [
                [
                    s.name,
                    s.successes,
                    s.failures,
                    _histogram(s.durations),
                    _histogram(s.response_times),
                ]
                for s in value
            ]
        elif field.name == "errors":
            value = [
                [int(e.kind), e.message, e.count, e.traceback, e.scenario, e.request] for e in value
            ]
        elif field.name == "by_request":
            value = [_request(r) for r in value]
        elif field.name == "checks":
            value = [[c.name, c.request, c.passes, c.failures] for c in value]
        elif isinstance(value, Histogram):
            value = _histogram(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[field.name] = value
    return out


def snapshot_from_wire(data: Any) -> Snapshot:
    """The :class:`Snapshot` an agent sent (``taken_at``: now); :class:`WireError` if it is
    not one."""
    try:
        values: dict[str, Any] = {}
        for field in dataclasses.fields(Snapshot):
            if field.name == "taken_at":
                continue
            value = data[field.name]
            if field.name == "scenarios":
                value = tuple(
                    ScenarioStats(str(n), int(ok), int(ko), _read_histogram(d), _read_histogram(r))
                    for n, ok, ko, d, r in value
                )
            elif field.name == "errors":
                value = tuple(
                    ErrorStat(ErrorKind(k), str(m), int(c), str(t), str(s), str(r))
                    for k, m, c, t, s, r in value
                )
            elif field.name == "by_request":
                value = tuple(_read_request(r) for r in value)
            elif field.name == "checks":
                value = tuple(CheckStats(str(n), str(r), int(p), int(f)) for n, r, p, f in value)
            elif field.type == "Histogram":
                value = _read_histogram(value)
            elif str(field.type).startswith("tuple[int"):
                value = tuple(int(v) for v in value)
            else:
                value = int(value)
            values[field.name] = value
        return Snapshot(taken_at=time.monotonic(), **values)
    except (KeyError, TypeError, ValueError) as exc:
        raise WireError(f"not a snapshot ({exc})") from None
