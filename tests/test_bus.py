"""molotov.stats.bus: the shared-memory stats bus, written by real forked processes."""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from molotov.stats.bus import StatsBus
from molotov.stats.histogram import NBUCKETS, Histogram, bucket_of
from molotov.stats.layout import (
    DURATIONS_BLOCK,
    ERROR_ENTRIES,
    ERROR_TEXT_BYTES,
    ERROR_TRACEBACK_BYTES,
    MAGIC,
    RESPONSES_BLOCK,
    SCENARIO_WORDS,
    WORD,
    Control,
    Counter,
    StopReason,
)
from molotov.stats.naming import OTHER
from molotov.stats.snapshot import ErrorKind, ErrorStat

SHM = Path("/dev/shm")


def histogram_of(values: list[int]) -> Histogram:
    buckets = [0] * NBUCKETS
    for value in values:
        buckets[bucket_of(value)] += 1
    return Histogram(tuple(buckets), len(values), sum(values), max(values, default=0))


@pytest.fixture
def make_bus() -> Iterator[Callable[..., StatsBus]]:
    """Create buses that are always closed (and so unlinked) at the end of the test."""
    buses: list[StatsBus] = []

    def make(nslots: int = 1, scenarios: list[str] | None = None) -> StatsBus:
        bus = StatsBus.create(nslots, ["alpha", "beta"] if scenarios is None else scenarios, 16)
        buses.append(bus)
        return bus

    yield make
    for bus in buses:
        if not _released(bus):
            bus.close()


def _released(bus: StatsBus) -> bool:
    try:
        len(bus.words)
    except ValueError:
        return True
    return False


# -- layout and steps ---------------------------------------------------------------------


def test_create_writes_the_control_block(make_bus):
    bus = make_bus(3, ["a", "b", "c", "d"])
    assert bus.words[Control.MAGIC] == MAGIC
    assert bus.words[Control.SLOTS] == 3
    assert bus.words[Control.SCENARIOS] == 4
    assert bus.nslots == 3
    assert bus.nscenarios == 4
    assert bus.stop_reason == StopReason.RUNNING
    assert not bus.forced
    assert (SHM / bus.name).exists()


def test_fresh_bus_snapshot_is_all_zero(make_bus):
    snapshot = make_bus(2).snapshot()
    assert [s.name for s in snapshot.scenarios] == ["alpha", "beta"]
    assert snapshot.steps == 0
    assert snapshot.errors == ()
    assert snapshot.pids == ()
    assert snapshot.workers == 0
    assert snapshot.durations == Histogram.empty()


def test_slot_writer_records_steps(make_bus):
    bus = make_bus(1)
    writer = bus.writer(0)
    alpha = [120, 5, 3000, 250_000]
    beta = [40, 41]
    for us in alpha:
        writer.step_done(0, True, us)
    writer.step_done(0, False, 99)
    for us in beta:
        writer.step_done(1, False, us)
    snapshot = bus.snapshot()
    first, second = snapshot.scenarios
    assert (first.name, first.successes, first.failures) == ("alpha", 4, 1)
    assert (second.name, second.successes, second.failures) == ("beta", 0, 2)
    assert first.durations == histogram_of([*alpha, 99])
    assert second.durations == histogram_of(beta)
    assert snapshot.successes == 4
    assert snapshot.failures == 3
    assert snapshot.steps == 7
    assert snapshot.durations == histogram_of([*alpha, 99, *beta])
    assert snapshot.durations.max_us == 250_000


def test_counters_sum_over_slots(make_bus):
    bus = make_bus(3)
    for index in range(3):
        writer = bus.writer(index)
        writer.set(Counter.PID, 1000 + index)
        writer.set(Counter.RUNNING, 1)
        writer.add(Counter.WORKERS, index + 1)
        writer.add(Counter.WORKERS_STARTED, 2)
        writer.add(Counter.PICK_FAILURES)
        writer.add(Counter.CONNECTION_FAILURES, 2)
        writer.add(Counter.SETUP_FAILURES, 3)
        writer.add(Counter.SESSION_SETUP_FAILURES, 4)
    bus.writer(1).set(Counter.RUNNING, 0)
    snapshot = bus.snapshot()
    assert snapshot.pids == (1000, 1001, 1002)
    assert snapshot.processes_running == 2
    assert snapshot.workers == 6
    assert snapshot.workers_started == 6
    assert snapshot.pick_failures == 3
    assert snapshot.connection_failures == 6
    assert snapshot.setup_failures == 9
    assert snapshot.session_setup_failures == 12
    # Pick failures are failed steps that belong to no scenario.
    assert snapshot.failures == 3
    assert bus.counter(2, Counter.WORKERS) == 3


def test_slots_do_not_overlap(make_bus):
    bus = make_bus(2)
    bus.writer(0).step_done(1, True, 7)
    bus.writer(1).step_done(0, False, 8)
    bus.writer(1).error(ErrorKind.SCENARIO, "only in slot 1")
    assert bus.counter(0, Counter.ERROR_ENTRIES) == 0
    assert bus.counter(1, Counter.ERROR_ENTRIES) == 1
    snapshot = bus.snapshot()
    assert [(s.successes, s.failures) for s in snapshot.scenarios] == [(0, 1), (1, 0)]


def test_a_tick_reads_the_run_wide_histograms_instead_of_the_scenarios(make_bus):
    """A live tick leaves the scenarios' histograms out (hundreds of them cost the parent's
    tick tens of ms): their sum comes whole from the run-wide blocks, exactly, and the
    scenarios' are still there for whoever reads them."""
    bus = make_bus(2, [f"s{i}" for i in range(5)])
    durations: list[int] = []
    responses: list[int] = []
    for slot in range(2):
        writer = bus.writer(slot)
        for i in range(50):
            duration, response = 1000 + 997 * i * (slot + 1), 2000 + 131 * i
            writer.step_done(i % 5, i % 7 != 0, duration)
            writer.response_time(i % 5, response)
            durations.append(duration)
            responses.append(response)
    full = bus.snapshot()
    tick = bus.snapshot(scenarios=False)
    assert full.scenario_histograms and not tick.scenario_histograms
    assert tick.durations == full.durations == histogram_of(durations)
    assert tick.response_times == full.response_times == histogram_of(responses)
    assert [(s.name, s.successes, s.failures) for s in tick.scenarios] == [
        (s.name, s.successes, s.failures) for s in full.scenarios
    ]
    assert all(s.durations.count == 0 for s in tick.scenarios)
    assert bus.read_scenarios() == full.scenarios
    assert full.scenarios[0].durations.count == 20


def test_a_one_scenario_run_writes_its_steps_once(make_bus):
    """With one scenario, its own blocks are the run's: a tick reads the same histograms, and
    the run-wide blocks stay untouched (each step and response time written once)."""
    bus = make_bus(2, ["only"])
    durations: list[int] = []
    responses: list[int] = []
    for slot in range(2):
        writer = bus.writer(slot)
        for i in range(30):
            writer.step_done(0, i % 4 != 0, 500 + 311 * i)
            writer.response_time(0, 900 + 17 * i)
            durations.append(500 + 311 * i)
            responses.append(900 + 17 * i)
    tick, full = bus.snapshot(scenarios=False), bus.snapshot()
    assert tick.durations == full.durations == histogram_of(durations)
    assert tick.response_times == full.response_times == histogram_of(responses)
    assert (tick.steps, tick.scenarios[0].failures) == (60, 16)
    for slot in range(2):
        for block in (DURATIONS_BLOCK, RESPONSES_BLOCK):
            start = bus.block_base(slot, block)
            assert not any(bus.words[start : start + SCENARIO_WORDS])


@pytest.mark.parametrize("scenarios", [1, 2, 3, 7])
def test_each_request_entry_starts_a_cache_line(make_bus, scenarios):
    """An entry's hot words (all a response writes but its bucket) share one 64-byte line."""
    bus = make_bus(3, [f"s{i}" for i in range(scenarios)])
    for slot in range(3):
        table = bus.request_writer(slot)
        entries = [table.entry_named(f"GET /{i}") for i in range(bus.max_names + 2)]
        assert all(entry * WORD % 64 == 0 for entry in entries)
        assert (bus.requests_base(slot) * WORD) % 64 == 0


def test_status_codes_fill_a_name_s_pairs_then_its_classes(make_bus):
    """16 codes get a pair each (0 is a code like any other); the 17th and later are counted as
    unlisted (code 0) in their status class, so the run's classes stay exact."""
    bus = make_bus()
    writer, table = bus.writer(0), bus.request_writer(0)
    entry = table.entry_named("GET /codes")
    codes = [0, *range(200, 215), 299, 404, 503, 700, 200, 0]
    for code in codes:
        writer.request_done(entry, code, 100)
    writer.request_failed(entry, 2)
    snapshot = bus.snapshot()
    (stats,) = snapshot.by_request
    listed = {**dict.fromkeys(range(201, 215), 1), 200: 2}
    assert dict(stats.status_codes) == {**listed, 0: 2 + 4}  # two 0s, 299 404 503 700 unlisted
    assert stats.requests == snapshot.requests == len(codes) + 1
    assert snapshot.statuses == (0, 17, 0, 1, 1, 3)
    assert stats.latency is not None and stats.latency.count == len(codes)


def test_a_name_in_several_slots_sums_its_counts_and_codes(make_bus):
    bus = make_bus(3)
    for slot, codes in enumerate([(200, 404), (404, 503, 200), (201,)]):
        writer, table = bus.writer(slot), bus.request_writer(slot)
        entry = table.entry_named("GET /x", "example.com" if slot == 1 else "")
        for code in codes:
            writer.request_done(entry, code, 100 * (slot + 1))
        writer.response_bytes(entry, 10)
        writer.request_failed(entry, 1)
    (stats,) = bus.snapshot().by_request
    assert stats.requests == 9
    assert stats.response_bytes == 30
    assert stats.errors_by_kind[1] == 3
    assert stats.status_codes == ((200, 2), (201, 1), (404, 2), (503, 1))
    assert stats.host == "example.com"
    assert stats.latency is not None and stats.latency.count == 6
    (unread,) = bus.snapshot(lambda name: False).by_request
    assert unread.latency is None and unread.status_codes == stats.status_codes


def test_a_writer_of_a_full_table_counts_new_names_in_its_other_entry(make_bus):
    """A slot's table written by a second writer (a benchmark's, a restarted worker's) once an
    earlier one filled it: new names go to the table's own ``other`` entry, not past its end."""
    bus = make_bus(2)
    first = bus.request_writer(0)
    for i in range(bus.max_names + 1):  # the last one already goes to other
        first.entry_named(f"GET /{i}")
    second, writer = bus.request_writer(0), bus.writer(0)
    writer.request_done(second.entry_named("GET /new"), 200, 100)
    writer.request_done(first.entry_named("GET /newer"), 200, 100)
    stats = {s.name: s for s in bus.snapshot().by_request}
    assert len(stats) == bus.max_names
    assert stats[OTHER].requests == 2
    assert bus.snapshot().requests == 2


def test_names_read_by_two_threads_while_new_ones_appear_stay_in_place():
    """The tick and a remote write's thread read the same tables: a name published while both
    decode it must be decoded once, or every later name of the table would shift."""
    bus = StatsBus.create(1, ["s"], 1500)
    writer, table = bus.writer(0), bus.request_writer(0)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # thread switches anywhere, the decoding loop included
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            bus.read_requests(lambda name: False)

    readers = [threading.Thread(target=read) for _ in range(2)]
    try:
        for reader in readers:
            reader.start()
        for i in range(1400):
            writer.request_done(table.entry_named(f"GET /n{i}"), 200 + i % 7, 100)
    finally:
        done.set()
        for reader in readers:
            reader.join(10)
        sys.setswitchinterval(interval)
    by_name = {stats.name: stats for stats in bus.snapshot().by_request}
    bus.close()
    assert len(by_name) == 1400
    assert all(by_name[f"GET /n{i}"].status_codes == ((200 + i % 7, 1),) for i in range(1400))


@pytest.mark.parametrize("index", [-1, 2, 10])
def test_no_such_slot(make_bus, index):
    bus = make_bus(2)
    with pytest.raises(IndexError, match=f"no slot {index}"):
        bus.writer(index)


# -- real forked writers ------------------------------------------------------------------


def _child(bus: StatsBus, slot: int, steps: int, first_us: int) -> None:
    writer = bus.writer(slot)
    writer.set(Counter.PID, os.getpid())
    writer.set(Counter.RUNNING, 1)
    for i in range(steps):
        writer.step_done(i % 2, i % 5 != 0, first_us + i)
    writer.error(ErrorKind.SCENARIO, "shared failure", f"traceback of slot {slot}")
    writer.error(ErrorKind.SCENARIO, "shared failure", "not stored")
    writer.error(ErrorKind.CONNECTION, f"only in slot {slot}")
    writer.set(Counter.RUNNING, 0)


def test_two_forked_processes_give_exact_totals(make_bus):
    bus = make_bus(2)
    context = multiprocessing.get_context("fork")
    plan = {0: (3000, 100), 1: (1700, 5000)}
    processes = [
        context.Process(target=_child, args=(bus, slot, steps, first_us))
        for slot, (steps, first_us) in plan.items()
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(30)
    assert [p.exitcode for p in processes] == [0, 0]

    snapshot = bus.snapshot()
    assert sorted(snapshot.pids) == sorted(p.pid for p in processes)
    assert os.getpid() not in snapshot.pids
    assert snapshot.processes_running == 0

    expected = {0: ([], []), 1: ([], [])}  # scenario -> (ok durations, failed durations)
    for steps, first_us in plan.values():
        for i in range(steps):
            expected[i % 2][0 if i % 5 != 0 else 1].append(first_us + i)
    for index, stats in enumerate(snapshot.scenarios):
        ok, failed = expected[index]
        assert stats.successes == len(ok)
        assert stats.failures == len(failed)
        assert stats.durations == histogram_of(ok + failed)
    assert snapshot.steps == 4700

    errors = {(e.kind, e.message): e for e in snapshot.errors}
    assert set(errors) == {
        (ErrorKind.SCENARIO, "shared failure"),
        (ErrorKind.CONNECTION, "only in slot 0"),
        (ErrorKind.CONNECTION, "only in slot 1"),
    }
    shared = errors[(ErrorKind.SCENARIO, "shared failure")]
    assert shared.count == 4
    # Each slot keeps its first traceback; the snapshot reads the slots in order.
    assert shared.traceback == "traceback of slot 0"
    assert errors[(ErrorKind.CONNECTION, "only in slot 1")].count == 1
    # The children's mappings are gone with them; the block stays until the parent closes it.
    assert (SHM / bus.name).exists()


def _busy_writer(bus: StatsBus, values: int) -> None:
    writer = bus.writer(0)
    entry = bus.request_writer(0).entry_named("GET /")
    for i in range(values):
        writer.request_done(entry, 200, 1 + i % 5000)
        writer.step_done(0, True, 1 + i % 3000)


def test_a_snapshot_taken_while_a_process_writes_is_consistent(make_bus):
    """A histogram's count always equals its buckets' sum, however the reads interleave with
    the writer's (reports check it, and the per-second series are differences of snapshots)."""
    bus = make_bus(1)
    process = multiprocessing.get_context("fork").Process(target=_busy_writer, args=(bus, 400_000))
    process.start()
    torn = []
    try:
        for _ in range(3000):
            if process.exitcode is not None:
                break
            snapshot = bus.snapshot()
            [by_name] = snapshot.by_request or [None]
            histograms = [snapshot.request_latency, snapshot.scenarios[0].durations]
            if by_name is not None and by_name.latency is not None:
                histograms.append(by_name.latency)
            for histogram in histograms:
                if histogram.count != sum(histogram.buckets):
                    torn.append((histogram.count, sum(histogram.buckets)))
    finally:
        process.join(60)
    assert process.exitcode == 0
    assert torn == []


def _paced_steps(bus: StatsBus, steps: int) -> None:
    """Steps of 50 scenarios at ~2,000 a second, about what two workers of a busy run end."""
    writer = bus.writer(0)
    for i in range(steps):
        writer.step_done(i % 50, i % 7 != 0, 1 + i % 3000)
        if i % 4 == 0:
            time.sleep(0.002)


def test_a_tick_s_step_counts_agree_with_its_durations_while_a_process_writes(make_bus):
    """A tick reads the scenarios' counts and the run-wide durations block apart, while the
    writer stores a step's count before its bucket: they still agree in every tick's snapshot
    (a series row's steps are its durations' count; a row that disagreed was seen in CI, 79
    durations for 77 steps)."""
    bus = make_bus(1, [f"scenario {i}" for i in range(50)])
    process = multiprocessing.get_context("fork").Process(target=_paced_steps, args=(bus, 4_000))
    process.start()
    ticks = disagreed = 0
    try:
        while process.exitcode is None:
            snapshot = bus.snapshot(lambda name: False, scenarios=False)
            ticks += 1
            disagreed += snapshot.steps != snapshot.durations.count
    finally:
        process.join(60)
    assert process.exitcode == 0
    assert ticks > 100 and snapshot.steps > 0
    assert disagreed == 0


# -- errors -------------------------------------------------------------------------------


def test_errors_are_deduplicated_by_kind_and_message(make_bus):
    bus = make_bus(1)
    writer = bus.writer(0)
    writer.error(ErrorKind.SCENARIO, "boom", "first traceback")
    writer.error(ErrorKind.SCENARIO, "boom", "second traceback")
    writer.error(ErrorKind.SCENARIO, "boom")
    writer.error(ErrorKind.SETUP, "boom", "setup traceback")
    writer.error(ErrorKind.SCENARIO, "other")
    assert bus.counter(0, Counter.ERROR_ENTRIES) == 3
    snapshot = bus.snapshot()
    assert set(snapshot.errors) == {
        ErrorStat(ErrorKind.SCENARIO, "boom", 3, "first traceback"),
        ErrorStat(ErrorKind.SETUP, "boom", 1, "setup traceback"),
        ErrorStat(ErrorKind.SCENARIO, "other", 1, ""),
    }
    assert snapshot.errors_dropped == 0
    assert [e.message for e in snapshot.top_errors(1)] == ["boom"]


def test_error_counts_keep_growing_after_a_snapshot(make_bus):
    bus = make_bus(1)
    writer = bus.writer(0)
    writer.error(ErrorKind.EVENT, "flaky", "tb")
    assert bus.snapshot().errors[0].count == 1
    for _ in range(9):
        writer.error(ErrorKind.EVENT, "flaky", "tb")
    assert bus.snapshot().errors == (ErrorStat(ErrorKind.EVENT, "flaky", 10, "tb"),)


def test_too_many_distinct_errors_are_dropped(make_bus):
    bus = make_bus(1)
    writer = bus.writer(0)
    for i in range(ERROR_ENTRIES):
        writer.error(ErrorKind.SCENARIO, f"error {i}")
    extra = 5
    for i in range(extra):
        writer.error(ErrorKind.SCENARIO, f"extra {i}")
    writer.error(ErrorKind.SCENARIO, "extra 0")  # still not stored: dropped again
    writer.error(ErrorKind.SCENARIO, "error 3")  # a stored one keeps counting
    snapshot = bus.snapshot()
    assert len(snapshot.errors) == ERROR_ENTRIES
    assert snapshot.errors_dropped == extra + 1
    assert bus.counter(0, Counter.ERRORS_DROPPED) == extra + 1
    counts = {e.message: e.count for e in snapshot.errors}
    assert counts["error 3"] == 2
    assert "extra 0" not in counts
    assert sum(counts.values()) == ERROR_ENTRIES + 1


@pytest.mark.parametrize("prefix", ["", "a", "ab"])
def test_long_messages_are_clipped_on_a_character_boundary(make_bus, prefix):
    bus = make_bus(1)
    writer = bus.writer(0)
    message = prefix + "€" * 200  # 3 bytes a character
    writer.error(ErrorKind.SCENARIO, message)
    (stat,) = bus.snapshot().errors
    encoded = stat.message.encode("utf-8")
    assert len(encoded) <= ERROR_TEXT_BYTES
    assert len(encoded) > ERROR_TEXT_BYTES - 3
    assert message.startswith(stat.message)
    assert "\ufffd" not in stat.message
    assert stat.message == prefix + "€" * ((ERROR_TEXT_BYTES - len(prefix)) // 3)


def test_short_multibyte_messages_are_kept_whole(make_bus):
    bus = make_bus(1)
    message = "échec: ошибка 失败 💥"
    bus.writer(0).error(ErrorKind.SCENARIO, message, "Traceback: 💥")
    (stat,) = bus.snapshot().errors
    assert stat.message == message
    assert stat.traceback == "Traceback: 💥"


def test_long_tracebacks_keep_their_end(make_bus):
    bus = make_bus(1)
    traceback = "".join(f"frame {i} é\n" for i in range(2000)) + "ValueError: the cause"
    bus.writer(0).error(ErrorKind.SCENARIO, "clipped", traceback)
    (stat,) = bus.snapshot().errors
    assert len(stat.traceback.encode("utf-8")) <= ERROR_TRACEBACK_BYTES
    assert len(stat.traceback.encode("utf-8")) > ERROR_TRACEBACK_BYTES - 4
    assert traceback.endswith(stat.traceback)
    assert stat.traceback.endswith("ValueError: the cause")
    assert "\ufffd" not in stat.traceback


def test_messages_equal_after_clipping_are_counted_together(make_bus):
    bus = make_bus(1)
    writer = bus.writer(0)
    base = "x" * ERROR_TEXT_BYTES
    writer.error(ErrorKind.SCENARIO, base + " one")
    writer.error(ErrorKind.SCENARIO, base + " two")
    assert bus.snapshot().errors == (ErrorStat(ErrorKind.SCENARIO, base, 2, ""),)


# -- control ------------------------------------------------------------------------------


def test_request_stop_keeps_the_first_reason(make_bus):
    bus = make_bus(1)
    assert bus.stop_reason is StopReason.RUNNING
    bus.request_stop(StopReason.DURATION)
    assert bus.stop_reason is StopReason.DURATION
    bus.request_stop(StopReason.FAIL)
    bus.request_stop(StopReason.SIGNAL)
    assert bus.stop_reason is StopReason.DURATION
    assert not bus.forced


def test_force(make_bus):
    bus = make_bus(1)
    bus.force()
    assert bus.forced
    assert bus.stop_reason is StopReason.SIGNAL


def test_force_keeps_an_earlier_stop_reason(make_bus):
    bus = make_bus(1)
    bus.request_stop(StopReason.FINISHED)
    bus.force()
    assert bus.forced
    assert bus.stop_reason is StopReason.FINISHED


def _stop_from_child(bus: StatsBus) -> None:
    bus.request_stop(StopReason.EXCEPTION)


def test_stop_requested_by_a_forked_process_is_seen(make_bus):
    bus = make_bus(1)
    process = multiprocessing.get_context("fork").Process(target=_stop_from_child, args=(bus,))
    process.start()
    process.join(30)
    assert process.exitcode == 0
    assert bus.stop_reason is StopReason.EXCEPTION


# -- lifetime -----------------------------------------------------------------------------


def test_close_unlinks_the_block():
    bus = StatsBus.create(2, ["alpha"], 16)
    path = SHM / bus.name
    try:
        bus.writer(0).step_done(0, True, 10)
        assert path.exists()
        assert path.stat().st_size >= len(bus.bytes)
    finally:
        bus.close()
    assert not path.exists()
    with pytest.raises(ValueError):
        bus.snapshot()


def _close_in_child(bus: StatsBus) -> None:
    bus.close()


def test_close_in_a_child_does_not_unlink():
    bus = StatsBus.create(1, ["alpha"], 16)
    path = SHM / bus.name
    try:
        process = multiprocessing.get_context("fork").Process(target=_close_in_child, args=(bus,))
        process.start()
        process.join(30)
        assert process.exitcode == 0
        assert path.exists()
        bus.writer(0).step_done(0, True, 1)
        assert bus.snapshot().steps == 1
    finally:
        bus.close()
    assert not path.exists()
