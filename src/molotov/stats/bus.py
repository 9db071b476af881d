"""The stats bus: one shared-memory block, a control block plus one slot per worker process.

Layout (every number an aligned little int64 "word"; text stored as UTF-8 bytes):

* control block (:class:`Control`): magic, format version, slot and scenario counts, the stop
  reason (0 while running) and the force flag (cancel in-flight steps);
* one slot per process, written by that process alone and read by the parent:
  - :class:`Counter` words (pid, active workers, failures that belong to no scenario,
    requests, responses by status class, response bytes, the open model's arrivals, request
    errors by kind, ...),
  - histogram blocks (count, a second count, sum and max in µs, then the
    :data:`~molotov.stats.histogram.NBUCKETS` buckets): request latency, start lateness (open
    model), then per scenario its durations (the two counts: successes and failures) and its
    response times (open model: from the scheduled start to the end),
  - an error table of :data:`ERROR_ENTRIES` entries: count, kind, text length, traceback
    length, then the text and traceback bytes. An entry's text is written before the slot's
    ``ERROR_ENTRIES`` counter is raised to publish it, so the parent never reads a half entry,
  - the per-endpoint table of :mod:`molotov.stats.endpoints` (written only with ``--statsd``).

The control block also carries the run's start instant (``START_NS``, ``time.monotonic_ns``,
one clock for every process of the machine), from which the open model's processes compute
their arrivals.

One writer per slot means no locks: the parent's reads of whole words see either the old or
the new value, and once the writers have exited the final read is exact.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from enum import IntEnum
from multiprocessing import shared_memory

from molotov.stats import endpoints
from molotov.stats.histogram import NBUCKETS, Histogram, bucket_of
from molotov.stats.snapshot import (
    REQUEST_ERROR_KINDS,
    ErrorKind,
    ErrorStat,
    ScenarioStats,
    Snapshot,
)

MAGIC = 0x4D4F4C4F544F5631  # "MOLOTOV1"
FORMAT_VERSION = 1
WORD = 8


class Control(IntEnum):
    MAGIC = 0
    VERSION = 1
    SLOTS = 2
    SCENARIOS = 3
    STOP = 4
    FORCE = 5
    START_NS = 6  # the run's start instant (monotonic ns); 0 until the parent sets it
    TEARDOWN = 7  # 1: the worker process may run global_teardown (the console is stopped)


CONTROL_WORDS = 8


class StopReason(IntEnum):
    RUNNING = 0
    DURATION = 1
    SIGNAL = 2
    EXCEPTION = 3
    FAIL = 4
    SIZING = 5
    PARENT_GONE = 6
    FINISHED = 7
    STOP_CALLED = 8  # a scenario or fixture called molotov.util.stop()


class Counter(IntEnum):
    PID = 0
    RUNNING = 1  # 1 while the process is running its workers
    WORKERS = 2  # workers currently running steps (closed model) or in the pool (open)
    WORKERS_STARTED = 3
    PICK_FAILURES = 4  # steps that failed before a scenario was chosen
    CONNECTION_FAILURES = 5  # failed steps whose error was a connection error
    SETUP_FAILURES = 6
    SESSION_SETUP_FAILURES = 7
    ERROR_ENTRIES = 8
    ERRORS_DROPPED = 9
    REQUESTS = 10
    STATUS_1XX = 11  # then 2xx .. 5xx, then STATUS_OTHER
    STATUS_OTHER = 16  # a status outside 100-599
    RESPONSE_BYTES = 17
    READY = 18  # open model: 1 once the process's first -w workers are set up
    STARTED = 19  # steps started
    DROPPED = 20  # open model: arrivals that never started (no free worker in --max-lag)
    WAITING = 21  # open model: arrivals waiting for a free worker now
    BUSY = 22  # open model: workers running a step now
    FINISHING = 23  # -p 1 with a global_teardown: 1 workers done, 2 global_teardown done
    REQUEST_ERRORS = 24  # then one word per kind of errors.REQUEST_ERROR_KINDS
    FIRST_STEP_NS = 32  # monotonic ns when the process's first step started (0: none yet)


COUNTER_WORDS = 48
REQUEST_ERROR_WORDS = len(REQUEST_ERROR_KINDS)
STATUS_WORDS = 6  # 1xx .. 5xx, other

# A histogram block: these words, then the buckets. A scenario's duration block counts its
# successes and failures in the two count words; other blocks use the first only.
SC_OK, SC_FAILED, SC_SUM_US, SC_MAX_US = range(4)
SCENARIO_HEADER = 4
SCENARIO_WORDS = SCENARIO_HEADER + NBUCKETS
LATENCY_BLOCK, LATENESS_BLOCK = 0, 1  # the run-wide blocks before the scenarios' pairs
RUN_BLOCKS = 2

ERROR_ENTRIES = 64
ERROR_TEXT_BYTES = 256
ERROR_TRACEBACK_BYTES = 4096
E_COUNT, E_KIND, E_TEXT_LEN, E_TB_LEN = range(4)
ERROR_HEADER = 4
ERROR_WORDS = ERROR_HEADER + (ERROR_TEXT_BYTES + ERROR_TRACEBACK_BYTES) // WORD


def _slot_words(nscenarios: int) -> int:
    return (
        COUNTER_WORDS
        + (RUN_BLOCKS + 2 * nscenarios) * SCENARIO_WORDS
        + ERROR_ENTRIES * ERROR_WORDS
        + endpoints.TABLE_WORDS
    )


def _clip(text: str, limit: int, keep_end: bool = False) -> bytes:
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return data
    data = data[-limit:] if keep_end else data[:limit]
    return data.decode("utf-8", "ignore").encode("utf-8")


def _buffer(shm: shared_memory.SharedMemory) -> memoryview:
    buf = shm.buf
    if buf is None:
        raise ValueError("the stats bus is closed")
    return buf


def _collect(into: list[Histogram], histogram: Histogram | None) -> None:
    if histogram is not None:
        into.append(histogram)


class _ErrorTotal:
    """An error's count summed over slots while a snapshot is built."""

    __slots__ = ("count", "traceback")

    def __init__(self, traceback: str) -> None:
        self.count = 0
        self.traceback = traceback


class SlotWriter:
    """The one process's writing end of its slot. Methods here run on the hot path."""

    def __init__(self, bus: StatsBus, index: int) -> None:
        self._words = bus.words
        self._bytes = bus.bytes
        self._base = bus.slot_base(index)
        self._requests = bus.block_base(index, LATENCY_BLOCK)
        self._lateness = bus.block_base(index, LATENESS_BLOCK)
        self._scenario_bases = [bus.scenario_base(index, i) for i in range(bus.nscenarios)]
        self._response_bases = [bus.response_base(index, i) for i in range(bus.nscenarios)]
        self._errors_base = bus.errors_base(index)
        self._error_index: dict[tuple[int, str], int] = {}

    def set(self, counter: Counter, value: int) -> None:
        self._words[self._base + counter] = value

    def add(self, counter: Counter, amount: int = 1) -> None:
        self._words[self._base + counter] += amount

    def step_done(self, scenario: int, ok: bool, duration_us: int) -> None:
        """Count one finished step of scenario ``scenario`` and its duration."""
        words = self._words
        base = self._scenario_bases[scenario]
        words[base + (SC_OK if ok else SC_FAILED)] += 1
        words[base + SC_SUM_US] += duration_us
        if duration_us > words[base + SC_MAX_US]:  # noqa: PLR1730 - cheaper than max() here
            words[base + SC_MAX_US] = duration_us
        words[base + SCENARIO_HEADER + bucket_of(duration_us)] += 1

    def _record(self, block: int, us: int) -> None:
        """One value into a single-count histogram block."""
        words = self._words
        words[block + SC_OK] += 1
        words[block + SC_SUM_US] += us
        if us > words[block + SC_MAX_US]:  # noqa: PLR1730 - cheaper than max() here
            words[block + SC_MAX_US] = us
        words[block + SCENARIO_HEADER + bucket_of(us)] += 1

    def response_time(self, scenario: int, response_us: int) -> None:
        """The open model: a finished step's time from its scheduled start to its end."""
        self._record(self._response_bases[scenario], response_us)

    def step_started(self, lateness_us: int) -> None:
        """The open model: a step started ``lateness_us`` after its scheduled instant."""
        self._words[self._base + Counter.STARTED] += 1
        self._record(self._lateness, lateness_us)

    def request_done(self, status: int, latency_us: int) -> None:
        """Count one response (its headers arrived) and its latency."""
        words = self._words
        base = self._base
        words[base + Counter.REQUESTS] += 1
        status_class = status // 100
        if 1 <= status_class <= 5:
            words[base + Counter.STATUS_1XX - 1 + status_class] += 1
        else:
            words[base + Counter.STATUS_OTHER] += 1
        self._record(self._requests, latency_us)

    def request_failed(self, kind_index: int) -> None:
        """Count one request that got no response (``kind_index`` in REQUEST_ERROR_KINDS)."""
        self._words[self._base + Counter.REQUESTS] += 1
        self._words[self._base + Counter.REQUEST_ERRORS + kind_index] += 1

    def request_error(self, kind_index: int) -> None:
        """A counted request's response failed after its headers (a broken body)."""
        self._words[self._base + Counter.REQUEST_ERRORS + kind_index] += 1

    def response_bytes(self, size: int) -> None:
        self._words[self._base + Counter.RESPONSE_BYTES] += size

    def error(self, kind: ErrorKind, message: str, traceback: str = "") -> None:
        """Count one occurrence of an error; the first of each (kind, message) stores its text."""
        key = (int(kind), message)
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
        words[entry + E_COUNT] = 1
        words[self._base + Counter.ERROR_ENTRIES] = published + 1
        self._error_index[key] = published


class StatsBus:
    """The shared-memory block. Create it in the parent before forking; children inherit it."""

    def __init__(self, shm: shared_memory.SharedMemory, scenario_names: list[str]) -> None:
        self._shm = shm
        self.bytes: memoryview = _buffer(shm)
        self.words: memoryview = self.bytes.cast("q")
        self.scenario_names = list(scenario_names)
        self.nscenarios = len(scenario_names)
        self.nslots = self.words[Control.SLOTS]
        self._slot_words = _slot_words(self.nscenarios)
        self._error_text: dict[tuple[int, int], tuple[ErrorKind, str, str]] = {}
        self._owner_pid = os.getpid()

    @classmethod
    def create(cls, nslots: int, scenario_names: list[str]) -> StatsBus:
        words = CONTROL_WORDS + nslots * _slot_words(len(scenario_names))
        # A recognisable name (pid of the run) tells an operator what a segment in /dev/shm is.
        name = f"molotov-{os.getpid()}-{secrets.token_hex(4)}"
        shm = shared_memory.SharedMemory(name=name, create=True, size=words * WORD)
        control = _buffer(shm).cast("q")
        control[Control.MAGIC] = MAGIC
        control[Control.VERSION] = FORMAT_VERSION
        control[Control.SLOTS] = nslots
        control[Control.SCENARIOS] = len(scenario_names)
        control.release()
        return cls(shm, scenario_names)

    @property
    def name(self) -> str:
        return self._shm.name

    def slot_base(self, index: int) -> int:
        if not 0 <= index < self.nslots:
            raise IndexError(f"no slot {index} (the bus has {self.nslots})")
        return CONTROL_WORDS + index * self._slot_words

    def block_base(self, slot: int, block: int) -> int:
        """Where histogram block ``block`` of a slot starts (see the module's layout)."""
        return self.slot_base(slot) + COUNTER_WORDS + block * SCENARIO_WORDS

    def scenario_base(self, slot: int, scenario: int) -> int:
        """Where scenario ``scenario``'s durations block starts."""
        return self.block_base(slot, RUN_BLOCKS + 2 * scenario)

    def response_base(self, slot: int, scenario: int) -> int:
        """Where scenario ``scenario``'s response-times block starts."""
        return self.block_base(slot, RUN_BLOCKS + 2 * scenario + 1)

    def errors_base(self, slot: int) -> int:
        return self.block_base(slot, RUN_BLOCKS + 2 * self.nscenarios)

    def endpoints_base(self, slot: int) -> int:
        return self.errors_base(slot) + ERROR_ENTRIES * ERROR_WORDS

    def endpoint_writer(self, slot: int, overflow_name: str) -> endpoints.EndpointWriter:
        return endpoints.EndpointWriter(
            self.words, self.bytes, self.endpoints_base(slot), overflow_name
        )

    def read_endpoints(
        self, reader: endpoints.EndpointReader
    ) -> dict[str, endpoints.EndpointDelta]:
        """Per-endpoint deltas of every slot since ``reader`` last read."""
        tables = [self.endpoints_base(slot) for slot in range(self.nslots)]
        return reader.read(self.words, self.bytes, tables)

    def writer(self, index: int) -> SlotWriter:
        return SlotWriter(self, index)

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

    def snapshot(self) -> Snapshot:
        """Sum every slot into an immutable :class:`Snapshot`."""
        totals = [0] * COUNTER_WORDS
        per_scenario: list[list[Histogram]] = [[] for _ in range(self.nscenarios)]
        responses: list[list[Histogram]] = [[] for _ in range(self.nscenarios)]
        latencies: list[Histogram] = []
        lateness: list[Histogram] = []
        ok = [0] * self.nscenarios
        failed = [0] * self.nscenarios
        errors: dict[tuple[ErrorKind, str], _ErrorTotal] = {}
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
            for i in range(self.nscenarios):
                sbase = self.scenario_base(slot, i)
                ok[i] += words[sbase + SC_OK]
                failed[i] += words[sbase + SC_FAILED]
                _collect(per_scenario[i], self._histogram(sbase))
                _collect(responses[i], self._histogram(self.response_base(slot, i)))
            self._read_errors(slot, counters[Counter.ERROR_ENTRIES], errors)
        scenarios = tuple(
            ScenarioStats(
                name,
                ok[i],
                failed[i],
                Histogram.merge(per_scenario[i]),
                Histogram.merge(responses[i]),
            )
            for i, name in enumerate(self.scenario_names)
        )
        return Snapshot(
            taken_at=time.monotonic(),
            scenarios=scenarios,
            errors=tuple(
                ErrorStat(kind, message, total.count, total.traceback)
                for (kind, message), total in errors.items()
            ),
            workers=totals[Counter.WORKERS],
            workers_started=totals[Counter.WORKERS_STARTED],
            processes_running=running,
            pick_failures=totals[Counter.PICK_FAILURES],
            connection_failures=totals[Counter.CONNECTION_FAILURES],
            setup_failures=totals[Counter.SETUP_FAILURES],
            session_setup_failures=totals[Counter.SESSION_SETUP_FAILURES],
            errors_dropped=totals[Counter.ERRORS_DROPPED],
            pids=tuple(pids),
            requests=totals[Counter.REQUESTS],
            statuses=tuple(totals[Counter.STATUS_1XX : Counter.STATUS_1XX + STATUS_WORDS]),
            response_bytes=totals[Counter.RESPONSE_BYTES],
            request_errors_by_kind=tuple(
                totals[Counter.REQUEST_ERRORS : Counter.REQUEST_ERRORS + REQUEST_ERROR_WORDS]
            ),
            request_latency=Histogram.merge(latencies),
            started=totals[Counter.STARTED],
            dropped=totals[Counter.DROPPED],
            waiting=totals[Counter.WAITING],
            busy=totals[Counter.BUSY],
            start_lateness=Histogram.merge(lateness),
        )

    def _histogram(self, base: int) -> Histogram | None:
        """The histogram of a block (a scenario's, or the request-latency one), if not empty."""
        words = self.words
        head = words[base : base + SCENARIO_HEADER].tolist()
        count = head[SC_OK] + head[SC_FAILED]
        if not count:
            return None
        start = base + SCENARIO_HEADER
        buckets = tuple(words[start : start + NBUCKETS].tolist())
        return Histogram(buckets, count, head[SC_SUM_US], head[SC_MAX_US])

    def _read_errors(
        self, slot: int, published: int, into: dict[tuple[ErrorKind, str], _ErrorTotal]
    ) -> None:
        words = self.words
        base = self.errors_base(slot)
        for index in range(min(published, ERROR_ENTRIES)):
            entry = base + index * ERROR_WORDS
            cached = self._error_text.get((slot, index))
            if cached is None:
                # Published entries never change their text: decode each once.
                start = (entry + ERROR_HEADER) * WORD
                text_len = words[entry + E_TEXT_LEN]
                tb_len = words[entry + E_TB_LEN]
                text = bytes(self.bytes[start : start + text_len]).decode("utf-8", "replace")
                tb_start = start + ERROR_TEXT_BYTES
                tb = bytes(self.bytes[tb_start : tb_start + tb_len]).decode("utf-8", "replace")
                cached = (ErrorKind(words[entry + E_KIND]), text, tb)
                self._error_text[(slot, index)] = cached
            kind, text, tb = cached
            total = into.get((kind, text))
            if total is None:
                total = into[(kind, text)] = _ErrorTotal(tb)
            total.count += words[entry + E_COUNT]

    # -- lifetime ------------------------------------------------------------------------

    def close(self) -> None:
        """Release this process's mapping; in the creating process also remove the block."""
        self.words.release()
        self.bytes.release()
        self._shm.close()
        if os.getpid() == self._owner_pid:
            with contextlib.suppress(FileNotFoundError):
                self._shm.unlink()
