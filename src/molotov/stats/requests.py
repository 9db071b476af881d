"""The per-request table of a slot of the stats bus: one entry per request name.

Each slot holds ``max_names`` entries (``--max-request-names``, in the control block). Names
past the bound all go to one last entry, :data:`~molotov.stats.naming.OTHER`, so a test with
random URLs keeps a fixed-size bus (the summary says so). An entry (int64 words) holds:

* the lengths of its name and of the host of its first request (StatsD's 2.x names),
* requests (responses and request errors), response bytes, request errors by kind,
* :data:`CODE_PAIRS` pairs of (status code, responses), then the responses whose code did not
  fit (listed as code 0),
* a latency histogram block in the bus's log-linear encoding (count, -, sum, max, buckets),
  so per-name percentiles merge exactly across processes, reports and machines,
* the name's and the host's UTF-8 bytes.

As everywhere on the bus, the worker process writes and the parent reads: a new entry's name is
written before the table's entry count is raised to publish it.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable

from molotov.stats.histogram import NBUCKETS, Histogram
from molotov.stats.naming import NAME_BYTES, OTHER, clip_name
from molotov.stats.snapshot import REQUEST_ERROR_KINDS, RequestStats

WORD = 8
CODE_PAIRS = 16
HOST_BYTES = 56
_HEADER = 4  # a histogram block's words before its buckets: count, -, sum, max

# An entry's words (the slot's writer, molotov.stats.slot, counts requests into them).
_NAME_LEN, _HOST_LEN, REQUESTS, BYTES = range(4)
ERRORS = 4
CODES = ERRORS + len(REQUEST_ERROR_KINDS)
OTHER_CODES = CODES + 2 * CODE_PAIRS
LATENCY = OTHER_CODES + 1
_TEXT = LATENCY + _HEADER + NBUCKETS
ENTRY_WORDS = _TEXT + (NAME_BYTES + HOST_BYTES) // WORD
_CACHE_LIMIT = 4096  # (method, host, path) -> entry lookups kept; cleared when it is full


def table_words(max_names: int) -> int:
    """A slot's table: the published-entry count, then ``max_names`` entries."""
    return 1 + max_names * ENTRY_WORDS


class RequestWriter:
    """A worker process's side of its request table: the entry of each request's name (one
    dict lookup per request), publishing new ones. The counting itself is the slot writer's
    (:meth:`molotov.stats.slot.SlotWriter.request_done`), which writes the run's counters and
    the entry's in one call."""

    def __init__(self, words: memoryview, raw: memoryview, base: int, max_names: int) -> None:
        self._words = words
        self._raw = raw
        self._base = base
        self._max = max_names
        self._by_name: dict[str, int] = {}
        # (method, host, path) -> entry: read by the recording middleware itself first (a
        # dict lookup on the hot path, no call), then entry_for on a miss.
        self.by_url: dict[tuple[str, str | None, str], int] = {}

    def entry_for(
        self, method: str, host: str | None, path: str, name_of: Callable[[str, str], str]
    ) -> int:
        """The entry of a request named by its URL (``name_of(method, path)`` on a miss)."""
        key = (method, host, path)
        entry = self.by_url.get(key)
        if entry is None:
            if len(self.by_url) >= _CACHE_LIMIT:
                self.by_url.clear()  # random paths: names are made again, memory stays bounded
            entry = self.by_url[key] = self.entry_named(name_of(method, path), host or "")
        return entry

    def entry_named(self, name: str, host: str = "") -> int:
        """The word offset of ``name``'s entry, publishing a new entry the first time."""
        entry = self._by_name.get(name)
        if entry is not None:
            return entry
        published = self._words[self._base]
        if published >= self._max - 1 and name != OTHER:
            return self.entry_named(OTHER)  # not cached per name: random names stay bounded
        if published >= self._max:  # full: its last entry is OTHER, an earlier writer's
            entry = self._by_name[OTHER] = self._base + 1 + (self._max - 1) * ENTRY_WORDS
            return entry
        entry = self._base + 1 + published * ENTRY_WORDS
        data = clip_name(name).encode("utf-8")
        host_data = host.encode("ascii", "replace")[:HOST_BYTES]
        start = (entry + _TEXT) * WORD
        self._raw[start : start + len(data)] = data
        start += NAME_BYTES
        self._raw[start : start + len(host_data)] = host_data
        self._words[entry + _NAME_LEN] = len(data)
        self._words[entry + _HOST_LEN] = len(host_data)
        self._words[self._base] = published + 1
        self._by_name[name] = entry
        return entry

    def index_of(self, entry: int) -> int:
        """The entry's number in this table (errors and checks say which request)."""
        return (entry - self._base - 1) // ENTRY_WORDS


_EMPTY_BLOCK = bytes(NBUCKETS * WORD)


def read_histogram(words: memoryview, raw: memoryview, base: int) -> Histogram | None:
    """A histogram block (count, -, sum, max, buckets) of the bus, or None when empty.

    A block's count words are not read: the request-latency blocks leave them unwritten (one
    store less per request), and the buckets say it all: the count is their sum, which also
    keeps a histogram whole when the writer adds a value between two reads (a histogram whose
    count and buckets disagree is one a report reader refuses). An empty block is found by
    comparing its bytes (a copy and a memcmp), before any word is converted.
    """
    start = (base + _HEADER) * WORD
    if bytes(raw[start : start + NBUCKETS * WORD]) == _EMPTY_BLOCK:
        return None
    head = words[base : base + _HEADER].tolist()
    buckets = tuple(words[base + _HEADER : base + _HEADER + NBUCKETS].tolist())
    return Histogram(buckets, sum(buckets), head[2], head[3])


_HEAD = LATENCY - REQUESTS  # an entry's counter words, REQUESTS to LATENCY
_CODES, _OTHER_CODES = CODES - REQUESTS, OTHER_CODES - REQUESTS  # where they are in those


def _counters(heads: list[int], name: str, host: str) -> RequestStats:
    """A name's stats from its counter words (``REQUESTS`` to ``LATENCY``) in one or more
    slots' tables, one after the other: counts add, status codes add by code."""
    counts = heads[:_CODES]
    for start in range(_HEAD, len(heads), _HEAD):
        counts = list(map(operator.add, counts, heads[start : start + _CODES]))
    codes: dict[int, int] = {}
    for start in range(0, len(heads), _HEAD):
        for pair in range(start + _CODES, start + _OTHER_CODES, 2):
            code = heads[pair]
            if not code:
                break  # the writer fills the pairs in order: the rest are empty
            if heads[pair + 1]:
                codes[code] = codes.get(code, 0) + heads[pair + 1]
        if heads[start + _HEAD - 1]:  # responses whose code did not fit: listed as 0
            codes[0] = codes.get(0, 0) + heads[start + _HEAD - 1]
    return RequestStats(
        name,
        requests=counts[0],
        response_bytes=counts[BYTES - REQUESTS],
        errors_by_kind=tuple(counts[ERRORS - REQUESTS :]),
        status_codes=tuple(sorted(codes.items())),
        host=host,
    )


class RequestReader:
    """The parent's side: every slot's table summed by name into :class:`RequestStats`."""

    def __init__(self) -> None:
        # name -> (its entries' counter words, its stats without latency) at the last read: an
        # idle name's counters are not decoded again.
        self._counted: dict[str, tuple[list[int], RequestStats]] = {}
        self._tables: dict[int, list[tuple[str, str]]] = {}  # table -> its entries' texts

    def names(self, raw: memoryview, words: memoryview, table: int, count: int) -> list[str]:
        """The names of a table's first ``count`` entries (errors and checks refer to them by
        entry number)."""
        return [name for name, _ in self._table_texts(raw, words, table, count)]

    def read(
        self,
        words: memoryview,
        raw: memoryview,
        tables: list[int],
        max_names: int,
        latency_of: Callable[[str], bool] | None = None,
    ) -> tuple[RequestStats, ...]:
        """Each name's totals; its latency histogram only where ``latency_of(name)`` (None:
        every name's), since a live tick needs a few names' percentiles, not all.

        Long on purpose: with hundreds of names this loop is most of a tick. A name's
        counter words are gathered over the slots first (one slice per entry), then made
        into one :class:`RequestStats` only when they changed since the last read; the
        latency blocks are read after, for the wanted names only."""
        heads: dict[str, list[int]] = {}
        hosts: dict[str, str] = {}
        entries: dict[str, list[int]] = {}  # name -> its entries, when its latency is read
        for table in tables:
            texts = self._table_texts(raw, words, table, min(words[table], max_names))
            first = table + 1 + REQUESTS
            for number, (name, host) in enumerate(texts):
                start = first + number * ENTRY_WORDS
                head = words[start : start + _HEAD].tolist()
                known = heads.get(name)
                if known is None:
                    heads[name] = head
                    hosts[name] = host
                    if latency_of is None or latency_of(name):
                        entries[name] = [start - REQUESTS]
                    continue
                known += head
                if host and not hosts[name]:
                    hosts[name] = host
                if name in entries:
                    entries[name].append(start - REQUESTS)
        stats = []
        for name, head in heads.items():
            counted = self._counted.get(name)
            if counted is None or counted[0] != head:
                counted = self._counted[name] = (head, _counters(head, name, hosts[name]))
            one = counted[1]
            if name in entries:
                latency = [read_histogram(words, raw, e + LATENCY) for e in entries[name]]
                one = dataclasses.replace(
                    one, latency=Histogram.merge([h for h in latency if h is not None])
                )
            stats.append(one)
        return tuple(stats)

    def _table_texts(
        self, raw: memoryview, words: memoryview, table: int, count: int
    ) -> list[tuple[str, str]]:
        """The (name, host) of a table's first ``count`` entries, each decoded once (entries
        are only ever published, never changed)."""
        known = self._tables.setdefault(table, [])
        for number in range(len(known), count):
            entry = table + 1 + number * ENTRY_WORDS
            start = (entry + _TEXT) * WORD
            name = bytes(raw[start : start + words[entry + _NAME_LEN]]).decode("utf-8", "replace")
            start += NAME_BYTES
            host = bytes(raw[start : start + words[entry + _HOST_LEN]]).decode("ascii", "replace")
            known.append((name, host))
        return known[:count] if len(known) > count else known
