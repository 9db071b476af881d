"""Declarative pass/fail gates: ``--threshold "[SCENARIO:]METRIC OP VALUE"``.

Metrics:

* ``p50 p90 p95 p99 p99.9 max mean``: scenario durations (a duration value);
* ``http_p50 … http_p99.9 http_max http_mean``: request latency (a duration value);
* ``response_p50 … response_p99.9 response_max response_mean``: the open model's response
  times, from each step's scheduled instant to its end (a duration value);
* ``failure_rate``: failed steps / steps (``1%`` or ``0.01``);
* ``rps``: steps per second; ``http_rps``: requests per second;
* ``failures``: failed steps; ``errors``: request-level errors (refused, reset, timeout, ...);
* ``dropped``: the open model's arrivals that never started (no free worker in time);
* ``status_1xx`` … ``status_5xx``, ``status_other``: responses of a status class (a number);
* ``http_failure_rate``: requests answered 4xx, 5xx or another status outside 100-599, or
  failed (a request error), over requests (``1%`` or ``0.01``), like k6's ``http_req_failed``:
  a gate for HTTP failures that the scenarios do not check.

A run whose thresholds fail (and nothing worse) exits :data:`EXIT_THRESHOLDS`, 99 as k6's,
so a gate on the numbers is told apart from a broken test (1).

Operators ``< <= > >=``. Durations take ``us``, ``ms`` or ``s`` (a bare number is ms). A
``SCENARIO:`` prefix limits a step metric to one scenario; ``http_*`` and ``errors`` are
run-wide.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from molotov.stats.histogram import Histogram
from molotov.stats.snapshot import STATUS_CLASSES, Snapshot

EXIT_THRESHOLDS = 99  # the exit code of a failed threshold (k6's): the run itself went fine
PERCENTILES = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "p99.9": 99.9}
DURATION_METRICS = (*PERCENTILES, "max", "mean")
HTTP_METRICS = tuple(f"http_{name}" for name in DURATION_METRICS)
RESPONSE_METRICS = tuple(f"response_{name}" for name in DURATION_METRICS)
STATUS_METRICS = tuple(f"status_{name}" for name in STATUS_CLASSES)
OTHER_METRICS = ("failure_rate", "rps", "http_rps", "failures", "errors", "dropped")
RATE_METRICS = ("failure_rate", "http_failure_rate")
METRICS = (
    *DURATION_METRICS,
    *HTTP_METRICS,
    *RESPONSE_METRICS,
    *OTHER_METRICS,
    *STATUS_METRICS,
    "http_failure_rate",
)
# The metrics that judge the responses a scenario may not check (4xx, 5xx, ...): with one of
# them set, the summary does not suggest a threshold.
HTTP_FAILURE_METRICS = ("http_failure_rate", "status_4xx", "status_5xx", "status_other")
RUN_WIDE = (*HTTP_METRICS, "http_rps", "errors", "dropped", *STATUS_METRICS, "http_failure_rate")
TIME_METRICS = (*DURATION_METRICS, *HTTP_METRICS, *RESPONSE_METRICS)
COUNT_METRICS = ("failures", "errors", "dropped", *STATUS_METRICS)
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
_EXPR = re.compile(
    r"^\s*(?:(?P<scenario>[^\s:<>=]+)\s*:\s*)?(?P<metric>[A-Za-z_][\w.]*)\s*"
    r"(?P<op><=|>=|<|>)\s*(?P<value>\S+)\s*$"
)
GRAMMAR = (
    "expected [SCENARIO:]METRIC OP VALUE with METRIC one of "
    + ", ".join(METRICS)
    + " and OP one of < <= > >= (e.g. 'p99<250ms', 'failure_rate<1%', 'login:p95<=1s')"
)


def metrics_help() -> str:
    """The metrics in a few words, for ``--help``: made from the tables above, so a metric
    added there is named here too."""
    prefixes = [
        names[0].removesuffix(DURATION_METRICS[0]) for names in (HTTP_METRICS, RESPONSE_METRICS)
    ]
    others = [m for m in METRICS if m not in TIME_METRICS and m not in STATUS_METRICS]
    return (
        f"{' '.join(DURATION_METRICS)} (step durations; {prefixes[0]}* the same of the requests, "
        f"{prefixes[1]}* of the open model's response times), {' '.join(others)}, "
        f"{' '.join(STATUS_METRICS)}"
    )


class ThresholdError(ValueError):
    """A malformed threshold expression (a usage error)."""


@dataclass(frozen=True)
class Threshold:
    text: str
    metric: str
    op: str
    value: float  # milliseconds for durations, a fraction for failure_rate
    scenario: str | None = None

    @property
    def unit(self) -> str:
        if self.metric in TIME_METRICS:
            return "ms"
        return ""


@dataclass(frozen=True)
class ThresholdResult:
    threshold: Threshold
    observed: float
    passed: bool

    def observed_text(self) -> str:
        if math.isnan(self.observed):
            return "n/a"
        if self.threshold.metric in RATE_METRICS:
            return f"{self.observed * 100:.2f}%"
        if self.threshold.unit:
            return f"{self.observed:.2f}ms"
        if self.threshold.metric in COUNT_METRICS:
            return str(int(self.observed))
        return f"{self.observed:.1f}"


def gates_http_failures(thresholds: Iterable[Threshold]) -> bool:
    """Whether a threshold judges the 4xx/5xx (or other) responses of the run."""
    return any(threshold.metric in HTTP_FAILURE_METRICS for threshold in thresholds)


def _number(text: str, expr: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ThresholdError(f"threshold {expr!r}: {text!r} is not a number; {GRAMMAR}") from None
    if not math.isfinite(value):
        raise ThresholdError(f"threshold {expr!r}: {text!r} is not a finite number")
    return value


def _duration_ms(text: str, expr: str) -> float:
    match = re.fullmatch(r"([0-9.eE+-]+)(us|ms|s)?", text)
    if not match:
        raise ThresholdError(
            f"threshold {expr!r}: {text!r} is not a duration (a number with us, ms or s)"
        )
    return _number(match.group(1), expr) * _UNITS_MS[match.group(2) or "ms"]


def parse_threshold(expr: str) -> Threshold:
    match = _EXPR.match(expr)
    if not match:
        raise ThresholdError(f"threshold {expr!r}: {GRAMMAR}")
    metric = match.group("metric").lower()
    scenario = match.group("scenario")
    raw = match.group("value")
    if metric not in METRICS:
        raise ThresholdError(f"threshold {expr!r}: unknown metric {metric!r}; {GRAMMAR}")
    if scenario is not None and metric in RUN_WIDE:
        raise ThresholdError(f"threshold {expr!r}: {metric} is run-wide, it takes no SCENARIO:")
    if metric in TIME_METRICS:
        value = _duration_ms(raw, expr)
    elif metric in RATE_METRICS:
        value = _number(raw[:-1], expr) / 100 if raw.endswith("%") else _number(raw, expr)
    else:
        value = _number(raw, expr)
    return Threshold(expr.strip(), metric, match.group("op"), value, scenario)


def parse_thresholds(
    exprs: Iterable[str], scenarios: Sequence[str] | None = None, open_model: bool = True
) -> list[Threshold]:
    """Parse every expression; with ``scenarios``, also reject unknown scenario names; in
    the closed model (``open_model`` false), reject the response-time metrics."""
    parsed = [parse_threshold(expr) for expr in exprs]
    for threshold in parsed:
        if not open_model and threshold.metric in RESPONSE_METRICS:
            raise ThresholdError(
                f"threshold {threshold.text!r}: response times are measured in the open model "
                "(--rate), from each step's scheduled start; in the closed model use "
                f"{threshold.metric.removeprefix('response_')}, the step durations"
            )
    if scenarios is not None:
        for threshold in parsed:
            if threshold.scenario is not None and threshold.scenario not in scenarios:
                raise ThresholdError(
                    f"threshold {threshold.text!r}: no scenario named {threshold.scenario!r} "
                    f"(scenarios: {', '.join(sorted(scenarios))})"
                )
    return parsed


def _histogram_ms(histogram: Histogram, metric: str) -> float:
    if not histogram.count:
        return math.nan
    if metric == "max":
        return histogram.max_us / 1000
    if metric == "mean":
        return histogram.mean_us / 1000
    return histogram.percentile_us(PERCENTILES[metric]) / 1000


def observe(threshold: Threshold, snapshot: Snapshot, elapsed: float) -> float:
    """The value of the threshold's metric in a run's final snapshot (NaN when undefined)."""
    metric = threshold.metric
    if metric in HTTP_METRICS:
        return _histogram_ms(snapshot.request_latency, metric.removeprefix("http_"))
    if metric == "http_rps":
        return snapshot.requests / elapsed if elapsed > 0 else math.nan
    if metric == "errors":
        return float(snapshot.request_errors)
    if metric == "dropped":
        return float(snapshot.dropped)
    if metric in STATUS_METRICS:
        return float(snapshot.statuses[STATUS_METRICS.index(metric)])
    if metric == "http_failure_rate":
        return snapshot.http_failure_rate if snapshot.requests else math.nan
    if threshold.scenario is None:
        durations, successes, failures = snapshot.durations, snapshot.successes, snapshot.failures
        responses = snapshot.response_times
    else:
        stats = next(s for s in snapshot.scenarios if s.name == threshold.scenario)
        durations, successes, failures = stats.durations, stats.successes, stats.failures
        responses = stats.response_times
    if metric in DURATION_METRICS:
        return _histogram_ms(durations, metric)
    if metric in RESPONSE_METRICS:
        # Nothing measured in the closed model (no schedule): the threshold fails, n/a.
        return _histogram_ms(responses, metric.removeprefix("response_"))
    if metric == "failure_rate":
        steps = successes + failures
        return failures / steps if steps else math.nan
    if metric == "rps":
        return (successes + failures) / elapsed if elapsed > 0 else math.nan
    return float(failures)


def evaluate(
    thresholds: Sequence[Threshold], snapshot: Snapshot, elapsed: float
) -> list[ThresholdResult]:
    """Judge each threshold; an undefined value (nothing measured) fails it."""
    results = []
    for threshold in thresholds:
        observed = observe(threshold, snapshot, elapsed)
        passed = not math.isnan(observed) and OPERATORS[threshold.op](observed, threshold.value)
        results.append(ThresholdResult(threshold, observed, passed))
    return results


def result_lines(results: Sequence[ThresholdResult]) -> list[str]:
    """The thresholds table: expression, observed value, verdict, one row each."""
    if not results:
        return []
    width = max(len(r.threshold.text) for r in results)
    lines = ["Thresholds:"]
    for result in results:
        verdict = "pass" if result.passed else "FAIL"
        lines.append(f"  {result.threshold.text:<{width}}  {result.observed_text():>12}  {verdict}")
    return lines
