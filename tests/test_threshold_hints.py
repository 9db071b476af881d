"""A mistaken ``--threshold`` is refused before the run with one line that says the fix.

The mistakes: a bare number on a rate, k6's spellings, a request name without its brackets,
a metric of another subject, a scenario that is a request's name. Each message is checked
whole on the parser, and through the real commands (``molotov``'s flag and ``molotov.json``,
``moloreport``): exit 2, one line, no traffic.
"""

from __future__ import annotations

import json

import pytest

from molotov.reports.thresholds import ThresholdError, parse_threshold, parse_thresholds
from support import assert_usage_error, moloreport

HINTS = [
    # A rate takes a percent: below 1 a bare number reads as a fraction, above as a percent.
    (
        "failure_rate<1",
        "did you mean 'failure_rate<1%'? (a rate takes a percent; as a fraction, 1 is "
        "'failure_rate<100%')",
    ),
    ("failure_rate<0.01", "did you mean 'failure_rate<1%'? (a rate takes a percent)"),
    ("login:failure_rate<5", "did you mean 'login:failure_rate<5%'? (a rate takes a percent)"),
    ("http_failure_rate<=0.5", "did you mean 'http_failure_rate<=50%'? (a rate takes a percent)"),
    ("checks>0.99", "did you mean 'checks>99%'? (a rate takes a percent)"),
    ("checks > 0.999", "did you mean 'checks > 99.9%'? (a rate takes a percent)"),
    ("status_5xx_rate<2", "did you mean 'status_5xx_rate<2%'? (a rate takes a percent)"),
    (
        "[GET /]:failure_rate<0.1",
        "did you mean '[GET /]:failure_rate<10%'? (a rate takes a percent)",
    ),
    # k6's words.
    (
        "p(95)<200",
        "did you mean 'http_p95<200' (request latency) or 'p95<200' (step durations)?",
    ),
    (
        "avg<1s",
        "did you mean 'http_mean<1s' (request latency) or 'mean<1s' (step durations)?",
    ),
    (
        "http_req_duration<200",
        "did you mean 'http_p95<200'? (k6's http_req_duration is molotov's request latency)",
    ),
    (
        "http_req_duration:p(99)<1s",
        "did you mean 'http_p99<1s'? (k6's http_req_duration is molotov's request latency)",
    ),
    (
        "http_req_duration{p(99.9)}<=2s",
        "did you mean 'http_p99.9<=2s'? (k6's http_req_duration is molotov's request latency)",
    ),
    (
        "iteration_duration:med<1s",
        "did you mean 'p50<1s'? (k6's iteration_duration is molotov's step durations)",
    ),
    (
        "http_req_failed<0.01",
        "did you mean 'http_failure_rate<1%'? (k6's http_req_failed; a rate takes a percent)",
    ),
    (
        "http_req_failed:rate<0.05",
        "did you mean 'http_failure_rate<5%'? (k6's http_req_failed; a rate takes a percent)",
    ),
    ("checks:rate>0.99", "did you mean 'checks>99%'? (k6's checks; a rate takes a percent)"),
    ("http_reqs>100", "did you mean 'http_rps>100'? (k6's http_reqs)"),
    ("dropped_iterations<1", "did you mean 'dropped<1'? (k6's dropped_iterations)"),
    (
        "[GET /items/{id}]:p(95)<200",
        "did you mean '[GET /items/{id}]:p95<200'? (a request's latency is p50 … p99.9, max, mean)",
    ),
    ("p(97)<1s", "the percentiles are p50, p90, p95, p99, p99.9 (k6's p(N) is pN)"),
    # A request's name goes in brackets, with a colon after them.
    (
        "GET /items/{id}:p95<200ms",
        "a request name goes in brackets; did you mean '[GET /items/{id}]:p95<200ms'?",
    ),
    (
        "'GET /items/{id}':p95<200ms",
        "a request name goes in brackets; did you mean '[GET /items/{id}]:p95<200ms'?",
    ),
    (
        '"POST /search" : failure_rate<1%',
        "a request name goes in brackets; did you mean '[POST /search]:failure_rate<1%'?",
    ),
    ("[GET /]p95<1s", "the brackets take a colon; did you mean '[GET /]:p95<1s'?"),
    # A metric of another subject, or a letter away from one.
    (
        "[GET /]:http_p95<1s",
        "did you mean '[GET /]:p95<1s'? (a request's latency is p95)",
    ),
    ("failure<1", "unknown metric 'failure' (did you mean 'failures'?); expected "),
]


@pytest.mark.parametrize(("expr", "says"), HINTS)
def test_a_mistake_gets_one_line_with_the_fix(expr, says):
    with pytest.raises(ThresholdError) as info:
        parse_threshold(expr)
    message = str(info.value)
    assert message.startswith(f"threshold {expr!r}: "), message
    assert says in message, message
    assert "\n" not in message


@pytest.mark.parametrize(
    "expr", ["failure_rate<0%", "failure_rate<=0", "checks>=100%", "http_failure_rate<0.5%"]
)
def test_a_percent_or_a_bare_zero_is_a_rate(expr):
    assert parse_threshold(expr).value in (0.0, 1.0, 0.005)


def test_a_scenario_that_is_not_one_may_be_a_request_name():
    with pytest.raises(ThresholdError) as info:
        parse_thresholds(["search:p95<200ms"], ["browse", "login"])
    assert str(info.value) == (
        "threshold 'search:p95<200ms': no scenario named 'search' (scenarios: browse, login); "
        "for the requests named so, write '[search]:p95<200ms'"
    )
    with pytest.raises(ThresholdError) as info:
        parse_thresholds(["http_req_duration:max<1s"], ["browse"])
    assert str(info.value) == (
        "threshold 'http_req_duration:max<1s': did you mean 'http_max<1s'? "
        "(k6's http_req_duration is molotov's request latency)"
    )
    # A typo of a scenario's name stays one (max is k6's word only after a k6 metric).
    with pytest.raises(ThresholdError) as info:
        parse_thresholds(["max:failures<1"], ["browse"])
    assert str(info.value) == (
        "threshold 'max:failures<1': no scenario named 'max' (scenarios: browse); "
        "for the requests named so, write '[max]:failures<1'"
    )
    # A scenario of that name is one: k6's words are not guessed over a real name.
    (parsed,) = parse_thresholds(["checks:p95<1s"], ["checks"])
    assert parsed.scenario == "checks"


# -- through the real commands ------------------------------------------------------------------

GET_ROOT = """
@molotov.scenario()
async def root(session):
    async with session.get(URL + "/") as resp:
        await resp.read()
"""


@pytest.mark.parametrize(
    ("expr", "says"),
    [
        ("failure_rate<1", "did you mean 'failure_rate<1%'?"),
        ("checks>0.99", "did you mean 'checks>99%'?"),
        ("p(95)<200", "did you mean 'http_p95<200' (request latency) or 'p95<200'"),
        ("http_req_duration:p(95)<200", "did you mean 'http_p95<200'?"),
        ("http_req_failed<0.01", "did you mean 'http_failure_rate<1%'?"),
        ("GET /items/{id}:p95<200ms", "did you mean '[GET /items/{id}]:p95<200ms'?"),
    ],
)
def test_the_flag_refuses_a_mistake_with_its_fix_before_any_traffic(
    expr, says, scenario_file, run_molotov, target
):
    scenario_file(GET_ROOT)
    result = run_molotov("--threshold", "p99<1s", "--threshold", expr, "-r", "1", "loadtest.py")
    assert_usage_error(result, f"threshold {expr!r}: ", says)
    assert target.total == 0


def test_molotov_json_thresholds_get_the_same_hints(scenario_file, run_molotov, target, tmp_path):
    scenario_file(GET_ROOT)
    for expr, says in [
        ("checks>0.99", "did you mean 'checks>99%'?"),
        ("root_page:p95<1s", "for the requests named so, write '[root_page]:p95<1s'"),
    ]:
        entry = {"scenario": "loadtest.py", "max_runs": 1, "threshold": ["p99<1s", expr]}
        (tmp_path / "molotov.json").write_text(json.dumps({"molotov": {"tests": {"t": entry}}}))
        result = run_molotov("--config", "molotov.json", "t")
        assert result.returncode == 2, (result.stdout, result.stderr)
        assert result.stderr.splitlines() == [result.stderr.strip()], result.stderr
        assert f"threshold {expr!r}: " in result.stderr
        assert says in result.stderr
        assert target.total == 0


def test_moloreport_refuses_a_mistake_with_its_fix(scenario_file, run_molotov, target, tmp_path):
    scenario_file(GET_ROOT)
    assert run_molotov("-r", "1", "--report", "r.json", "loadtest.py").returncode == 0
    result = moloreport("r.json", "--threshold", "http_req_failed<0.01", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        "threshold 'http_req_failed<0.01': did you mean 'http_failure_rate<1%'? "
        "(k6's http_req_failed; a rate takes a percent)\n"
    )
