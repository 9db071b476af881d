"""The StatsD emitter, checked on a real UDP socket bound on 127.0.0.1 by the test.

The real ``molotov`` command runs against the live local target with ``--statsd``; a thread
of the test reads every datagram until the run has ended (and a short drain after it): the
``Listener`` of support.py, which parses the lines (``name:value|type[|@rate]``). Their names,
values and rates are compared with what the target served.
"""

from __future__ import annotations

import json
import re
import socket
import textwrap
from collections.abc import Iterator

import pytest

from molotov.live.statsd import SAMPLES_PER_FLUSH, StatsdEmitter
from molotov.stats.histogram import NBUCKETS, Histogram, bucket_of
from molotov.stats.naming import statsd_name
from molotov.stats.snapshot import ScenarioStats, Snapshot
from support import Line, Listener, closing, statsd_listener, total

HOST = socket.gethostname()

HEADER = textwrap.dedent(
    """\
    import os

    import aiohttp
    import molotov
    from molotov import get_context

    URL = os.environ["TARGET_URL"]

    """
)


@pytest.fixture
def listener() -> Iterator[Listener]:
    with statsd_listener() as server:
        yield server


@pytest.fixture
def scenario_file(write_scenario):
    def write(body: str) -> None:
        write_scenario(HEADER + textwrap.dedent(body))

    return write


def named(lines: list[Line], name: str, kind: str) -> list[Line]:
    return [line for line in lines if line.name == name and line.type == kind]


def timed_requests(timings: list[Line]) -> float:
    """How many requests a set of timing samples stands for: the sum of 1/rate."""
    return sum(1 / (line.rate or 1.0) for line in timings)


def endpoint(path: str) -> str:
    return f"molotov.{HOST}.GET.127.0.0.1.{path}"


def flushes(lines: list[Line], prefix: str = "molotov") -> int:
    """Each flush sends the workers gauge exactly once."""
    return len(named(lines, f"{prefix}.workers", "g"))


MIX = """
@molotov.scenario()
async def mix(session):
    get_context(session).statsd.increment("custom.hits")
    async with session.get(URL + "/") as resp:
        await resp.read()
    async with session.get(URL + "/status/404") as resp:
        await resp.read()
"""


def test_run_metrics_and_molotov_names(scenario_file, run_molotov, target, listener, tmp_path):
    scenario_file(MIX)
    result = run_molotov(
        "--statsd",
        "--statsd-address",
        listener.address,
        "--statsd-interval",
        "0.2",
        "-w",
        "2",
        "-r",
        "20",
        "--report",
        "r.json",
        "loadtest.py",
    )
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert closing(result.stdout) == (40, 0)
    assert "StatsD" not in result.stdout + result.stderr
    lines = listener.lines()
    doc = json.loads((tmp_path / "r.json").read_text())
    assert target.hits["/"] == target.hits["/status/404"] == 40

    # Run-level counters, from bus deltas: their sums are the run's totals.
    assert total(lines, "molotov.scenario.mix.success") == 40 == doc["successes"]
    assert total(lines, "molotov.scenario.mix.failure") == 0
    assert total(lines, "molotov.requests") == target.total == 80
    assert total(lines, "molotov.status.2xx") == 40
    assert total(lines, "molotov.status.4xx") == 40
    for label in ("1xx", "3xx", "5xx"):
        assert not named(lines, f"molotov.status.{label}", "c")
    assert not [line for line in lines if line.name.startswith("molotov.errors.")]

    # Gauges.
    assert flushes(lines) >= 1
    assert all(line.value >= 0 for line in named(lines, "molotov.workers", "g"))
    latency = [line for line in lines if line.name.startswith("molotov.latency.")]
    assert latency
    assert {line.type for line in latency} == {"g"}
    names = [line.name for line in latency]
    assert names == ["molotov.latency.p50", "molotov.latency.p95", "molotov.latency.p99"] * (
        len(names) // 3
    )
    for i in range(0, len(latency), 3):
        p50, p95, p99 = (line.value for line in latency[i : i + 3])
        assert 0 < p50 <= p95 <= p99

    # Molotov-compatible names: a counter per status, pre-summed per flush.
    # /status/404 is named GET /status/{id}: numeric segments are grouped.
    root, missing = endpoint("/"), endpoint("/status/{id}")
    assert total(lines, f"{root}.200") == target.hits["/"]
    assert total(lines, f"{missing}.404") == target.hits["/status/404"]
    assert len(named(lines, f"{root}.200", "c")) <= flushes(lines)
    assert any(line.value > 1 for line in named(lines, f"{root}.200", "c"))
    assert any(line.value > 1 for line in named(lines, "molotov.requests", "c"))
    # ... and timings, whose rates say how many requests they stand for.
    for name, hits in ((root, 40), (missing, 40)):
        timings = named(lines, name, "ms")
        assert timings
        assert all(line.value > 0 for line in timings)
        assert len(timings) <= SAMPLES_PER_FLUSH * flushes(lines)
        assert timed_requests(timings) == pytest.approx(hits, rel=1e-4)
    raw = b"\n".join(listener.packets).decode()
    assert re.search(rf"^{re.escape(root)}:\d+\.\d+\|ms", raw, re.MULTILINE)

    # A scenario's own metrics, sent by its context's client.
    custom = [line for line in lines if line.name == "custom.hits"]
    assert len(custom) == 40
    assert all((line.value, line.type, line.rate) == (1, "c", None) for line in custom)
    assert raw.count("custom.hits:1|c") == 40


def test_timings_beyond_the_sample_cap_carry_their_rate(
    scenario_file, run_molotov, target, listener
):
    scenario_file(
        """
        @molotov.scenario()
        async def fast(session):
            async with session.get(URL + "/") as resp:
                await resp.read()
        """
    )
    result = run_molotov(
        "--statsd",
        "--statsd-address",
        listener.address,
        "--statsd-interval",
        "1",
        "-w",
        "4",
        "-r",
        "75",
        "loadtest.py",
    )
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert closing(result.stdout) == (300, 0)
    lines = listener.lines()
    assert target.hits["/"] == 300
    root = endpoint("/")
    assert total(lines, f"{root}.200") == 300
    timings = named(lines, root, "ms")
    # 300 requests in a few flushes: some flush saw more than the cap, and sampled.
    count = flushes(lines)
    assert SAMPLES_PER_FLUSH * count < 300, f"{count} flushes: no flush needed sampling"
    assert len(timings) <= SAMPLES_PER_FLUSH * count
    sampled = [line for line in timings if line.rate is not None]
    assert sampled, timings
    assert all(0 < line.rate < 1 for line in sampled)
    # rate = samples / requests of that name in that flush: together they stand for them all.
    assert timed_requests(timings) == pytest.approx(300, rel=1e-4)
    raw = b"\n".join(listener.packets).decode()
    assert re.search(rf"^{re.escape(root)}:\d+\.\d+\|ms\|@0\.\d+$", raw, re.MULTILINE)


def test_prefix_placeholders_and_error_counters(scenario_file, run_molotov, target, listener):
    scenario_file(
        """
        @molotov.scenario()
        async def probe(session):
            statsd = get_context(session).statsd
            statsd.gauge("custom.level", 3)
            statsd.timing("custom.time", 12)
            async with session.get(URL + "/") as resp:
                await resp.read()
            try:
                async with session.get("http://127.0.0.1:1/") as resp:
                    await resp.read()
            except aiohttp.ClientConnectionError:
                pass
        """
    )
    result = run_molotov(
        "--statsd",
        "--statsd-address",
        listener.address,
        "--statsd-prefix",
        "lt.{index}",
        "--statsd-interval",
        "0.2",
        "-w",
        "1",
        "-r",
        "5",
        "loadtest.py",
        JOB_COMPLETION_INDEX="5",
    )
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert closing(result.stdout) == (5, 0)
    lines = listener.lines()
    per_request = f"molotov.{HOST}."
    # A scenario's own client sends the names it is given.
    assert named(lines, "custom.level", "g") == [Line("custom.level", 3, "g")] * 5
    assert named(lines, "custom.time", "ms") == [Line("custom.time", 12, "ms")] * 5
    run_level = [line for line in lines if not line.name.startswith((per_request, "custom."))]
    assert run_level
    assert all(line.name.startswith("lt.5.") for line in run_level), {
        line.name for line in run_level
    }
    assert total(lines, "lt.5.scenario.probe.success") == 5
    assert total(lines, "lt.5.requests") == 10
    assert total(lines, "lt.5.status.2xx") == 5
    assert total(lines, "lt.5.errors.refused") == 5
    assert flushes(lines, "lt.5") >= 1
    # The Molotov-compatible names keep their form whatever the prefix.
    assert total(lines, f"{endpoint('/')}.200") == 5
    assert named(lines, endpoint("/"), "ms")


ENTRIES = 50


def test_distinct_names_are_capped(scenario_file, run_molotov, target, listener):
    scenario_file(
        """
        @molotov.scenario()
        async def crawl(session):
            for i in range(300):
                async with session.get(f"{URL}/p/n{i}") as resp:  # n0, n1: never grouped
                    await resp.read()
        """
    )
    result = run_molotov(
        "--max-request-names",
        str(ENTRIES),
        "--statsd",
        "--statsd-address",
        listener.address,
        "--statsd-interval",
        "0.2",
        "-w",
        "1",
        "-r",
        "1",
        "loadtest.py",
    )
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert closing(result.stdout) == (1, 0)
    assert target.total == 300
    lines = listener.lines()
    prefix = f"molotov.{HOST}."
    counters = [line for line in lines if line.name.startswith(prefix) and line.type == "c"]
    timings = [line for line in lines if line.name.startswith(prefix) and line.type == "ms"]
    assert {line.name.rsplit(".", 1)[1] for line in counters} == {"404"}
    names = {line.name.rsplit(".", 1)[0] for line in counters}
    overflow = f"{prefix}other"
    assert overflow in names
    assert len(names) <= ENTRIES
    assert {line.name for line in timings} <= names
    # Every request is still counted, the ones past the cap under one name.
    assert sum(line.value for line in counters) == 300
    assert total(lines, f"{overflow}.404") == 300 - (ENTRIES - 1)
    assert timed_requests([line for line in timings if line.name == overflow]) == pytest.approx(
        300 - (ENTRIES - 1), rel=1e-4
    )


@pytest.mark.parametrize(
    "address",
    ["http://127.0.0.1:8125", "udp://127.0.0.1", "udp://127.0.0.1:99999", "tcp://:8125"],
    ids=["unknown-scheme", "no-port", "port-out-of-range", "no-host"],
)
def test_a_malformed_address_is_a_usage_error(scenario_file, run_molotov, target, address):
    scenario_file(MIX)
    result = run_molotov("--statsd", "--statsd-address", address, "-r", "1", "loadtest.py")
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    assert address in errors[0]
    assert target.total == 0


@pytest.mark.parametrize(
    "address",
    ["udp://no-such-host.invalid:8125", "tcp://127.0.0.1:1"],
    ids=["unresolvable", "tcp-refused"],
)
def test_an_unreachable_server_never_fails_the_run(scenario_file, run_molotov, target, address):
    scenario_file(
        """
        @molotov.scenario()
        async def counted(session):
            statsd = get_context(session).statsd
            statsd.increment("custom.hits")
            statsd.gauge("custom.level", 3)
            statsd.timing("custom.time", 12)
            async with session.get(URL + "/") as resp:
                assert resp.status == 200
        """
    )
    result = run_molotov(
        "--statsd",
        "--statsd-address",
        address,
        "--statsd-interval",
        "0.1",
        "-p",
        "2",
        "-w",
        "2",
        "-r",
        "3",
        "loadtest.py",
    )
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert closing(result.stdout) == (12, 0)
    assert target.total == 12
    output = result.stdout.splitlines() + result.stderr.splitlines()
    assert not [line for line in output if "Traceback" in line]
    mentions = [line for line in output if "statsd" in line.lower()]
    # Seen: the parent's emitter warns once; the worker processes' scenario clients each fail
    # too, which is one aggregated error (shown once as it happens, once in the summary).
    emitter = [line for line in mentions if "no metrics will be sent" in line]
    live = [line for line in mentions if line.startswith("ERROR statsd")]
    summary = [line for line in mentions if line.startswith("  statsd (")]
    assert len(emitter) <= 1, mentions
    assert len(live) <= 1, mentions
    assert len(summary) <= 1, mentions
    assert sorted(mentions) == sorted(emitter + live + summary), mentions
    for line in mentions:
        assert address in line


def histogram(values_us: list[int]) -> Histogram:
    buckets = [0] * NBUCKETS
    for value in values_us:
        buckets[bucket_of(value)] += 1
    return Histogram(tuple(buckets), len(values_us), sum(values_us), max(values_us))


def test_latency_gauges_of_an_interval_never_exceed_the_max(listener):
    """The gauges are percentiles of the interval's latencies: never above the max seen."""
    warnings: list[str] = []
    emitter = StatsdEmitter(listener.address, "molotov", 0, warnings.append)
    stats = (ScenarioStats("s", 1, 0, histogram([10])),)
    first = Snapshot(taken_at=1.0, scenarios=stats, requests=1, request_latency=histogram([100]))
    # The next interval has one request of 1000 µs (bucket 1000 .. 1003 µs): the max so far.
    second = Snapshot(
        taken_at=2.0, scenarios=stats, requests=2, request_latency=histogram([100, 1000])
    )
    emitter.flush(first)
    emitter.flush(second)
    lines = listener.lines()
    assert warnings == []
    assert total(lines, "molotov.requests") == 2
    gauges = [line for line in lines if line.name.startswith("molotov.latency.")]
    assert [line.value for line in gauges[:3]] == [0.1, 0.1, 0.1]
    assert len(gauges) == 6
    for line in gauges[3:]:
        assert line.value <= second.request_latency.max_us / 1000, line


def test_per_request_names_keep_slashes_but_not_line_breakers():
    name = statsd_name("GET /a/b:c|d@e\nf", "127.0.0.1")
    assert name == f"molotov.{socket.gethostname()}.GET.127.0.0.1./a/b_c_d_e_f"
    assert statsd_name("POST /", "example.test") == (
        f"molotov.{socket.gethostname()}.POST.example.test./"
    )
    # An explicit name (molotov.named) is the metric's last part.
    assert statsd_name("login step", "example.test") == f"molotov.{socket.gethostname()}.login step"


def test_open_model_metrics(scenario_file, run_molotov, target, listener, tmp_path):
    scenario_file(
        """
        @molotov.scenario()
        async def slow(session):
            async with session.get(URL + "/slow", params={"s": "0.3"}) as resp:
                await resp.read()
        """
    )
    result = run_molotov(
        "--statsd", "--statsd-address", listener.address, "--statsd-interval", "0.2",
        "--rate", "20", "--iterations", "20", "-w", "1", "--max-lag", "0.05",
        "--report", "r.json", "loadtest.py",
    )  # fmt: skip
    assert result.returncode == 0, (result.stdout, result.stderr)
    totals = json.loads((tmp_path / "r.json").read_text())["totals"]
    assert totals["dropped"] > 0
    lines = listener.lines()
    assert total(lines, "molotov.dropped") == totals["dropped"]
    assert {line.value for line in named(lines, "molotov.target", "g")} == {20}
    responses = named(lines, "molotov.response.p99", "g")
    assert responses
    # A response time counts from the scheduled start: at least the step's 300 ms.
    assert all(line.value >= 300 for line in responses), responses
