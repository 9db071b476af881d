"""Declarative pass/fail gates: ``--threshold EXPR``, their grammar and their verdict.

An expression is ``METRIC OP VALUE``, with an optional subject and a colon before it:

* ``METRIC OP VALUE``: the run (a step metric over every scenario);
* ``SCENARIO:METRIC OP VALUE``: one scenario's steps;
* ``[NAME]:METRIC OP VALUE``: the requests of one name, as the per-request table names them
  (``[GET /items/{id}]:p95<200ms``). Brackets survive a shell's single quotes and a JSON
  string as they are, and a name may hold spaces, slashes, braces and colons.

The metrics, and which subject takes which, are in :mod:`~molotov.reports.thresholdmetrics`.
Operators ``< <= > >=``. Durations take ``us``, ``ms`` or ``s`` (a bare number is ms); a rate
takes a percent (``1%``; ``0`` alone too); a count or a per-second rate, a number.

A malformed expression is a usage error before the run, with a hint when the mistake is a
known one (:mod:`~molotov.reports.thresholdhints`). Request names exist only once requests
were made, so an unknown one fails its threshold at the end, naming the closest names. The
verdict is taken on a final snapshot: a run's, or the merge of reports (``moloreport``, a
cluster's coordinator), whose per-request rows and checks are merged exactly.

A run whose thresholds fail (and nothing worse) exits :data:`EXIT_THRESHOLDS`, 99 as k6's,
so a gate on the numbers is told apart from a broken test (1).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from molotov.reports.thresholdhints import (
    bare_rate,
    close_metric,
    k6,
    not_on_request,
    unknown_request,
    unknown_scenario,
    unparsed,
)
from molotov.reports.thresholdmetrics import (
    DURATION_METRICS,
    HTTP_METRICS,
    METRICS,
    PERCENTILES,
    RESPONSE_METRICS,
    STATUS_FAMILY,
    TIME_METRICS,
    StatusMetric,
    Subject,
    is_count,
    is_known,
    is_rate,
    status_metric,
    takes,
)
from molotov.stats.histogram import Histogram
from molotov.stats.naming import clip_name
from molotov.stats.snapshot import STATUS_CLASSES, RequestStats, Snapshot

EXIT_THRESHOLDS = 99  # the exit code of a failed threshold (k6's): the run itself went fine
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
_EXPR = re.compile(
    r"^\s*(?:\[(?P<request>.*)\]\s*:\s*|(?P<scenario>[^\s:<>=\[\]]+)\s*:\s*)?"
    r"(?P<metric>[A-Za-z_][\w.]*)\s*(?P<rest>(?P<op><=|>=|<|>)\s*(?P<value>\S+))\s*$"
)
GRAMMAR = (
    "expected [SCENARIO:]METRIC OP VALUE or [REQUEST NAME]:METRIC OP VALUE with METRIC one of "
    + ", ".join(METRICS)
    + f", {STATUS_FAMILY}, and OP one of < <= > >= (e.g. 'p99<250ms', 'failure_rate<1%', "
    "'login:p95<=1s', '[GET /items/{id}]:p95<200ms')"
)


def metrics_help() -> str:
    """The metrics in a few words, for ``--help``: made from the metrics' tables, so a metric
    added there is named here too."""
    prefixes = [
        names[0].removesuffix(DURATION_METRICS[0]) for names in (HTTP_METRICS, RESPONSE_METRICS)
    ]
    others = dict.fromkeys(
        m for m in METRICS if m not in TIME_METRICS and not m.startswith("status_")
    )
    return (
        f"{' '.join(DURATION_METRICS)} (step durations; {prefixes[0]}* the same of the requests, "
        f"{prefixes[1]}* of the open model's response times), {' '.join(others)}, "
        f"{STATUS_FAMILY}"
    )


class ThresholdError(ValueError):
    """A malformed threshold expression (a usage error)."""


class Unmeasured(Exception):
    """A threshold has no value, and the reason says why (its result carries it)."""


@dataclass(frozen=True)
class Threshold:
    text: str
    metric: str
    op: str
    value: float  # milliseconds for durations, a fraction for rates
    scenario: str | None = None
    request: str | None = None  # a request name: ``[NAME]:``

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
    reason: str = ""  # why there is no value, when more than "nothing measured" can be said

    def observed_text(self) -> str:
        if math.isnan(self.observed):
            return "n/a"
        if is_rate(self.threshold.metric):
            return f"{self.observed * 100:.2f}%"
        if self.threshold.unit:
            return f"{self.observed:.2f}ms"
        if is_count(self.threshold.metric):
            return str(int(self.observed))
        return f"{self.observed:.1f}"

    def failure_text(self) -> str:
        """The expression, and why it has no value if that was the failure."""
        return f"{self.threshold.text} ({self.reason})" if self.reason else self.threshold.text


_HTTP_ERROR = 400  # a status from here on is an HTTP failure


def gates_http_failures(thresholds: Iterable[Threshold]) -> bool:
    """Whether a threshold judges 4xx/5xx (or other) responses, of the run or of a request
    name: then the summary suggests none."""
    for threshold in thresholds:
        metric = threshold.metric
        if metric == "http_failure_rate" or (threshold.request and metric == "failure_rate"):
            return True
        status = status_metric(metric)
        if status is not None and (
            status.what in ("4xx", "5xx", "other")
            or (status.what.isdigit() and int(status.what) >= _HTTP_ERROR)
        ):
            return True
    return False


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


def _value(metric: str, raw: str, expr: str) -> float:
    if metric in TIME_METRICS:
        return _duration_ms(raw, expr)
    if not is_rate(metric):
        return _number(raw, expr)
    if raw.endswith("%"):
        return _number(raw[:-1], expr) / 100
    value = _number(raw, expr)
    if value:  # 1 could be 1 % or 100 %: only a percent says which
        raise ThresholdError(bare_rate(expr, raw, value))
    return 0.0


def parse_threshold(expr: str) -> Threshold:
    match = _EXPR.match(expr)
    if not match:
        raise ThresholdError(unparsed(expr) or f"threshold {expr!r}: {GRAMMAR}")
    metric = match.group("metric").lower()
    scenario = match.group("scenario")
    request = match.group("request")
    if not is_known(metric):
        raise ThresholdError(
            k6(expr)
            or f"threshold {expr!r}: unknown metric {metric!r}{close_metric(metric)}; {GRAMMAR}"
        )
    if request is not None:
        request = request.strip()
        if not request:
            raise ThresholdError(f"threshold {expr!r}: the request name in [] is empty")
        if not takes(Subject.REQUEST, metric):
            raise ThresholdError(not_on_request(expr, request, metric, match.group("rest")))
    elif scenario is not None and not takes(Subject.SCENARIO, metric):
        raise ThresholdError(f"threshold {expr!r}: {metric} is run-wide, it takes no SCENARIO:")
    value = _value(metric, match.group("value"), expr)
    return Threshold(expr.strip(), metric, match.group("op"), value, scenario, request)


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
                    unknown_scenario(
                        threshold.text, threshold.scenario, threshold.metric, scenarios
                    )
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


def _share(count: int, total: int) -> float:
    return min(1.0, count / total) if total else math.nan


def _per_second(count: int, elapsed: float) -> float:
    return count / elapsed if elapsed > 0 else math.nan


def _status_count(status: StatusMetric, codes: dict[int, int]) -> int:
    """Responses of ``status`` among ``codes``; code 0 holds the responses whose code a
    per-request table had no room to list (16 codes per name and process), unknowable."""
    unlisted = codes.get(0, 0)
    if unlisted:
        raise Unmeasured(f"{unlisted} response(s) had a status code that was not recorded")
    return sum(n for code, n in codes.items() if status.counts(code))


def _request(snapshot: Snapshot, name: str) -> RequestStats:
    wanted = clip_name(name)  # as long a name as the stats bus keeps
    for stats in snapshot.by_request:
        if stats.name == wanted:
            return stats
    raise Unmeasured(unknown_request(name, [s.name for s in snapshot.requests_by_traffic()]))


def _observe_request(metric: str, stats: RequestStats, elapsed: float) -> float:
    """A request name's value: its latency, HTTP failures (4xx, 5xx, request errors),
    counts, requests per second or responses of a status."""
    status = status_metric(metric)
    if status is not None:
        count = _status_count(status, dict(stats.status_codes))
        return _share(count, stats.requests) if status.rate else float(count)
    if metric in DURATION_METRICS:
        return _histogram_ms(stats.latency or Histogram.empty(), metric)
    if metric == "failure_rate":
        return _share(stats.failures, stats.requests)
    if metric == "rps":
        return _per_second(stats.requests, elapsed)
    counts = {"failures": stats.failures, "errors": stats.errors, "requests": stats.requests}
    return float(counts[metric])


def _observe_run(metric: str, snapshot: Snapshot, elapsed: float) -> float | None:
    """A run-wide metric's value, or None when ``metric`` is a step metric."""
    status = status_metric(metric)
    if status is not None:
        if status.is_class:
            count = snapshot.statuses[STATUS_CLASSES.index(status.what)]
        else:
            count = _status_count(status, snapshot.status_codes())
        return _share(count, snapshot.requests) if status.rate else float(count)
    if metric in HTTP_METRICS:
        return _histogram_ms(snapshot.request_latency, metric.removeprefix("http_"))
    if metric == "checks":
        if not snapshot.checks_passed + snapshot.checks_failed:
            raise Unmeasured("no checks ran: molotov.check() was never called")
        return snapshot.checks_rate
    if metric == "http_rps":
        return _per_second(snapshot.requests, elapsed)
    if metric == "http_failure_rate":
        return _share(snapshot.http_failures, snapshot.requests)
    counts = {
        "errors": snapshot.request_errors,
        "dropped": snapshot.dropped,
        "requests": snapshot.requests,
    }
    return float(counts[metric]) if metric in counts else None


def observe(threshold: Threshold, snapshot: Snapshot, elapsed: float) -> float:
    """The value of the threshold's metric in a run's final snapshot (NaN when nothing was
    measured); :class:`Unmeasured` when more can be said (an unknown request name, ...)."""
    metric = threshold.metric
    if threshold.request is not None:
        return _observe_request(metric, _request(snapshot, threshold.request), elapsed)
    run_wide = _observe_run(metric, snapshot, elapsed)
    if run_wide is not None:
        return run_wide
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
        return _per_second(successes + failures, elapsed)
    return float(failures)


def evaluate(
    thresholds: Sequence[Threshold], snapshot: Snapshot, elapsed: float
) -> list[ThresholdResult]:
    """Judge each threshold; an undefined value (nothing measured) fails it."""
    results = []
    for threshold in thresholds:
        try:
            observed, reason = observe(threshold, snapshot, elapsed), ""
        except Unmeasured as exc:
            observed, reason = math.nan, str(exc)
        passed = not math.isnan(observed) and OPERATORS[threshold.op](observed, threshold.value)
        results.append(ThresholdResult(threshold, observed, passed, reason))
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
