"""The writing end of one process's slot of the stats bus: the hot path's counters.

Each worker process writes its own slot and nothing else, so no lock is needed: aligned int64
stores are read whole by the parent (see :mod:`molotov.stats.bus`).
"""

from __future__ import annotations

from molotov.stats import requests as entry_words
from molotov.stats.histogram import bucket_of
from molotov.stats.layout import (
    E_COUNT,
    E_KIND,
    E_REQUEST,
    E_SCENARIO,
    E_TB_LEN,
    E_TEXT_LEN,
    ERROR_ENTRIES,
    ERROR_HEADER,
    ERROR_TEXT_BYTES,
    ERROR_TRACEBACK_BYTES,
    ERROR_WORDS,
    SC_FAILED,
    SC_MAX_US,
    SC_OK,
    SC_SUM_US,
    SCENARIO_HEADER,
    WORD,
    Counter,
)
from molotov.stats.snapshot import ErrorKind

# An entry's hot words, as module globals (faster than a module's attributes per request).
_RESPONSES = entry_words.RESPONSES
_LATENCY_SUM, _LATENCY_MAX = entry_words.LATENCY_SUM, entry_words.LATENCY_MAX
_BUCKETS, _BYTES = entry_words.BUCKETS, entry_words.BYTES


def _clip(text: str, limit: int, keep_end: bool = False) -> bytes:
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return data
    data = data[-limit:] if keep_end else data[:limit]
    return data.decode("utf-8", "ignore").encode("utf-8")


class SlotWriter:
    """The one process's writing end of its slot. Methods here run on the hot path."""

    def __init__(
        self,
        words: memoryview,
        data: memoryview,
        base: int,
        blocks: tuple[int, int, int, int],
        scenario_bases: list[int],
        response_bases: list[int],
        errors_base: int,
    ) -> None:
        """``blocks``: where the run-wide blocks start: request latency, start lateness, step
        durations and response times (see :mod:`molotov.stats.layout`); the last two are a
        one-scenario run's own scenario blocks (:meth:`molotov.stats.bus.StatsBus.run_blocks`),
        then written once, not twice."""
        self._words = words
        self._bytes = data
        self._base = base
        self._requests, self._lateness, durations, responses = blocks
        # 0: the run's block is the one scenario's own, which step_done writes anyway.
        self._durations = 0 if durations in scenario_bases[:1] else durations
        self._responses = 0 if responses in response_bases[:1] else responses
        self._scenario_bases = scenario_bases
        self._response_bases = response_bases
        self._errors_base = errors_base
        self._error_index: dict[tuple[int, str, int, int], int] = {}
        # The request errors' word offset, as a plain int: an IntEnum's arithmetic costs more
        # than the store itself.
        self._n_errors = base + int(Counter.REQUEST_ERRORS)

    def set(self, counter: Counter, value: int) -> None:
        self._words[self._base + counter] = value

    def add(self, counter: Counter, amount: int = 1) -> None:
        self._words[self._base + counter] += amount

    def step_done(self, scenario: int, ok: bool, duration_us: int) -> None:
        """Count one finished step of scenario ``scenario`` and its duration, under the
        scenario and in the run-wide block (its count word unwritten: its buckets' sum)."""
        words = self._words
        base = self._scenario_bases[scenario]
        bucket = SCENARIO_HEADER + bucket_of(duration_us)
        words[base + (SC_OK if ok else SC_FAILED)] += 1
        words[base + SC_SUM_US] += duration_us
        if duration_us > words[base + SC_MAX_US]:  # noqa: PLR1730 - cheaper than max() here
            words[base + SC_MAX_US] = duration_us
        words[base + bucket] += 1
        base = self._durations  # inline, not _run_wide(): a call per step costs more
        if base:  # 0: one scenario, whose block is the run's
            words[base + SC_SUM_US] += duration_us
            if duration_us > words[base + SC_MAX_US]:  # noqa: PLR1730 - cheaper than max()
                words[base + SC_MAX_US] = duration_us
            words[base + bucket] += 1

    def _run_wide(self, block: int, bucket: int, us: int) -> None:
        """One value into a run-wide block whose count is its buckets' sum."""
        words = self._words
        words[block + SC_SUM_US] += us
        if us > words[block + SC_MAX_US]:  # noqa: PLR1730 - cheaper than max() here
            words[block + SC_MAX_US] = us
        words[block + bucket] += 1

    def _record(self, block: int, us: int) -> None:
        """One value into a single-count histogram block."""
        words = self._words
        words[block + SC_OK] += 1
        words[block + SC_SUM_US] += us
        if us > words[block + SC_MAX_US]:  # noqa: PLR1730 - cheaper than max() here
            words[block + SC_MAX_US] = us
        words[block + SCENARIO_HEADER + bucket_of(us)] += 1

    def response_time(self, scenario: int, response_us: int) -> None:
        """The open model: a finished step's time from its scheduled start to its end (under
        the scenario, and in the run-wide block)."""
        self._record(self._response_bases[scenario], response_us)
        if self._responses:  # 0: one scenario, whose block is the run's
            self._run_wide(self._responses, SCENARIO_HEADER + bucket_of(response_us), response_us)

    def step_started(self, lateness_us: int) -> None:
        """The open model: a step started ``lateness_us`` after its scheduled instant."""
        self._words[self._base + Counter.STARTED] += 1
        self._record(self._lateness, lateness_us)

    def request_done(self, entry: int, status: int, latency_us: int) -> None:
        """Count one response (its headers arrived) and its latency, in the run's latency
        block and under its name's entry (a word offset of the request table, see
        stats.requests; the run's responses are the names' sum).

        Runs for every request: the latency's bucket is found once, neither block's count is
        written (a block's count is its buckets' sum), and all of the entry's words but its
        bucket are in one cache line, its first status code's pair among them."""
        words = self._words
        bucket = bucket_of(latency_us)
        block = self._requests
        words[block + SC_SUM_US] += latency_us
        if latency_us > words[block + SC_MAX_US]:  # noqa: PLR1730 - cheaper than max() here
            words[block + SC_MAX_US] = latency_us
        words[block + SCENARIO_HEADER + bucket] += 1
        if words[entry] == status:  # the entry's first code (CODE is its first word)
            words[entry + _RESPONSES] += 1
        else:
            self._other_status(entry, status)
        words[entry + _LATENCY_SUM] += latency_us
        if latency_us > words[entry + _LATENCY_MAX]:  # noqa: PLR1730 - cheaper than max()
            words[entry + _LATENCY_MAX] = latency_us
        words[entry + _BUCKETS + bucket] += 1

    def _other_status(self, entry: int, status: int) -> None:
        """A response whose code is not the entry's first: counted in its code's pair, taking
        the first free one (the first pair too, when the entry has no response yet), or as
        unlisted in its status class when all are taken."""
        words = self._words
        for pair in (entry, *range(entry + entry_words.PAIRS, entry + entry_words.UNLISTED, 2)):
            if not words[pair + 1]:  # free: the code, then its count, so a reader sees both
                words[pair] = status
                words[pair + 1] = 1
                return
            if words[pair] == status:
                words[pair + 1] += 1
                return
        words[entry + entry_words.UNLISTED + entry_words.status_class(status)] += 1

    def request_failed(self, entry: int, kind_index: int) -> None:
        """Count one request that got no response (``kind_index`` in REQUEST_ERROR_KINDS)."""
        words = self._words
        words[self._n_errors + kind_index] += 1
        words[entry + entry_words.ERRORS + kind_index] += 1
        words[entry + entry_words.FAILED] += 1

    def request_error(self, entry: int, kind_index: int) -> None:
        """A counted request's response failed after its headers (a broken body); ``entry``:
        its name's, or -1 if unknown."""
        self._words[self._n_errors + kind_index] += 1
        if entry >= 0:
            self._words[entry + entry_words.ERRORS + kind_index] += 1

    def response_bytes(self, entry: int, size: int) -> None:
        """A response's body was read to its end (the run's bytes are the names' sum)."""
        self._words[entry + _BYTES] += size

    def error(
        self,
        kind: ErrorKind,
        message: str,
        traceback: str = "",
        scenario: int = -1,
        request: int = -1,
    ) -> None:
        """Count one occurrence of an error; the first of each (kind, message, scenario,
        request) stores its text. ``scenario`` is the index of the scenario whose step raised
        it, ``request`` the request-table number of the request that did (-1: none)."""
        key = (int(kind), message, scenario, request)
        index = self._error_index.get(key)
        words = self._words
        if index is not None:
            words[self._errors_base + index * ERROR_WORDS + E_COUNT] += 1
            return
        published = words[self._base + Counter.ERROR_ENTRIES]
        if published >= ERROR_ENTRIES:
            words[self._base + Counter.ERRORS_DROPPED] += 1
            return
        entry = self._errors_base + published * ERROR_WORDS
        text = _clip(message, ERROR_TEXT_BYTES)
        tb = _clip(traceback, ERROR_TRACEBACK_BYTES, keep_end=True)
        start = (entry + ERROR_HEADER) * WORD
        self._bytes[start : start + len(text)] = text
        start += ERROR_TEXT_BYTES
        self._bytes[start : start + len(tb)] = tb
        words[entry + E_KIND] = int(kind)
        words[entry + E_TEXT_LEN] = len(text)
        words[entry + E_TB_LEN] = len(tb)
        words[entry + E_SCENARIO] = scenario + 1
        words[entry + E_REQUEST] = request + 1
        words[entry + E_COUNT] = 1
        words[self._base + Counter.ERROR_ENTRIES] = published + 1
        self._error_index[key] = published
