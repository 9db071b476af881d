"""Thresholds: the ``[SCENARIO:]METRIC OP VALUE`` grammar, their judgement, and the CLI gates.

The parser and :func:`~molotov.reports.thresholds.evaluate` are tested directly against snapshots
built from known values (every value below 256 µs has a bucket of its own, so percentiles are
exact); the gates themselves through the real ``molotov`` command against the live local target.
"""

from __future__ import annotations

import math
import re
import textwrap

import pytest

from molotov.reports.thresholds import (
    METRICS,
    Threshold,
    ThresholdError,
    evaluate,
    parse_threshold,
    parse_thresholds,
    result_lines,
)
from molotov.stats.histogram import Histogram
from molotov.stats.snapshot import ScenarioStats, Snapshot
from support import assert_usage_error, closing, histogram, threshold_rows

# -- parsing ----------------------------------------------------------------------------------

DURATIONS = ("p50", "p90", "p95", "p99", "p99.9", "max", "mean")
HTTP_DURATIONS = tuple(f"http_{name}" for name in DURATIONS)
RESPONSE_DURATIONS = tuple(f"response_{name}" for name in DURATIONS)


def test_the_metric_list_is_the_documented_one():
    assert set(METRICS) == {
        *DURATIONS,
        *HTTP_DURATIONS,
        *RESPONSE_DURATIONS,
        "failure_rate",
        "rps",
        "http_rps",
        "failures",
        "errors",
        "dropped",
        "requests",
        "checks",
        "status_1xx",
        "status_2xx",
        "status_3xx",
        "status_4xx",
        "status_5xx",
        "status_other",
        "http_failure_rate",
    }


@pytest.mark.parametrize("metric", DURATIONS + HTTP_DURATIONS + RESPONSE_DURATIONS)
def test_every_duration_metric_parses_with_a_value_in_ms(metric):
    parsed = parse_threshold(f"{metric}<250ms")
    assert parsed == Threshold(f"{metric}<250ms", metric, "<", 250.0, None)
    assert parsed.unit == "ms"


@pytest.mark.parametrize(
    ("expr", "metric", "value"),
    [
        ("failure_rate<1%", "failure_rate", 0.01),
        ("failure_rate<=0%", "failure_rate", 0.0),
        ("failure_rate<12.5%", "failure_rate", 0.125),
        ("rps>100", "rps", 100.0),
        ("http_rps>=2.5", "http_rps", 2.5),
        ("failures<1", "failures", 1.0),
        ("errors<=0", "errors", 0.0),
    ],
)
def test_every_other_metric_parses(expr, metric, value):
    parsed = parse_threshold(expr)
    assert parsed.metric == metric
    assert parsed.value == pytest.approx(value)
    assert parsed.scenario is None
    assert parsed.unit == ""


@pytest.mark.parametrize("op", ["<", "<=", ">", ">="])
def test_every_operator(op):
    parsed = parse_threshold(f"p99{op}1s")
    assert parsed.op == op
    assert parsed.value == 1000.0


@pytest.mark.parametrize(
    ("value", "ms"),
    [
        ("250", 250.0),  # a bare number is milliseconds
        ("250ms", 250.0),
        ("1.5s", 1500.0),
        ("2s", 2000.0),
        ("500us", 0.5),
        ("0.25ms", 0.25),
        ("1e3us", 1.0),
    ],
)
def test_duration_units(value, ms):
    assert parse_threshold(f"p95<{value}").value == pytest.approx(ms)
    assert parse_threshold(f"http_max<{value}").value == pytest.approx(ms)


def test_spaces_around_the_parts_are_allowed_and_the_text_is_kept():
    parsed = parse_threshold("  login : p95 <= 1s ")
    assert parsed == Threshold("login : p95 <= 1s", "p95", "<=", 1000.0, "login")


@pytest.mark.parametrize(
    "expr",
    [
        "login:p50<1s",
        "login:p99.9<1s",
        "login:max<1s",
        "login:mean<1s",
        "login:failure_rate<1%",
        "login:rps>1",
        "login:failures<3",
    ],
)
def test_a_scenario_prefix_limits_a_step_metric(expr):
    assert parse_threshold(expr).scenario == "login"


@pytest.mark.parametrize("metric", [*HTTP_DURATIONS, "http_rps", "errors"])
def test_run_wide_metrics_take_no_scenario_prefix(metric):
    with pytest.raises(ThresholdError, match="run-wide"):
        parse_threshold(f"login:{metric}<1")


@pytest.mark.parametrize(
    "expr",
    [
        "",
        "p99",
        "p99 1s",
        "p99=1s",
        "p99==1s",
        "<1s",
        "p98<1s",
        "latency<1s",
        "http_p98<1s",
        "failure<1",
        "a:b:p99<1s",
    ],
)
def test_malformed_expressions_say_what_is_allowed(expr):
    with pytest.raises(ThresholdError) as info:
        parse_threshold(expr)
    message = str(info.value)
    assert "\n" not in message
    # The message lists every metric and operator there is.
    for metric in METRICS:
        assert metric in message
    assert "< <= > >=" in message


@pytest.mark.parametrize(
    ("expr", "says"),
    [
        ("p99<<1", "not a duration"),
        ("p99<1h", "not a duration"),
        ("p99<fast", "not a duration"),
        ("p99<1 s", ""),
        ("http_p50<nan", "not a duration"),
        ("p99<1e999", "not a finite number"),
        ("rps>many", "not a number"),
        ("failures<5s", "not a number"),
        ("failure_rate<1s", "not a number"),
        ("failure_rate<%", "not a number"),
        ("errors<inf", "not a finite number"),
    ],
)
def test_bad_values_are_threshold_errors(expr, says):
    with pytest.raises(ThresholdError) as info:
        parse_threshold(expr)
    assert says in str(info.value)
    assert repr(expr.strip()) in str(info.value) or expr in str(info.value)


def test_parse_thresholds_rejects_an_unknown_scenario_naming_the_known_ones():
    with pytest.raises(ThresholdError) as info:
        parse_thresholds(["p99<1s", "nope:p99<1s"], ["login", "browse"])
    message = str(info.value)
    assert "'nope'" in message
    assert "browse, login" in message
    assert [t.scenario for t in parse_thresholds(["login:p99<1s"], ["login"])] == ["login"]


# -- evaluating against a known snapshot ------------------------------------------------------


# login: 10 steps (2 failed) lasting 10, 20, ..., 100 µs; browse: 10 steps, 110 ... 200 µs.
# Requests: 40 with latencies 50 x 100 µs, 40 x 200 µs, 10 x 250 µs (one bucket each).
SNAPSHOT = Snapshot(
    taken_at=0.0,
    scenarios=(
        ScenarioStats("login", 8, 2, histogram(range(10, 101, 10))),
        ScenarioStats("browse", 10, 0, histogram(range(110, 201, 10))),
        ScenarioStats("idle", 0, 0, Histogram.empty()),
    ),
    requests=104,
    statuses=(0, 90, 0, 10, 0),
    request_errors_by_kind=(3, 0, 1, 0, 0, 0),
    request_latency=histogram([100] * 50 + [200] * 40 + [250] * 10),
)
ELAPSED = 2.0


@pytest.mark.parametrize(
    ("expr", "observed"),
    [
        # Scenario durations over every scenario: 20 values, 10 .. 200 µs.
        ("p50<1s", 0.100),
        ("p90<1s", 0.180),
        ("p95<1s", 0.190),
        ("p99<1s", 0.200),
        ("p99.9<1s", 0.200),
        ("max<1s", 0.200),
        ("mean<1s", 0.105),
        # One scenario: 10 .. 100 µs.
        ("login:p50<1s", 0.050),
        ("login:p90<1s", 0.090),
        ("login:p99<1s", 0.100),
        ("login:max<1s", 0.100),
        ("login:mean<1s", 0.055),
        ("browse:p50<1s", 0.150),
        # Request latency.
        ("http_p50<1s", 0.100),
        ("http_p90<1s", 0.200),
        ("http_p95<1s", 0.250),
        ("http_p99<1s", 0.250),
        ("http_p99.9<1s", 0.250),
        ("http_max<1s", 0.250),
        ("http_mean<1s", 0.155),
        # Counts and rates.
        ("failure_rate<100%", 0.1),
        ("login:failure_rate<100%", 0.2),
        ("browse:failure_rate<100%", 0.0),
        ("rps<1000", 10.0),
        ("login:rps<1000", 5.0),
        ("http_rps<1000", 52.0),
        ("failures<1000", 2.0),
        ("login:failures<1000", 2.0),
        ("browse:failures<1000", 0.0),
        ("errors<1000", 4.0),
    ],
)
def test_evaluate_observes_each_metric(expr, observed):
    (result,) = evaluate([parse_threshold(expr)], SNAPSHOT, ELAPSED)
    assert result.observed == pytest.approx(observed)
    assert result.passed


@pytest.mark.parametrize(
    ("expr", "passed"),
    [
        ("p50<=100us", True),
        ("p50<100us", False),
        ("p50>=0.1", True),  # bare number: ms
        ("p50>0.1ms", False),
        ("p99<0.2ms", False),
        ("p99<=0.0002s", True),
        ("failure_rate<10%", False),
        ("failure_rate<=10%", True),
        ("failure_rate<=10.0%", True),
        ("browse:failure_rate<=0%", True),
        ("login:failure_rate<20%", False),
        ("rps>10", False),
        ("rps>=10", True),
        ("http_rps>52", False),
        ("failures<2", False),
        ("failures<=2", True),
        ("errors<4", False),
        ("errors<5", True),
        ("http_max<250us", False),
        ("http_max<=250us", True),
    ],
)
def test_evaluate_applies_the_operator_at_the_boundary(expr, passed):
    (result,) = evaluate([parse_threshold(expr)], SNAPSHOT, ELAPSED)
    assert result.passed is passed


def test_a_percentile_is_the_top_of_its_bucket_but_never_above_the_max():
    # 1000 µs lies in the bucket 1000..1003; 2000 µs in 2000..2007.
    snap = Snapshot(
        taken_at=0.0,
        scenarios=(ScenarioStats("s", 3, 0, histogram([1000, 1000, 2000])),),
    )
    p50, p99 = evaluate([parse_threshold("p50<1s"), parse_threshold("p99<1s")], snap, 1.0)
    assert p50.observed == pytest.approx(1.003)
    assert p99.observed == pytest.approx(2.0)


def test_pick_failures_count_as_failures_of_the_run():
    snap = Snapshot(
        taken_at=0.0,
        scenarios=(ScenarioStats("s", 3, 0, histogram([10, 20, 30])),),
        pick_failures=1,
    )
    failures, rate = evaluate(
        [parse_threshold("failures<1"), parse_threshold("failure_rate<1%")], snap, 1.0
    )
    assert failures.observed == 1.0
    assert not failures.passed
    assert rate.observed == pytest.approx(0.25)


@pytest.mark.parametrize("expr", ["idle:p99<1s", "idle:failure_rate<1%", "idle:mean>=0"])
def test_nothing_measured_fails_the_threshold(expr):
    (result,) = evaluate([parse_threshold(expr)], SNAPSHOT, ELAPSED)
    assert math.isnan(result.observed)
    assert not result.passed
    assert result.observed_text() == "n/a"


def test_no_elapsed_time_has_no_rate():
    results = evaluate([parse_threshold("rps>=0"), parse_threshold("http_rps>=0")], SNAPSHOT, 0.0)
    assert [math.isnan(r.observed) for r in results] == [True, True]
    assert not any(r.passed for r in results)


def test_no_request_has_no_latency():
    snap = Snapshot(taken_at=0.0, scenarios=(ScenarioStats("s", 1, 0, histogram([10])),))
    (result,) = evaluate([parse_threshold("http_p99<1s")], snap, 1.0)
    assert math.isnan(result.observed)
    assert not result.passed


def test_the_result_table_has_one_row_per_threshold():
    exprs = ["p99<1ms", "failure_rate<5%", "login:failures<1", "rps>=10", "http_p50<50us"]
    results = evaluate([parse_threshold(e) for e in exprs], SNAPSHOT, ELAPSED)
    lines = result_lines(results)
    assert lines[0] == "Thresholds:"
    rows = lines[1:]
    assert len(rows) == len(exprs)
    expected = [
        ("p99<1ms", "0.20ms", "pass"),
        ("failure_rate<5%", "10.00%", "FAIL"),
        ("login:failures<1", "2", "FAIL"),
        ("rps>=10", "10.0", "pass"),
        ("http_p50<50us", "0.10ms", "FAIL"),
    ]
    for row, (expr, observed, verdict) in zip(rows, expected, strict=True):
        assert row.split() == [expr, observed, verdict], row
    assert result_lines([]) == []


# -- through the real command -----------------------------------------------------------------

HEADER = textwrap.dedent(
    """\
    import os

    import molotov

    URL = os.environ["TARGET_URL"]

    """
)

TWO_SCENARIOS = """
@molotov.scenario()
async def root(session):
    async with session.get(URL + "/") as resp:
        assert resp.status == 200
        await resp.read()


@molotov.scenario(weight=0.0001)
async def rare(session):
    async with session.get(URL + "/data") as resp:
        await resp.read()
"""

FAILING = """
@molotov.scenario()
async def broken(session):
    async with session.get(URL + "/status/500") as resp:
        assert resp.status == 200, "server error"
"""


@pytest.fixture
def scenario_file(write_scenario):
    def write(body: str) -> None:
        write_scenario(HEADER + textwrap.dedent(body))

    return write


def test_a_malformed_threshold_is_a_usage_error_before_any_traffic(
    scenario_file, run_molotov, target
):
    scenario_file(TWO_SCENARIOS)
    result = run_molotov("--threshold", "p99<<1", "-w", "2", "-r", "3", "loadtest.py")
    assert_usage_error(result, "p99<<1", "not a duration", "us, ms or s")
    assert target.total == 0


def test_an_unknown_metric_lists_the_allowed_ones(scenario_file, run_molotov, target):
    scenario_file(TWO_SCENARIOS)
    result = run_molotov(
        "--threshold", "p99<1s", "--threshold", "latency<1s", "-r", "1", "loadtest.py"
    )
    line = assert_usage_error(result, "latency<1s", "unknown metric")
    for metric in METRICS:
        assert metric in line
    assert target.total == 0


def test_an_unknown_scenario_is_a_usage_error_before_any_traffic(
    scenario_file, run_molotov, target
):
    scenario_file(TWO_SCENARIOS)
    result = run_molotov("--threshold", "nope:p99<1s", "-w", "2", "-r", "3", "loadtest.py")
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "'nope'" in lines[0]
    assert "rare, root" in lines[0]
    assert target.total == 0


def test_passing_thresholds_exit_0_with_a_table(scenario_file, run_molotov, target):
    scenario_file(TWO_SCENARIOS)
    exprs = [
        "p99<60s",
        "p99.9<=60000",
        "mean<60s",
        "http_p95<60s",
        "http_max<60s",
        "failure_rate<1%",
        "root:failure_rate<=0.0",
        "root:p50<60s",
        "rps>0",
        "http_rps>0",
        "failures<1",
        "errors<=0",
    ]
    args = [arg for expr in exprs for arg in ("--threshold", expr)]
    result = run_molotov(*args, "-s", "root", "-w", "2", "-r", "4", "loadtest.py")
    assert result.returncode == 0, result.stderr
    assert closing(result.stdout) == (8, 0)
    assert target.hits["/"] == 8
    rows = threshold_rows(result.stdout)
    assert list(rows) == exprs
    assert all(verdict == "pass" for _, verdict in rows.values()), rows
    assert rows["failure_rate<1%"][0] == "0.00%"
    assert rows["failures<1"][0] == "0"
    assert rows["errors<=0"][0] == "0"
    assert re.fullmatch(r"\d+\.\d\dms", rows["p99<60s"][0])
    assert "threshold" not in result.stderr


def test_a_failing_threshold_exits_99_and_shows_fail(scenario_file, run_molotov, target):
    scenario_file(TWO_SCENARIOS)
    result = run_molotov(
        "--threshold",
        "p50<1us",
        "--threshold",
        "failures<1",
        "--fail",
        "1000",  # not reached: the threshold alone fails the run
        "-s",
        "root",
        "-w",
        "2",
        "-r",
        "3",
        "loadtest.py",
    )
    assert result.returncode == 99, (result.stdout, result.stderr)  # k6's code for thresholds
    assert closing(result.stdout) == (6, 0)
    rows = threshold_rows(result.stdout)
    assert list(rows) == ["p50<1us", "failures<1"]
    observed, verdict = rows["p50<1us"]
    assert verdict == "FAIL"
    assert re.fullmatch(r"\d+\.\d\dms", observed)
    assert float(observed.removesuffix("ms")) > 0
    assert rows["failures<1"] == ("0", "pass")
    assert "p50<1us" in result.stderr
    assert "--fail" not in result.stderr


def test_fail_keeps_its_meaning_alongside_thresholds(scenario_file, run_molotov, target):
    scenario_file(FAILING)
    result = run_molotov(
        "--fail", "2", "--threshold", "p99<60s", "-w", "1", "-r", "5", "loadtest.py"
    )
    assert result.returncode == 1, (result.stdout, result.stderr)
    successes, failures = closing(result.stdout)
    assert successes == 0
    assert failures >= 2
    assert "--fail 2" in result.stderr
    # The threshold itself passed: the gate, not the threshold, failed the run.
    assert threshold_rows(result.stdout)["p99<60s"][1] == "pass"
    assert "threshold(s) failed" not in result.stderr


def test_failure_thresholds_judge_a_failing_scenario(scenario_file, run_molotov, target):
    scenario_file(FAILING)
    result = run_molotov(
        "--threshold",
        "broken:failure_rate<50%",
        "--threshold",
        "failures>=4",
        "-w",
        "2",
        "-r",
        "2",
        "loadtest.py",
    )
    # Failed steps alone are a result, not a broken run: the threshold decides, with 99.
    assert result.returncode == 99, (result.stdout, result.stderr)
    assert closing(result.stdout) == (0, 4)
    rows = threshold_rows(result.stdout)
    assert rows["broken:failure_rate<50%"] == ("100.00%", "FAIL")
    assert rows["failures>=4"] == ("4", "pass")


@pytest.mark.parametrize(
    ("gate", "says"),
    [(["--fail", "2"], "--fail 2"), (["-x"], "-x: stopped at the first failure")],
    ids=["fail", "exception"],
)
def test_a_gate_exits_1_even_when_a_threshold_failed_too(
    scenario_file, run_molotov, target, gate, says
):
    """1 (a gate, as in Molotov 2.x) wins over 99 (a threshold): both are said."""
    scenario_file(FAILING)
    result = run_molotov(*gate, "--threshold", "failures<1", "-w", "1", "-r", "5", "loadtest.py")
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert threshold_rows(result.stdout)["failures<1"][1] == "FAIL"
    assert says in result.stderr
    assert "threshold(s) failed: failures<1" in result.stderr


def test_an_unreachable_target_exits_1_not_99(scenario_file, run_molotov, target):
    """No measurement to judge: a threshold on it fails, but the run is broken (1)."""
    scenario_file(TWO_SCENARIOS)
    result = run_molotov(
        "--threshold", "failure_rate<1%", "-s", "root", "-r", "2", "loadtest.py",
        TARGET_URL="http://127.0.0.1:1",
    )  # fmt: skip
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "cannot connect to 127.0.0.1:1" in result.stderr
    assert "threshold(s) failed: failure_rate<1%" in result.stderr
