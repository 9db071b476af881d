"""Per-endpoint request statistics in a slot of the stats bus, for Molotov-style StatsD names.

Only written with ``--statsd``. Each slot holds :data:`ENTRIES` entries, one per distinct
metric name (``molotov.<hostname>.<METHOD>.<urlhost>.<urlpath>``); names past the cap all go
to the last entry, :data:`OVERFLOW_SUFFIX`, so a test with random URLs cannot flood the
StatsD server. An entry (int64 words) holds:

* ``NAME_LEN`` and ``WRITES`` (timing samples written so far),
* :data:`STATUS_PAIRS` pairs of (status code, responses), then a count of other statuses,
* a ring of the last :data:`RING` latencies (µs): sample ``n`` sits at ``n % RING``,
* the name's UTF-8 bytes.

As everywhere on the bus, the worker process writes and the parent reads: a new entry's
name is written before the slot's entry count is raised to publish it. The names themselves
(:func:`endpoint_name`, :func:`overflow_name`) are made here too: the worker process names
its requests with them, the parent sends them as they are.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

WORD = 8
ENTRIES = 128
STATUS_PAIRS = 8
RING = 64
NAME_BYTES = 192
OVERFLOW_SUFFIX = "other"

_NAME_LEN, _WRITES = 0, 1
_STATUS = 2
_OTHER_STATUS = _STATUS + 2 * STATUS_PAIRS
_RING = _OTHER_STATUS + 1
_NAME = _RING + RING
ENTRY_WORDS = _NAME + NAME_BYTES // WORD
TABLE_WORDS = 1 + ENTRIES * ENTRY_WORDS  # the published-entry count, then the entries


HOSTNAME = socket.gethostname()
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


class EndpointWriter:
    """A worker process's side of its endpoint table."""

    def __init__(self, words: memoryview, raw: memoryview, base: int, overflow_name: str) -> None:
        self._words = words
        self._raw = raw
        self._base = base
        self._index: dict[str, int] = {}
        self._overflow_name = overflow_name

    def _entry(self, name: str) -> int:
        """The word offset of ``name``'s entry, publishing a new entry the first time."""
        words = self._words
        published = words[self._base]
        if published >= ENTRIES - 1 and name != self._overflow_name:
            # Not cached per name: with random URLs that dict would grow without end.
            overflow = self._index.get(self._overflow_name)
            return overflow if overflow is not None else self._entry(self._overflow_name)
        entry = self._base + 1 + published * ENTRY_WORDS
        data = name.encode("utf-8", "replace")[:NAME_BYTES]
        start = (entry + _NAME) * WORD
        self._raw[start : start + len(data)] = data
        words[entry + _NAME_LEN] = len(data)
        words[self._base] = published + 1
        self._index[name] = entry
        return entry

    def record(self, name: str, status: int, latency_us: int) -> None:
        entry = self._index.get(name)
        if entry is None:
            entry = self._entry(name)
        words = self._words
        for pair in range(entry + _STATUS, entry + _OTHER_STATUS, 2):
            code = words[pair]
            if code == status:
                words[pair + 1] += 1
                break
            if code == 0:
                words[pair] = status
                words[pair + 1] = 1
                break
        else:
            words[entry + _OTHER_STATUS] += 1
        writes = words[entry + _WRITES]
        words[entry + _RING + writes % RING] = latency_us
        words[entry + _WRITES] = writes + 1


@dataclass
class EndpointDelta:
    """What one endpoint name did since the last read, over every slot."""

    statuses: dict[int, int] = field(default_factory=dict)  # status code (0: other) -> count
    samples: list[int] = field(default_factory=list)  # latencies (µs) still in the rings
    timed: int = 0  # requests timed, of which ``samples`` is a subset when the rings wrapped


class EndpointReader:
    """The parent's side: deltas of every slot's endpoint table since the previous read."""

    def __init__(self) -> None:
        self._seen: dict[tuple[int, int], list[int]] = {}  # (table, entry) -> last words read

    def read(
        self, words: memoryview, raw: memoryview, tables: list[int]
    ) -> dict[str, EndpointDelta]:
        deltas: dict[str, EndpointDelta] = {}
        for base in tables:
            for number in range(min(words[base], ENTRIES)):
                entry = base + 1 + number * ENTRY_WORDS
                head = words[entry : entry + _RING].tolist()
                start = (entry + _NAME) * WORD
                name = bytes(raw[start : start + head[_NAME_LEN]]).decode("utf-8", "replace")
                last = self._seen.get((base, number)) or [0] * _RING
                self._seen[(base, number)] = head
                delta = deltas.setdefault(name, EndpointDelta())
                codes = [*head[_STATUS:_OTHER_STATUS:2], 0]
                counts = [*head[_STATUS + 1 : _OTHER_STATUS : 2], head[_OTHER_STATUS]]
                before = [*last[_STATUS + 1 : _OTHER_STATUS : 2], last[_OTHER_STATUS]]
                for code, now, then in zip(codes, counts, before, strict=True):
                    if now > then:
                        delta.statuses[code] = delta.statuses.get(code, 0) + now - then
                new = head[_WRITES] - last[_WRITES]
                if new > 0:
                    ring = words[entry + _RING : entry + _RING + RING].tolist()
                    kept = min(new, RING)
                    delta.samples += [
                        ring[n % RING] for n in range(head[_WRITES] - kept, head[_WRITES])
                    ]
                    delta.timed += new
        return deltas
