"""The stats bus's layout: where each word of the control block and of a slot lives.

See :mod:`molotov.stats.bus` for the picture. Every number is an aligned little-endian int64
"word"; the writer (:mod:`molotov.stats.slot`) and the reader (:mod:`molotov.stats.bus`) address
the block through these constants only.
"""

from __future__ import annotations

from enum import IntEnum

from molotov.stats import checks, requests
from molotov.stats.histogram import NBUCKETS
from molotov.stats.snapshot import REQUEST_ERROR_KINDS

MAGIC = 0x4D4F4C4F544F5631  # "MOLOTOV1"
FORMAT_VERSION = 4
WORD = 8
LINE_WORDS = requests.LINE_WORDS  # a 64-byte cache line: slots and request tables start on one


class Control(IntEnum):
    MAGIC = 0
    VERSION = 1
    SLOTS = 2
    SCENARIOS = 3
    STOP = 4
    FORCE = 5
    START_NS = 6  # the run's start instant (monotonic ns); 0 until the parent sets it
    TEARDOWN = 7  # 1: the worker process may run global_teardown (the console is stopped)
    NAMES = 8  # the request table's entries per slot (--max-request-names)


CONTROL_WORDS = 16


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
    """A slot's counters. The run's requests, responses by status class and response bytes are
    not among them: they are the sums of the request table's names (see stats.requests)."""

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
    READY = 10  # open model: 1 once the process's first -w workers are set up
    STARTED = 11  # steps started
    DROPPED = 12  # open model: arrivals that never started (no free worker in --max-lag)
    WAITING = 13  # open model: arrivals waiting for a free worker now
    BUSY = 14  # open model: workers running a step now
    FINISHING = 15  # -p 1 with a global_teardown: 1 workers done, 2 global_teardown done
    REQUEST_ERRORS = 16  # then one word per kind of errors.REQUEST_ERROR_KINDS
    FIRST_STEP_NS = 24  # monotonic ns when the process's first step started (0: none yet)
    CHECKS_PASSED = 25
    CHECKS_FAILED = 26
    CHECKS_DROPPED = 27  # checks counted above but past the checks table's room
    RETRIED = 28  # failed attempts aiohttp sent again at once (a stale kept-alive connection)


COUNTER_WORDS = 32
REQUEST_ERROR_WORDS = len(REQUEST_ERROR_KINDS)

# A histogram block: these words, then the buckets. A scenario's duration block counts its
# successes and failures in the two count words; other blocks use the first only.
SC_OK, SC_FAILED, SC_SUM_US, SC_MAX_US = range(4)
SCENARIO_HEADER = 4
SCENARIO_WORDS = SCENARIO_HEADER + NBUCKETS
# The run-wide blocks before the scenarios' pairs: request latency, start lateness, and every
# scenario's step durations and response times together (what a live tick reads, instead of
# summing hundreds of scenarios' blocks).
LATENCY_BLOCK, LATENESS_BLOCK, DURATIONS_BLOCK, RESPONSES_BLOCK = range(4)
RUN_BLOCKS = 4

ERROR_ENTRIES = 64
ERROR_TEXT_BYTES = 256
ERROR_TRACEBACK_BYTES = 4096
# An error entry: its count, kind, text and traceback lengths, the scenario whose step raised
# it (its index + 1; 0: none) and the request that did (its request-table number + 1; 0: none).
E_COUNT, E_KIND, E_TEXT_LEN, E_TB_LEN, E_SCENARIO, E_REQUEST = range(6)
ERROR_HEADER = 6
ERROR_WORDS = ERROR_HEADER + (ERROR_TEXT_BYTES + ERROR_TRACEBACK_BYTES) // WORD


def _whole_lines(words: int) -> int:
    return -(-words // LINE_WORDS) * LINE_WORDS


def requests_offset(nscenarios: int) -> int:
    """Where a slot's request table starts in it: past its counters, histogram blocks and
    error table, on a cache line (so that each entry's hot words are one line)."""
    blocks = (RUN_BLOCKS + 2 * nscenarios) * SCENARIO_WORDS
    return _whole_lines(COUNTER_WORDS + blocks + ERROR_ENTRIES * ERROR_WORDS)


def slot_words(nscenarios: int, max_names: int) -> int:
    """A slot's size: whole cache lines, so that every slot starts on one."""
    tables = requests.table_words(max_names) + checks.TABLE_WORDS
    return _whole_lines(requests_offset(nscenarios) + tables)
