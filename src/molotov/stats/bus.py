"""The stats bus: one shared-memory block, a control block plus one slot per worker process.

Layout (every number an aligned little int64 "word"; text stored as UTF-8 bytes):

* control block (:class:`Control`): magic, format version, slot and scenario counts, the stop
  reason (0 while running) and the force flag (cancel in-flight steps);
* one slot per process, written by that process alone and read by the parent:
  - :class:`Counter` words (pid, active workers, failures that belong to no scenario, the
    open model's arrivals, request errors by kind, ...),
  - histogram blocks (count, a second count, sum and max in µs, then the
    :data:`~molotov.stats.histogram.NBUCKETS` buckets): request latency, start lateness (open
    model), then per scenario its durations (the two counts: successes and failures) and its
    response times (open model: from the scheduled start to the end),
  - an error table of :data:`ERROR_ENTRIES` entries: count, kind, text length, traceback
    length, then the text and traceback bytes. An entry's text is written before the slot's
    ``ERROR_ENTRIES`` counter is raised to publish it, so the parent never reads a half entry,
  - the per-request table of :mod:`molotov.stats.requests` (one entry per request name:
    requests, errors, status codes, bytes, a latency histogram; the run's requests, status
    classes and bytes are its sums) and the checks table of :mod:`molotov.stats.checks`.

The control block also carries the run's start instant (``START_NS``, ``time.monotonic_ns``,
one clock for every process of the machine), from which the open model's processes compute
their arrivals.

One writer per slot means no locks: the parent's reads of whole words see either the old or
the new value, and once the writers have exited the final read is exact.
"""

from __future__ import annotations

import contextlib
import operator
import os
import secrets
import time
from collections.abc import Callable
from multiprocessing import shared_memory

from molotov.stats import checks, requests
from molotov.stats.errortable import ErrorReader
from molotov.stats.histogram import Histogram
from molotov.stats.layout import (
    CONTROL_WORDS,
    COUNTER_WORDS,
    DURATIONS_BLOCK,
    FORMAT_VERSION,
    LATENCY_BLOCK,
    LATENESS_BLOCK,
    MAGIC,
    REQUEST_ERROR_WORDS,
    RESPONSES_BLOCK,
    RUN_BLOCKS,
    SC_FAILED,
    SC_OK,
    SCENARIO_HEADER,
    SCENARIO_WORDS,
    WORD,
    Control,
    Counter,
    StopReason,
    requests_offset,
    slot_words,
)
from molotov.stats.requests import read_histogram
from molotov.stats.slot import SlotWriter
from molotov.stats.snapshot import (
    CheckStats,
    RequestStats,
    ScenarioStats,
    Snapshot,
)

SETTLE_TRIES = 10  # reads of a slot's step counts and durations until they agree


def _buffer(shm: shared_memory.SharedMemory) -> memoryview:
    buf = shm.buf
    if buf is None:
        raise ValueError("the stats bus is closed")
    return buf


def _collect(into: list[Histogram], histogram: Histogram | None) -> None:
    if histogram is not None:
        into.append(histogram)


class StatsBus:
    """The shared-memory block. Create it in the parent before forking; children inherit it."""

    def __init__(self, shm: shared_memory.SharedMemory, scenario_names: list[str]) -> None:
        self._shm = shm
        self.bytes: memoryview = _buffer(shm)
        self.words: memoryview = self.bytes.cast("q")
        self.scenario_names = list(scenario_names)
        self.nscenarios = len(scenario_names)
        self.nslots = self.words[Control.SLOTS]
        self.max_names = self.words[Control.NAMES]
        self._slot_words = slot_words(self.nscenarios, self.max_names)
        self._errors = ErrorReader(self.words, self.bytes, self.scenario_names)
        self._requests = requests.RequestReader()
        self._blocks: dict[int, tuple[list[int], Histogram | None]] = {}  # see _counted_histogram
        self._owner_pid = os.getpid()

    @classmethod
    def create(cls, nslots: int, scenario_names: list[str], max_names: int) -> StatsBus:
        """A bus of ``nslots`` slots with room for ``max_names`` request names in each.

        The block is sized for every table up front, but tmpfs allocates only the pages a
        process writes: an unused name costs nothing."""
        words = CONTROL_WORDS + nslots * slot_words(len(scenario_names), max_names)
        # A recognisable name (pid of the run) tells an operator what a segment in /dev/shm is.
        name = f"molotov-{os.getpid()}-{secrets.token_hex(4)}"
        shm = shared_memory.SharedMemory(name=name, create=True, size=words * WORD)
        control = _buffer(shm).cast("q")
        control[Control.MAGIC] = MAGIC
        control[Control.VERSION] = FORMAT_VERSION
        control[Control.SLOTS] = nslots
        control[Control.SCENARIOS] = len(scenario_names)
        control[Control.NAMES] = max_names
        control.release()
        return cls(shm, scenario_names)

    @property
    def name(self) -> str:
        return self._shm.name

    def slot_base(self, index: int) -> int:
        if not 0 <= index < self.nslots:
            raise IndexError(f"no slot {index} (the bus has {self.nslots})")
        return CONTROL_WORDS + index * self._slot_words

    def block_base(self, slot: int, block: int) -> int:  # see the module's layout
        return self.slot_base(slot) + COUNTER_WORDS + block * SCENARIO_WORDS

    def scenario_base(self, slot: int, scenario: int) -> int:
        """Where scenario ``scenario``'s durations block starts."""
        return self.block_base(slot, RUN_BLOCKS + 2 * scenario)

    def response_base(self, slot: int, scenario: int) -> int:
        """Where scenario ``scenario``'s response-times block starts."""
        return self.block_base(slot, RUN_BLOCKS + 2 * scenario + 1)

    def run_blocks(self, slot: int) -> tuple[int, int]:
        """Where the run's step durations and response times are: its one scenario's blocks,
        or the run-wide blocks every step of every scenario is also written to."""
        if self.nscenarios == 1:
            return self.scenario_base(slot, 0), self.response_base(slot, 0)
        return self.block_base(slot, DURATIONS_BLOCK), self.block_base(slot, RESPONSES_BLOCK)

    def errors_base(self, slot: int) -> int:
        return self.block_base(slot, RUN_BLOCKS + 2 * self.nscenarios)

    def requests_base(self, slot: int) -> int:
        return self.slot_base(slot) + requests_offset(self.nscenarios)

    def checks_base(self, slot: int) -> int:
        return self.requests_base(slot) + requests.table_words(self.max_names)

    def request_writer(self, slot: int) -> requests.RequestWriter:
        return requests.RequestWriter(
            self.words, self.bytes, self.requests_base(slot), self.max_names
        )

    def check_writer(self, slot: int) -> checks.CheckWriter:
        return checks.CheckWriter(self.words, self.bytes, self.checks_base(slot))

    def writer(self, index: int) -> SlotWriter:
        return SlotWriter(
            self.words,
            self.bytes,
            self.slot_base(index),
            (
                self.block_base(index, LATENCY_BLOCK),
                self.block_base(index, LATENESS_BLOCK),
                *self.run_blocks(index),
            ),
            [self.scenario_base(index, i) for i in range(self.nscenarios)],
            [self.response_base(index, i) for i in range(self.nscenarios)],
            self.errors_base(index),
        )

    # -- control block -------------------------------------------------------------------

    def request_stop(self, reason: StopReason) -> None:
        """Ask every worker to stop; the first reason given is the one kept."""
        if self.words[Control.STOP] == StopReason.RUNNING:
            self.words[Control.STOP] = reason

    @property
    def stop_reason(self) -> StopReason:
        return StopReason(self.words[Control.STOP])

    def force(self) -> None:
        """Ask every worker to cancel its in-flight step now."""
        self.request_stop(StopReason.SIGNAL)
        self.words[Control.FORCE] = 1

    @property
    def forced(self) -> bool:
        return bool(self.words[Control.FORCE])

    @property
    def start_ns(self) -> int:
        """The run's start instant (``time.monotonic_ns``), 0 until the parent sets it."""
        return int(self.words[Control.START_NS])

    def set_start(self, start_ns: int) -> None:
        self.words[Control.START_NS] = start_ns

    @property
    def teardown_allowed(self) -> bool:
        return bool(self.words[Control.TEARDOWN])

    def allow_teardown(self) -> None:
        self.words[Control.TEARDOWN] = 1

    # -- reading -------------------------------------------------------------------------

    def counter(self, index: int, counter: Counter) -> int:
        return int(self.words[self.slot_base(index) + counter])

    def snapshot(
        self, latency_of: Callable[[str], bool] | None = None, scenarios: bool = True
    ) -> Snapshot:
        """Sum every slot into an immutable :class:`Snapshot`.

        Every request name's counters are read; its latency histogram only where
        ``latency_of(name)`` says so (None: every name's, as the final snapshot needs). Every
        scenario's counts are read; their histograms only with ``scenarios`` (else the run's
        step durations and response times come whole from the run-wide blocks: see
        :meth:`Snapshot.without_scenario_histograms`)."""
        totals = [0] * COUNTER_WORDS
        latencies: list[Histogram] = []
        lateness: list[Histogram] = []
        errors: list[tuple[int, int, int]] = []  # (slot, table, published)
        running = 0
        pids: list[int] = []
        words = self.words
        for slot in range(self.nslots):
            base = self.slot_base(slot)
            counters = words[base : base + COUNTER_WORDS].tolist()
            totals = [a + b for a, b in zip(totals, counters, strict=True)]
            running += counters[Counter.RUNNING]
            if counters[Counter.PID]:
                pids.append(counters[Counter.PID])
            _collect(latencies, self._histogram(self.block_base(slot, LATENCY_BLOCK)))
            _collect(lateness, self._histogram(self.block_base(slot, LATENESS_BLOCK)))
            errors.append((slot, self.errors_base(slot), counters[Counter.ERROR_ENTRIES]))
        table = self._request_table(latency_of)
        if scenarios:
            stats, run_wide = self.read_scenarios(), None
        else:
            stats, durations, responses = self._tick_scenarios()
            run_wide = (durations, responses)
        snapshot = Snapshot(
            taken_at=time.monotonic(),
            scenarios=stats,
            errors=self._errors.read(errors, self._request_names),
            workers=totals[Counter.WORKERS],
            workers_started=totals[Counter.WORKERS_STARTED],
            processes_running=running,
            pick_failures=totals[Counter.PICK_FAILURES],
            connection_failures=totals[Counter.CONNECTION_FAILURES],
            setup_failures=totals[Counter.SETUP_FAILURES],
            session_setup_failures=totals[Counter.SESSION_SETUP_FAILURES],
            errors_dropped=totals[Counter.ERRORS_DROPPED],
            pids=tuple(pids),
            requests=table.requests,
            statuses=table.statuses,
            response_bytes=table.response_bytes,
            request_errors_by_kind=tuple(
                totals[Counter.REQUEST_ERRORS : Counter.REQUEST_ERRORS + REQUEST_ERROR_WORDS]
            ),
            request_latency=Histogram.merge(latencies),
            started=totals[Counter.STARTED],
            dropped=totals[Counter.DROPPED],
            waiting=totals[Counter.WAITING],
            busy=totals[Counter.BUSY],
            start_lateness=Histogram.merge(lateness),
            by_request=table.names,
            checks=self._read_checks(),
            checks_passed=totals[Counter.CHECKS_PASSED],
            checks_failed=totals[Counter.CHECKS_FAILED],
            checks_dropped=totals[Counter.CHECKS_DROPPED],
            retried=totals[Counter.RETRIED],
        )
        if run_wide is None:
            return snapshot
        return snapshot.without_scenario_histograms(*run_wide)

    def _tick_scenarios(self) -> tuple[tuple[ScenarioStats, ...], Histogram, Histogram]:
        """What a tick reads: each scenario's counts (no histogram), and the run's step
        durations and response times from the run-wide blocks. The counts and the durations
        should agree (a series row's steps are its durations' count), but a step's count is
        stored before its bucket: each slot's block is read, then its counts (two strided
        reads), again while they are ahead of it; when they agree, no step was in flight (a
        slot ending ~10k steps a second may still be a step or two apart)."""
        words, n = self.words, self.nscenarios
        ok, failed = [0] * n, [0] * n
        durations: list[Histogram] = []
        responses: list[Histogram] = []
        stride = SCENARIO_WORDS * 2  # a scenario's durations block, then its responses'
        for slot in range(self.nslots):
            first = self.scenario_base(slot, 0)
            end = first + n * stride
            durations_base, responses_base = self.run_blocks(slot)
            for _ in range(SETTLE_TRIES):
                block = self._histogram(durations_base)
                oks = words[first + SC_OK : end : stride].tolist()
                fails = words[first + SC_FAILED : end : stride].tolist()
                if sum(oks) + sum(fails) == (block.count if block else 0):
                    break
            _collect(durations, block)
            _collect(responses, self._histogram(responses_base))
            ok = list(map(operator.add, ok, oks))
            failed = list(map(operator.add, failed, fails))
        empty = Histogram.empty()
        stats = tuple(
            ScenarioStats(name, ok[i], failed[i], empty, empty)
            for i, name in enumerate(self.scenario_names)
        )
        return stats, Histogram.merge(durations), Histogram.merge(responses)

    def read_scenarios(self) -> tuple[ScenarioStats, ...]:
        """Each scenario's counts and histograms, summed over the slots (what a tick's snapshot
        leaves out: the dashboard's and the remote write's threads read them so, as needed)."""
        words = self.words
        stats = []
        for i, name in enumerate(self.scenario_names):
            ok = failed = 0
            durations: list[Histogram] = []
            responses: list[Histogram] = []
            for slot in range(self.nslots):
                base = self.scenario_base(slot, i)
                ok += words[base + SC_OK]
                failed += words[base + SC_FAILED]
                _collect(durations, self._counted_histogram(base))
                _collect(responses, self._counted_histogram(self.response_base(slot, i)))
            stats.append(
                ScenarioStats(
                    name, ok, failed, Histogram.merge(durations), Histogram.merge(responses)
                )
            )
        return tuple(stats)

    def read_requests(
        self, latency_of: Callable[[str], bool] | None = None
    ) -> tuple[RequestStats, ...]:
        """Every request name's totals over the slots (see :meth:`snapshot`)."""
        return self._request_table(latency_of).names

    def _request_table(self, latency_of: Callable[[str], bool] | None) -> requests.RequestTable:
        tables = [self.requests_base(slot) for slot in range(self.nslots)]
        return self._requests.read(self.words, self.bytes, tables, self.max_names, latency_of)

    def _read_checks(self) -> tuple[CheckStats, ...]:
        tables = [
            (self.checks_base(slot), self._request_names(slot))
            for slot in range(self.nslots)
            if self.words[self.checks_base(slot)]  # a table with entries
        ]
        return checks.read_checks(self.words, self.bytes, tables) if tables else ()

    def _request_names(self, slot: int) -> list[str]:
        """A slot's request names by entry number (errors and checks refer to them so)."""
        table = self.requests_base(slot)
        published = min(self.words[table], self.max_names)
        return self._requests.names(self.bytes, self.words, table, published)

    def _counted_histogram(self, base: int) -> Histogram | None:
        """A block whose count words are written with each value (a scenario's durations or
        response times): read again only when they changed (a read converts 2,688 words)."""
        head = self.words[base : base + SCENARIO_HEADER].tolist()
        cached = self._blocks.get(base)
        if cached is not None and cached[0] == head:
            return cached[1]
        histogram = self._histogram(base)
        self._blocks[base] = (head, histogram)
        return histogram

    def _histogram(self, base: int) -> Histogram | None:
        """The histogram of a block (a scenario's, or a run-wide one), if not empty."""
        return read_histogram(self.words, self.bytes, base)

    # -- lifetime ------------------------------------------------------------------------

    def close(self) -> None:
        """Release this process's mapping; in the creating process also remove the block."""
        self.words.release()
        self.bytes.release()
        self._shm.close()
        if os.getpid() == self._owner_pid:
            with contextlib.suppress(FileNotFoundError):
                self._shm.unlink()
