"""Thresholds on request names (``[NAME]:METRIC OP VALUE``), status codes and checks.

The grammar and the verdict are tested on snapshots of known values; the gates through the
real ``molotov`` and ``moloreport`` commands and a real cluster (agents and the coordinator)
against a live local target: each judges the final (or merged) per-request rows alike.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from agents import agents, coordinator
from molotov.reports.thresholds import (
    Threshold,
    ThresholdError,
    evaluate,
    parse_threshold,
    parse_thresholds,
)
from molotov.stats.naming import NAME_BYTES, OTHER
from molotov.stats.snapshot import CheckStats, RequestStats, ScenarioStats, Snapshot
from support import closing, histogram, moloreport, threshold_rows

# -- parsing ----------------------------------------------------------------------------------

REQUEST_METRICS = ("p50", "p90", "p95", "p99", "p99.9", "max", "mean")


@pytest.mark.parametrize(
    "name",
    [
        "GET /items/{id}",
        "search",
        "POST /a b/c:d",  # a colon, spaces and slashes
        "GET /x[1]",  # brackets inside: the last ']:' closes the name
        "café ☕",
    ],
)
def test_a_request_name_goes_in_brackets_whatever_it_holds(name):
    parsed = parse_threshold(f"[{name}]:p95<200ms")
    assert parsed == Threshold(f"[{name}]:p95<200ms", "p95", "<", 200.0, None, name)
    assert parsed.unit == "ms"


def test_spaces_around_the_brackets_and_inside_them_are_trimmed():
    parsed = parse_threshold("  [ GET /items/{id} ] : requests >= 10 ")
    assert (parsed.request, parsed.metric, parsed.op, parsed.value) == (
        "GET /items/{id}",
        "requests",
        ">=",
        10.0,
    )


@pytest.mark.parametrize(
    ("metric", "value", "expected"),
    [
        *((m, "1s", 1000.0) for m in REQUEST_METRICS),
        ("failure_rate", "2.5%", 0.025),
        ("failures", "3", 3.0),
        ("errors", "0", 0.0),
        ("requests", "100", 100.0),
        ("rps", "12.5", 12.5),
        ("status_503", "1", 1.0),
        ("status_503_rate", "1%", 0.01),
        ("status_5xx", "1", 1.0),
        ("status_4xx_rate", "10%", 0.1),
        ("status_other", "1", 1.0),
    ],
)
def test_every_request_metric_parses(metric, value, expected):
    parsed = parse_threshold(f"[GET /]:{metric}<{value}")
    assert parsed.metric == metric
    assert parsed.value == pytest.approx(expected)


@pytest.mark.parametrize(
    ("expr", "value"),
    [
        ("status_503<1", 1.0),
        ("status_200>=10", 10.0),
        ("status_503_rate<0.5%", 0.005),
        ("status_5xx_rate<1%", 0.01),
        ("status_other_rate<=0", 0.0),
        ("checks>=99%", 0.99),
        ("checks>0", 0.0),
        ("requests>=1", 1.0),
    ],
)
def test_status_checks_and_requests_are_run_wide_metrics(expr, value):
    parsed = parse_threshold(expr)
    assert (parsed.scenario, parsed.request) == (None, None)
    assert parsed.value == pytest.approx(value)


@pytest.mark.parametrize(
    ("expr", "says"),
    [
        ("login:checks>99%", "checks is run-wide"),
        ("login:status_503<1", "status_503 is run-wide"),
        ("login:requests<1", "requests is run-wide"),
        ("[GET /]:checks>99%", "checks is not measured per request"),
        ("[GET /]:dropped<1", "dropped is not measured per request"),
        ("[GET /]:response_p95<1s", "response_p95 is not measured per request"),
        ("[]:p95<1s", "the request name in [] is empty"),
        ("[  ]:p95<1s", "the request name in [] is empty"),
        ("status_099<1", "unknown metric 'status_099'"),
        ("status_5xx_count<1", "unknown metric"),
        ("[GET /]:p95<fast", "not a duration"),
        ("[GET /]:status_503<some", "not a number"),
    ],
)
def test_what_a_subject_does_not_take_is_refused(expr, says):
    with pytest.raises(ThresholdError) as info:
        parse_threshold(expr)
    assert says in str(info.value)
    assert "\n" not in str(info.value)


def test_a_request_name_is_not_checked_before_the_run():
    # Request names exist once requests were made: only scenarios are known up front.
    parsed = parse_thresholds(["[GET /nope]:p95<1s", "login:p95<1s"], ["login"])
    assert [t.request for t in parsed] == ["GET /nope", None]


# -- evaluating against a known snapshot ------------------------------------------------------


def request(name: str, codes: dict[int, int], latencies: list[int], errors: int = 0):
    """A request name's row: responses by code (latencies one per response), request errors
    (refused)."""
    by_kind = (errors, 0, 0, 0, 0, 0, 0, 0)
    requests = sum(codes.values()) + errors
    return RequestStats(
        name,
        requests=requests,
        errors_by_kind=by_kind,
        status_codes=tuple(sorted(codes.items())),
        latency=histogram(latencies),
    )


LONG = "GET /" + "x" * 300  # the bus keeps NAME_BYTES of it
SNAPSHOT = Snapshot(
    taken_at=0.0,
    scenarios=(ScenarioStats("s", 10, 0, histogram([100] * 10)),),
    requests=30,
    statuses=(0, 20, 0, 4, 5, 0),
    request_errors_by_kind=(1, 0, 0, 0, 0, 0, 0, 0),
    request_latency=histogram([10] * 29),
    by_request=(
        # 10 answered 200 in 10 .. 100 µs.
        request("GET /items/{id}", {200: 10}, list(range(10, 101, 10))),
        # 5 x 503, 4 x 404, 1 x 200, one refused; latencies 1 .. 10 µs.
        request("POST /a b/c:d", {200: 1, 404: 4, 503: 5}, list(range(1, 11)), errors=1),
        request("search", {200: 9}, [50] * 9),
        request(LONG[:NAME_BYTES], {200: 1}, [7]),
    ),
    checks=(CheckStats("ok", "search", 3, 1),),
    checks_passed=3,
    checks_failed=1,
)
ELAPSED = 2.0


@pytest.mark.parametrize(
    ("expr", "observed", "shown"),
    [
        ("[GET /items/{id}]:p50<1s", 0.050, "0.05ms"),
        ("[GET /items/{id}]:p90<1s", 0.090, "0.09ms"),
        ("[GET /items/{id}]:p99<1s", 0.100, "0.10ms"),
        ("[GET /items/{id}]:max<1s", 0.100, "0.10ms"),
        ("[GET /items/{id}]:mean<1s", 0.055, "0.06ms"),
        ("[GET /items/{id}]:requests<=10", 10, "10"),
        ("[GET /items/{id}]:rps<=5", 5.0, "5.0"),
        ("[GET /items/{id}]:failure_rate<=0%", 0.0, "0.00%"),
        ("[POST /a b/c:d]:failure_rate<100%", 10 / 11, "90.91%"),
        ("[POST /a b/c:d]:failures<100", 10, "10"),
        ("[POST /a b/c:d]:errors<100", 1, "1"),
        ("[POST /a b/c:d]:status_503<100", 5, "5"),
        ("[POST /a b/c:d]:status_503_rate<100%", 5 / 11, "45.45%"),
        ("[POST /a b/c:d]:status_4xx<100", 4, "4"),
        ("[POST /a b/c:d]:status_2xx_rate<100%", 1 / 11, "9.09%"),
        ("[POST /a b/c:d]:status_other<100", 0, "0"),
        ("[search]:status_503<100", 0, "0"),
        (f"[{LONG}]:requests<100", 1, "1"),  # as long a name as the bus keeps
        ("status_503<100", 5, "5"),
        ("status_404<=4", 4, "4"),
        ("status_5xx<100", 5, "5"),
        ("status_5xx_rate<100%", 5 / 30, "16.67%"),
        ("status_200_rate<100%", 21 / 30, "70.00%"),
        ("requests<100", 30, "30"),
        ("checks>=75%", 0.75, "75.00%"),
    ],
)
def test_evaluate_observes_each_request_status_and_check_metric(expr, observed, shown):
    (result,) = evaluate([parse_threshold(expr)], SNAPSHOT, ELAPSED)
    assert result.observed == pytest.approx(observed)
    assert result.observed_text() == shown
    assert result.passed
    assert result.reason == ""
    assert result.failure_text() == expr


@pytest.mark.parametrize(
    ("expr", "passed"),
    [
        ("[GET /items/{id}]:p50<=50us", True),
        ("[GET /items/{id}]:p50<50us", False),
        ("[POST /a b/c:d]:status_503<5", False),
        ("[POST /a b/c:d]:status_503<=5", True),
        ("status_503<1", False),
        ("checks>75%", False),
        ("checks>=75%", True),
        ("[search]:failure_rate<1%", True),
    ],
)
def test_evaluate_applies_the_operator_at_the_boundary(expr, passed):
    (result,) = evaluate([parse_threshold(expr)], SNAPSHOT, ELAPSED)
    assert result.passed is passed


def test_an_unknown_request_name_fails_naming_the_closest_names():
    (result,) = evaluate([parse_threshold("[GET /item/{id}]:p95<1s")], SNAPSHOT, ELAPSED)
    assert math.isnan(result.observed)
    assert not result.passed
    assert result.observed_text() == "n/a"
    assert result.reason == "no request named 'GET /item/{id}'; the closest: 'GET /items/{id}'"
    assert result.failure_text() == f"[GET /item/{{id}}]:p95<1s ({result.reason})"


def test_an_unknown_name_with_nothing_close_lists_the_busiest_names_and_the_other_row():
    snap = Snapshot(
        taken_at=0.0,
        scenarios=(),
        by_request=(
            request("GET /a", {200: 1}, [1]),
            request(OTHER, {200: 5}, [1] * 5),
            request("GET /b", {200: 3}, [1] * 3),
        ),
    )
    (result,) = evaluate([parse_threshold("[zzzz]:requests<1")], snap, 1.0)
    assert result.reason == (
        "no request named 'zzzz'; the busiest: 'other', 'GET /b', 'GET /a' "
        "(names past --max-request-names were counted as 'other')"
    )
    empty = Snapshot(taken_at=0.0, scenarios=())
    (result,) = evaluate([parse_threshold("[GET /]:requests<1")], empty, 1.0)
    assert result.reason == "no request named 'GET /': no request was made"


def test_no_checks_fail_a_checks_threshold_saying_so():
    snap = Snapshot(taken_at=0.0, scenarios=())
    (result,) = evaluate([parse_threshold("checks>=0%")], snap, 1.0)
    assert not result.passed
    assert result.reason == "no checks ran: molotov.check() was never called"


def test_a_status_count_with_unrecorded_codes_fails_rather_than_guess():
    # Code 0: responses whose code a per-name table had no room for (16 codes per name).
    snap = Snapshot(
        taken_at=0.0,
        scenarios=(),
        requests=3,
        by_request=(request("GET /", {0: 2, 503: 1}, [1, 2, 3]),),
    )
    exprs = ["status_503<=1", "[GET /]:status_503<=1", "[GET /]:status_5xx<=1"]
    for result in evaluate([parse_threshold(e) for e in exprs], snap, 1.0):
        assert not result.passed
        assert result.reason == "2 response(s) had a status code that was not recorded"


def test_a_name_with_only_request_errors_has_no_latency_but_has_counts():
    snap = Snapshot(taken_at=0.0, scenarios=(), by_request=(request("GET /", {}, [], errors=2),))
    latency, errors, rate = evaluate(
        [
            parse_threshold(e)
            for e in ("[GET /]:p99<1s", "[GET /]:errors<=2", "[GET /]:failure_rate<=100%")
        ],
        snap,
        1.0,
    )
    assert math.isnan(latency.observed) and not latency.passed and latency.reason == ""
    assert errors.observed == 2 and errors.passed
    assert rate.observed == 1.0 and rate.passed


# -- through the real commands ------------------------------------------------------------------

# A step: three requests, one of them named explicitly with spaces, a slash, braces and a colon
# in its name, and two checks, one of which always fails.
NAMED = "search / all {v2}: beta"
BROWSE = f"""
@molotov.scenario()
async def browse(session):
    async with session.get(URL + "/data") as resp:
        molotov.check(resp.status == 200, "data answered 200")
        await resp.read()
    with molotov.named({NAMED!r}):
        async with session.get(URL + "/") as resp:
            await resp.read()
    async with session.get(URL + "/status/503") as resp:
        molotov.check(resp.status == 200, "status answered 200")
"""
NO_CHECKS = """
@molotov.scenario()
async def plain(session):
    async with session.get(URL + "/data") as resp:
        await resp.read()
"""


def thresholds(*exprs: str) -> list[str]:
    return [arg for expr in exprs for arg in ("--threshold", expr)]


def test_request_status_and_check_thresholds_that_pass(scenario_file, run_molotov, target):
    scenario_file(BROWSE)
    exprs = [
        "[GET /data]:p99<60s",
        "[GET /data]:mean<60s",
        "[GET /data]:requests>=6",
        "[GET /data]:requests<=6",
        "[GET /data]:failure_rate<=0%",
        "[GET /data]:rps>0",
        f"[{NAMED}]:requests>=6",
        "[GET /status/{id}]:failure_rate>=100%",
        "[GET /status/{id}]:status_503>=6",
        "[GET /status/{id}]:errors<1",
        "status_503<=6",
        "status_5xx_rate<34%",
        "checks>=50%",
    ]
    result = run_molotov(*thresholds(*exprs), "-w", "2", "-r", "3", "loadtest.py")
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert closing(result.stdout) == (6, 0)
    assert (target.hits["/data"], target.hits["/"], target.hits["/status/503"]) == (6, 6, 6)
    rows = threshold_rows(result.stdout)
    assert list(rows) == exprs
    assert all(verdict == "pass" for _, verdict in rows.values()), rows
    assert rows["[GET /data]:requests>=6"][0] == "6"
    assert rows[f"[{NAMED}]:requests>=6"][0] == "6"
    assert rows["[GET /status/{id}]:failure_rate>=100%"][0] == "100.00%"
    assert rows["status_503<=6"][0] == "6"
    assert rows["status_5xx_rate<34%"][0] == "33.33%"
    assert rows["checks>=50%"][0] == "50.00%"
    assert re.fullmatch(r"\d+\.\d\dms", rows["[GET /data]:p99<60s"][0])
    assert "threshold" not in result.stderr


def test_request_status_and_check_thresholds_that_fail(scenario_file, run_molotov, target):
    scenario_file(BROWSE)
    exprs = [
        "[GET /data]:p50<1us",
        f"[{NAMED}]:requests>=6",
        "[GET /status/{id}]:failure_rate<1%",
        "status_503<1",
        "checks>99%",
    ]
    result = run_molotov(*thresholds(*exprs), "-w", "2", "-r", "3", "loadtest.py")
    assert result.returncode == 99, (result.stdout, result.stderr)
    assert closing(result.stdout) == (6, 0)  # the steps passed; the gates did not
    rows = threshold_rows(result.stdout)
    assert rows["[GET /data]:p50<1us"][1] == "FAIL"
    assert rows[f"[{NAMED}]:requests>=6"] == ("6", "pass")
    assert rows["[GET /status/{id}]:failure_rate<1%"] == ("100.00%", "FAIL")
    assert rows["status_503<1"] == ("6", "FAIL")
    assert rows["checks>99%"] == ("50.00%", "FAIL")
    failed = [e for e in exprs if rows[e][1] == "FAIL"]
    assert f"threshold(s) failed: {', '.join(failed)}" in result.stderr.splitlines()


def test_all_checks_passing_pass_and_no_checks_fail_saying_so(scenario_file, run_molotov, target):
    scenario_file(NO_CHECKS)
    result = run_molotov(*thresholds("checks>=0%"), "-w", "1", "-r", "2", "loadtest.py")
    assert result.returncode == 99, (result.stdout, result.stderr)
    assert threshold_rows(result.stdout)["checks>=0%"] == ("n/a", "FAIL")
    assert (
        "threshold(s) failed: checks>=0% (no checks ran: molotov.check() was never called)"
        in result.stderr.splitlines()
    )
    scenario_file(NO_CHECKS.replace("await resp.read()", "molotov.check(resp.ok, 'ok')"))
    result = run_molotov(*thresholds("checks>=100%"), "-w", "1", "-r", "2", "loadtest.py")
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert threshold_rows(result.stdout)["checks>=100%"] == ("100.00%", "pass")


def test_an_unknown_request_name_fails_at_the_end_with_the_closest_names_in_every_output(
    scenario_file, run_molotov, target, tmp_path
):
    scenario_file(BROWSE)
    exprs = ["[GET /dta]:p95<60s", "[GET /data]:requests>=2"]
    result = run_molotov(
        *thresholds(*exprs),
        "-w",
        "1",
        "-r",
        "2",
        "--report",
        "r.json",
        "--html",
        "r.html",
        "loadtest.py",
    )
    assert result.returncode == 99, (result.stdout, result.stderr)
    assert target.hits["/data"] == 2  # the run went on: names are known only at its end
    reason = "no request named 'GET /dta'; the closest: 'GET /data'"
    assert f"threshold(s) failed: [GET /dta]:p95<60s ({reason})" in result.stderr.splitlines()
    rows = threshold_rows(result.stdout)
    assert rows == {"[GET /dta]:p95<60s": ("n/a", "FAIL"), "[GET /data]:requests>=2": ("2", "pass")}
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["thresholds"] == [
        {"expression": exprs[0], "observed": None, "unit": "ms", "passed": False, "reason": reason},
        {"expression": exprs[1], "observed": 2.0, "unit": "", "passed": True, "reason": ""},
    ]
    # The HTML page shows both rows, the reason with the unknown one.
    page = (tmp_path / "r.html").read_text()
    table = re.search(r'<table class="thresholds">.*?</table>', page, re.S)
    assert table, page[:2000]
    cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", table[0])]
    assert cells == [
        "[GET /dta]:p95&lt;60s",
        f"n/a ({reason.replace(chr(39), '&#x27;')})",
        "FAIL",
        "[GET /data]:requests&gt;=2",
        "2",
        "pass",
    ]


def test_moloreport_judges_the_merged_request_rows(scenario_file, run_molotov, target, tmp_path):
    scenario_file(BROWSE)
    for name in ("a.json", "b.json"):
        result = run_molotov("-w", "1", "-r", "2", "--report", name, "loadtest.py")
        assert result.returncode == 0, result.stderr
    exprs = [
        "[GET /data]:requests>=4",
        "[GET /data]:requests<=4",
        "[GET /status/{id}]:status_503_rate>=100%",
        "status_503<=4",
        "checks>=50%",
        "checks<=50%",
    ]
    merged = moloreport("a.json", "b.json", *thresholds(*exprs), cwd=tmp_path)
    assert merged.returncode == 0, (merged.stdout, merged.stderr)
    rows = threshold_rows(merged.stdout)
    assert rows["[GET /data]:requests>=4"] == ("4", "pass")
    assert rows["checks>=50%"] == ("50.00%", "pass")
    merged = moloreport("a.json", "b.json", *thresholds("[get /data]:requests>=1"), cwd=tmp_path)
    assert merged.returncode == 99
    assert (
        "threshold(s) failed: [get /data]:requests>=1 (no request named 'get /data'; "
        "the closest: 'GET /data')" in merged.stderr.splitlines()
    )


def test_a_cluster_judges_the_merged_request_rows(scenario_file, target, tmp_path: Path):
    scenario = scenario_file(BROWSE)
    exprs = [
        "[GET /data]:requests>=4",
        "[GET /data]:requests<=4",
        "status_503<1",
        "[GET /dat]:p95<1s",
    ]
    with agents(2, scenario, target=target.url) as fleet:
        run = coordinator(
            scenario,
            [a.url for a in fleet],
            "-w",
            "1",
            "-r",
            "2",
            *thresholds(*exprs),
            target=target.url,
        )
        code = run.wait(60)
        assert [a.proc.wait(20) for a in fleet] == [0, 0]
    assert code == 99, run.text  # a failed threshold
    assert target.hits["/data"] == 4  # each agent's worker ran 2 steps
    rows = threshold_rows("\n".join(run.out))
    assert rows == {
        "[GET /data]:requests>=4": ("4", "pass"),
        "[GET /data]:requests<=4": ("4", "pass"),
        "status_503<1": ("4", "FAIL"),
        "[GET /dat]:p95<1s": ("n/a", "FAIL"),
    }
    assert (
        "threshold(s) failed: status_503<1, [GET /dat]:p95<1s (no request named 'GET /dat'; "
        "the closest: 'GET /data')" in run.err
    )
