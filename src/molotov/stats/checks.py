"""The checks table of a slot of the stats bus: ``molotov.check`` counts by (check, request).

A slot holds :data:`ENTRIES` entries, each one distinct pair of a check's name and the request
entry it followed; an entry holds passes, failures, the request's entry number (+1; 0: no
request yet) and the check's name. The slot's counters carry the totals (every check counts
there), so a check past the table's room is still in the pass rate, and counted as dropped.
"""

from __future__ import annotations

from molotov.stats.snapshot import CheckStats

WORD = 8
ENTRIES = 128
CHECK_NAME_BYTES = 120
_PASSES, _FAILURES, _REQUEST, _NAME_LEN = range(4)
_NAME = 4
ENTRY_WORDS = _NAME + CHECK_NAME_BYTES // WORD
TABLE_WORDS = 1 + ENTRIES * ENTRY_WORDS  # the published-entry count, then the entries


class CheckWriter:
    """A worker process's side: one call per ``molotov.check``."""

    def __init__(self, words: memoryview, raw: memoryview, base: int) -> None:
        self._words = words
        self._raw = raw
        self._base = base
        self._index: dict[tuple[str, int], int] = {}

    def record(self, name: str, request: int, passed: bool) -> bool:
        """Count one check after request number ``request`` (-1: none); False if no room."""
        key = (name, request)
        entry = self._index.get(key)
        words = self._words
        if entry is None:
            published = words[self._base]
            if published >= ENTRIES:
                return False
            entry = self._base + 1 + published * ENTRY_WORDS
            data = name.encode("utf-8", "replace")[:CHECK_NAME_BYTES]
            start = (entry + _NAME) * WORD
            self._raw[start : start + len(data)] = data
            words[entry + _NAME_LEN] = len(data)
            words[entry + _REQUEST] = request + 1
            words[self._base] = published + 1
            self._index[key] = entry
        words[entry + (_PASSES if passed else _FAILURES)] += 1
        return True


def read_checks(
    words: memoryview, raw: memoryview, tables: list[tuple[int, list[str]]]
) -> tuple[CheckStats, ...]:
    """Every slot's checks summed by (check, request name); ``tables`` pairs each table's base
    with its slot's request names by entry number."""
    totals: dict[tuple[str, str], list[int]] = {}
    for base, request_names in tables:
        for number in range(min(words[base], ENTRIES)):
            entry = base + 1 + number * ENTRY_WORDS
            passes, failures, request, length = words[entry : entry + _NAME].tolist()
            start = (entry + _NAME) * WORD
            name = bytes(raw[start : start + length]).decode("utf-8", "ignore")
            request_name = request_names[request - 1] if 0 < request <= len(request_names) else ""
            counts = totals.setdefault((name, request_name), [0, 0])
            counts[0] += passes
            counts[1] += failures
    return tuple(
        CheckStats(name, request, passes, failures)
        for (name, request), (passes, failures) in sorted(totals.items())
    )
