"""The per-request table of a slot of the stats bus: one entry per request name.

Each slot holds ``max_names`` entries (``--max-request-names``, in the control block). Names
past the bound all go to one last entry, :data:`~molotov.stats.naming.OTHER`, so a test with
random URLs keeps a fixed-size bus (the summary says so). An entry (int64 words) holds:

* one cache line (the entry starts on a 64-byte boundary) with all a response writes but its
  latency's bucket: its first status code and that code's responses, the latency's sum and
  max, the response bytes; and the requests that got no response, the lengths of the name and
  of the host of its first request (StatsD's 2.x names),
* :data:`CODE_PAIRS` - 1 more pairs of (status code, responses), then the responses whose code
  did not fit, by status class (listed as code 0),
* request errors by kind,
* a latency histogram's buckets in the bus's log-linear encoding (its count is their sum), so
  per-name percentiles merge exactly across processes, reports and machines,
* the name's and the host's UTF-8 bytes.

A pair is free while its count is 0 (a code of 0 is a code like any other), and the writer
fills them in order. The run's requests, responses by status class and response bytes are
not written anywhere else: they are the sums of the names' (one store less per request, and a
run's totals always agree with its names').

As everywhere on the bus, the worker process writes and the parent reads: a new entry's name is
written before the table's entry count is raised to publish it.
"""

from __future__ import annotations

import dataclasses
import operator
import threading
from collections.abc import Callable
from typing import NamedTuple

from molotov.stats.histogram import NBUCKETS, Histogram
from molotov.stats.naming import NAME_BYTES, OTHER, clip_name, default_name
from molotov.stats.snapshot import REQUEST_ERROR_KINDS, STATUS_CLASSES, RequestStats

WORD = 8
LINE_WORDS = 8  # a 64-byte cache line
CODE_PAIRS = 16
HOST_BYTES = 56
_HEADER = 4  # a histogram block's words before its buckets: count, -, sum, max

# An entry's words (the slot's writer, molotov.stats.slot, counts requests into them): its hot
# line first, then the rest.
CODE, RESPONSES, LATENCY_SUM, LATENCY_MAX, BYTES, FAILED, _NAME_LEN, _HOST_LEN = range(8)
PAIRS = LINE_WORDS  # the other CODE_PAIRS - 1 pairs of (code, responses)
UNLISTED = PAIRS + 2 * (CODE_PAIRS - 1)  # responses whose code did not fit, by status class
ERRORS = UNLISTED + len(STATUS_CLASSES)
BUCKETS = ERRORS + len(REQUEST_ERROR_KINDS)
_TEXT = BUCKETS + NBUCKETS
ENTRY_WORDS = -(-(_TEXT + (NAME_BYTES + HOST_BYTES) // WORD) // LINE_WORDS) * LINE_WORDS
_CACHE_LIMIT = 4096  # (method, path) -> entry lookups kept; cleared when it is full


def status_class(code: int) -> int:
    """The index in STATUS_CLASSES of a status code's class."""
    kind = code // 100
    return kind - 1 if 1 <= kind <= 5 else len(STATUS_CLASSES) - 1


def table_words(max_names: int) -> int:
    """A slot's table: one line holding the published-entry count, then ``max_names`` entries
    (the table starts on a line, so each entry does)."""
    return LINE_WORDS + max_names * ENTRY_WORDS


class RequestWriter:
    """A worker process's side of its request table: the entry of each request's name (two
    dict lookups per request), publishing new ones. The counting itself is the slot writer's
    (:meth:`molotov.stats.slot.SlotWriter.request_done`), which writes the run's words and the
    entry's in one call."""

    def __init__(self, words: memoryview, raw: memoryview, base: int, max_names: int) -> None:
        self._words = words
        self._raw = raw
        self._base = base
        self._max = max_names
        self._by_name: dict[str, int] = {}
        self._cached = 0
        # method -> path -> entry: read by the recording middleware itself first (two dict
        # lookups on the hot path, no call, no tuple), then entry_for on a miss. The host is
        # not in the key: a name is its method and path, whichever host served it.
        self.by_method: dict[str, dict[str, int]] = {}

    def entry_for(self, method: str, host: str | None, path: str) -> int:
        """The entry of a request named by its URL (``default_name(method, path)`` on a miss),
        noting ``host`` on a new entry."""
        if self._cached >= _CACHE_LIMIT:
            self.by_method.clear()  # random paths: names are made again, memory stays bounded
            self._cached = 0
        entry = self.entry_named(default_name(method, path), host or "")
        self.by_method.setdefault(method, {})[path] = entry
        self._cached += 1
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
            entry = self._by_name[OTHER] = self._base + LINE_WORDS + (self._max - 1) * ENTRY_WORDS
            return entry
        entry = self._base + LINE_WORDS + published * ENTRY_WORDS
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
        return (entry - self._base - LINE_WORDS) // ENTRY_WORDS


_EMPTY_BLOCK = bytes(NBUCKETS * WORD)


def read_buckets(words: memoryview, raw: memoryview, start: int) -> tuple[int, ...] | None:
    """The :data:`NBUCKETS` buckets from word ``start``, or None when they are all 0 (found by
    comparing their bytes, a copy and a memcmp, before any word is converted)."""
    at = start * WORD
    if bytes(raw[at : at + NBUCKETS * WORD]) == _EMPTY_BLOCK:
        return None
    return tuple(words[start : start + NBUCKETS].tolist())


def read_histogram(words: memoryview, raw: memoryview, base: int) -> Histogram | None:
    """A histogram block (count, -, sum, max, buckets) of the bus, or None when empty.

    A block's count words are not read: the request-latency blocks leave them unwritten (one
    store less per request), and the buckets say it all: the count is their sum, which also
    keeps a histogram whole when the writer adds a value between two reads (a histogram whose
    count and buckets disagree is one a report reader refuses).
    """
    buckets = read_buckets(words, raw, base + _HEADER)
    if buckets is None:
        return None
    return Histogram(buckets, sum(buckets), words[base + 2], words[base + 3])


def _latency(words: memoryview, raw: memoryview, entry: int) -> Histogram | None:
    """An entry's latency histogram: its buckets, with the sum and max of its hot line."""
    buckets = read_buckets(words, raw, entry + BUCKETS)
    if buckets is None:
        return None
    return Histogram(buckets, sum(buckets), words[entry + LATENCY_SUM], words[entry + LATENCY_MAX])


class RequestTable(NamedTuple):
    """Every name's stats, and the run's totals that are their sums: requests, responses by
    status class, response bytes."""

    names: tuple[RequestStats, ...]
    requests: int
    statuses: tuple[int, ...]
    response_bytes: int


def _counters(heads: list[int], name: str, host: str) -> tuple[RequestStats, list[int]]:
    """A name's stats and its responses by status class, from its counter words (an entry's
    first ``BUCKETS``) in one or more slots' tables, one after the other.

    A tick decodes every busy name this way (300 of them at most by default): the words an
    entry rarely writes (a second status code, unlisted ones, errors) are looked at only when
    they are not all 0."""
    codes: dict[int, int] = {}
    errors, unlisted = _NO_ERRORS, _NO_CLASSES
    failed = size = 0
    for start in range(0, len(heads), BUCKETS):
        size += heads[start + BYTES]
        failed += heads[start + FAILED]
        if any(heads[start + UNLISTED : start + BUCKETS]):  # unlisted codes, then errors
            errors = list(map(operator.add, errors, heads[start + ERRORS : start + BUCKETS]))
            unlisted = list(map(operator.add, unlisted, heads[start + UNLISTED : start + ERRORS]))
        code, count = heads[start + CODE], heads[start + RESPONSES]
        if not count:
            continue  # the writer fills the pairs in order: no response yet
        codes[code] = codes.get(code, 0) + count
        for pair in range(start + PAIRS, start + UNLISTED, 2) if heads[start + PAIRS + 1] else ():
            count = heads[pair + 1]
            if not count:
                break  # the rest are free
            codes[heads[pair]] = codes.get(heads[pair], 0) + count
    classes = list(unlisted)
    for code, count in codes.items():
        classes[_CLASS_OF[code]] += count
    if any(unlisted):
        codes[0] = codes.get(0, 0) + sum(unlisted)
    stats = RequestStats(
        name,
        requests=failed + sum(classes),
        response_bytes=size,
        errors_by_kind=tuple(errors),
        status_codes=tuple(sorted(codes.items())),
        host=host,
    )
    return stats, classes


class _Classes(dict[int, int]):
    """status code -> its class's index, each computed once (a dict lookup is cheaper than a
    call, and a tick classifies every busy name's codes)."""

    def __missing__(self, code: int) -> int:
        index = self[code] = status_class(code)
        return index


_CLASS_OF = _Classes()
_NO_ERRORS = [0] * len(REQUEST_ERROR_KINDS)
_NO_CLASSES = [0] * len(STATUS_CLASSES)


class RequestReader:
    """The parent's side: every slot's table summed by name into :class:`RequestStats`."""

    def __init__(self) -> None:
        # name -> (its entries' counter words, its stats without latency, its responses by
        # status class) at the last read: an idle name's counters are not decoded again.
        self._counted: dict[str, tuple[list[int], RequestStats, list[int]]] = {}
        self._tables: dict[int, list[tuple[str, str]]] = {}  # table -> its entries' texts
        self._decoding = threading.Lock()

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
    ) -> RequestTable:
        """Each name's totals; its latency histogram only where ``latency_of(name)`` (None:
        every name's), since a live tick needs a few names' percentiles, not all.

        Long on purpose: with hundreds of names this loop is most of a tick. A name's
        counter words are gathered over the slots first (one slice per entry), then made
        into one :class:`RequestStats` only when they changed since the last read; the
        latency buckets are read after, for the wanted names only."""
        heads: dict[str, list[int]] = {}
        hosts: dict[str, str] = {}
        entries: dict[str, list[int]] = {}  # name -> its entries, when its latency is read
        for table in tables:
            texts = self._table_texts(raw, words, table, min(words[table], max_names))
            for number, (name, host) in enumerate(texts):
                start = table + LINE_WORDS + number * ENTRY_WORDS
                head = words[start : start + BUCKETS].tolist()
                known = heads.get(name)
                if known is None:
                    heads[name] = head
                    hosts[name] = host
                    if latency_of is None or latency_of(name):
                        entries[name] = [start]
                    continue
                known += head
                if host and not hosts[name]:
                    hosts[name] = host
                if name in entries:
                    entries[name].append(start)
        stats = []
        classes = []
        for name, head in heads.items():
            counted = self._counted.get(name)
            if counted is None or counted[0] != head:
                counted = self._counted[name] = (head, *_counters(head, name, hosts[name]))
            one = counted[1]
            classes.append(counted[2])
            if name in entries:
                latency = [_latency(words, raw, entry) for entry in entries[name]]
                one = dataclasses.replace(
                    one, latency=Histogram.merge([h for h in latency if h is not None])
                )
            stats.append(one)
        statuses = tuple(map(sum, zip(*classes, strict=True))) if classes else tuple(_NO_CLASSES)
        return RequestTable(
            tuple(stats),
            sum(one.requests for one in stats),
            statuses,
            sum(one.response_bytes for one in stats),
        )

    def _table_texts(
        self, raw: memoryview, words: memoryview, table: int, count: int
    ) -> list[tuple[str, str]]:
        """The (name, host) of a table's first ``count`` entries, each decoded once (entries
        are only ever published, never changed). The tick and a remote write's thread both
        read: new entries are decoded under a lock, or both could append the same one and
        shift every later name."""
        known = self._tables.setdefault(table, [])
        if len(known) < count:
            with self._decoding:
                for number in range(len(known), count):
                    entry = table + LINE_WORDS + number * ENTRY_WORDS
                    start = (entry + _TEXT) * WORD
                    name = bytes(raw[start : start + words[entry + _NAME_LEN]])
                    start += NAME_BYTES
                    host = bytes(raw[start : start + words[entry + _HOST_LEN]])
                    known.append((name.decode("utf-8", "replace"), host.decode("ascii", "replace")))
        return known[:count] if len(known) > count else known
