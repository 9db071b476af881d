"""What a mistaken ``--threshold`` probably meant, said in one line with the fix.

The mistakes answered here: a bare number on a rate (``failure_rate<1``: a percent is
meant), k6's spellings (``p(95)``, ``http_req_duration``, ``http_req_failed``, ``checks`` as a
fraction), a request name written without its brackets, a metric a letter away from one, and,
once the run is over, a request name that no request had (the closest names instead).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

from molotov.reports.thresholdmetrics import (
    DURATION_METRICS,
    METRICS,
    PERCENTILES,
    REQUEST_METRICS,
    STATUS_FAMILY,
)
from molotov.stats.naming import OTHER

_TAIL = re.compile(r"(?P<op><=|>=|<|>)\s*(?P<value>\S+)\s*$")
_PERCENTILE = re.compile(r"p\(\s*(?P<n>[0-9.]+)\s*\)")
_REQUEST_PREFIX = re.compile(r"^\s*\[(?P<name>.*)\]\s*:?\s*")
_WORD = re.compile(r"[A-Za-z_]\w*")
_K6_AGGREGATES = {"avg": "mean", "med": "p50", "max": "max"}
_K6_TRENDS = {
    "http_req_duration": ("http_", "molotov's request latency"),
    "iteration_duration": ("", "molotov's step durations"),
}
_K6_RENAMED = {
    "http_req_failed": "http_failure_rate",
    "checks": "checks",
    "http_reqs": "http_rps",
    "iterations": "rps",
    "dropped_iterations": "dropped",
}
_K6_RATES = ("http_failure_rate", "checks")
_PREFIXED = re.compile(
    r"^\s*(?P<name>.+?)\s*:\s*(?P<rest>[A-Za-z_][\w.]*\s*(?:<=|>=|<|>)\s*\S+)\s*$"
)
_NOT_A_SCENARIO = re.compile(r"[\s/'\"{}]")  # a request's name then, not a scenario's


def percent(value: float) -> str:
    """``1%``, ``99.9%``: a share written as a percent."""
    return f"{round(value * 100, 6):g}%"


def _did_you_mean(expr: str, meant: str, why: str) -> str:
    return f"threshold {expr!r}: did you mean {meant!r}? ({why})"


def bare_rate(expr: str, raw: str, value: float) -> str:
    """``failure_rate<1``: a rate's value needs its percent sign. Below 1 the number reads as
    a fraction (``checks>0.99``: 99 %), above as the percent it lacks; 1 is either."""
    text = expr.strip()
    head = text[: len(text) - len(raw)]
    if value < 1:
        return _did_you_mean(expr, head + percent(value), "a rate takes a percent")
    why = "a rate takes a percent"
    if value == 1:
        why += f"; as a fraction, 1 is {head + '100%'!r}"
    return _did_you_mean(expr, f"{head}{raw}%", why)


def _k6_value(value: str) -> str:
    """k6 writes a rate as a fraction (``rate<0.01``): the same share as a percent."""
    try:
        return value if value.endswith("%") else percent(float(value))
    except ValueError:
        return value


def _k6_renamed(expr: str, word: str, op: str, value: str) -> str:
    metric = _K6_RENAMED[word]
    if metric in _K6_RATES:
        meant = f"{metric}{op}{_k6_value(value)}"
        return _did_you_mean(expr, meant, f"k6's {word}; a rate takes a percent")
    return _did_you_mean(expr, f"{metric}{op}{value}", f"k6's {word}")


def k6(expr: str) -> str | None:
    """The message for an expression in k6's words, or None if it is not one."""
    tail = _TAIL.search(expr)
    if tail is None:
        return None
    head = expr[: tail.start()]
    prefix = _REQUEST_PREFIX.match(head)
    words = sorted(set(_WORD.findall(head[prefix.end() :] if prefix else head)))
    op, value = tail["op"], tail["value"]
    found = _PERCENTILE.search(head)
    aggregates = (_K6_AGGREGATES[w] for w in words if w in _K6_AGGREGATES)
    aggregate = f"p{found['n']}" if found else next(aggregates, None)
    trend = next((w for w in words if w in _K6_TRENDS), None)
    renamed = next((w for w in words if w in _K6_RENAMED), None)
    if renamed is not None and (aggregate is None or _K6_RENAMED[renamed] in _K6_RATES):
        return _k6_renamed(expr, renamed, op, value)
    if trend is None and aggregate is None:
        return None
    if aggregate is not None and aggregate not in DURATION_METRICS:
        return f"threshold {expr!r}: the percentiles are {', '.join(PERCENTILES)} (k6's p(N) is pN)"
    metric = aggregate or "p95"
    if prefix:
        meant = f"[{prefix['name'].strip()}]:{metric}{op}{value}"
        return _did_you_mean(expr, meant, "a request's latency is p50 … p99.9, max, mean")
    if trend is not None:
        prefixed, what = _K6_TRENDS[trend]
        return _did_you_mean(expr, f"{prefixed}{metric}{op}{value}", f"k6's {trend} is {what}")
    return (
        f"threshold {expr!r}: did you mean {f'http_{metric}{op}{value}'!r} (request latency) "
        f"or {f'{metric}{op}{value}'!r} (step durations)?"
    )


def request_brackets(expr: str) -> str | None:
    """``GET /items/{id}:p95<200ms`` (or quoted): a request name goes in brackets."""
    found = _PREFIXED.match(expr)
    if found is None or not _NOT_A_SCENARIO.search(found["name"]) or found["name"][0] == "[":
        return None
    name = found["name"].strip().strip("'\"")
    return (
        f"threshold {expr!r}: a request name goes in brackets; did you mean "
        f"{f'[{name}]:' + found['rest']!r}?"
    )


def missing_colon(expr: str) -> str | None:
    """``[GET /]p95<1s``: the colon after the brackets is missing."""
    found = _REQUEST_PREFIX.match(expr)
    if found is None or found.group().rstrip().endswith(":"):
        return None
    meant = f"[{found['name'].strip()}]:{expr[found.end() :].strip()}"
    return f"threshold {expr!r}: the brackets take a colon; did you mean {meant!r}?"


def unparsed(expr: str) -> str | None:
    """The hint for an expression the grammar does not read, if one fits."""
    return k6(expr) or missing_colon(expr) or request_brackets(expr)


def close_metric(metric: str) -> str:
    """`` (did you mean 'failures'?)`` for ``failure``, or nothing."""
    close = difflib.get_close_matches(metric, METRICS, n=1, cutoff=0.7)
    return f" (did you mean {close[0]!r}?)" if close else ""


def not_on_request(expr: str, name: str, metric: str, rest: str) -> str:
    """A metric a request does not have: its request form when there is one."""
    base = metric.removeprefix("http_")
    if base != metric and base in REQUEST_METRICS:
        return _did_you_mean(expr, f"[{name}]:{base}{rest}", f"a request's latency is {base}")
    return (
        f"threshold {expr!r}: {metric} is not measured per request; a request takes "
        + ", ".join(REQUEST_METRICS)
        + f", {STATUS_FAMILY}"
    )


def unknown_scenario(expr: str, scenario: str, metric: str, scenarios: Sequence[str]) -> str:
    """``SCENARIO:`` names no scenario: k6's metric written as one (``http_req_duration:``),
    or a request's name (the same threshold on the requests named so), or a typo."""
    if scenario in _K6_TRENDS or scenario in _K6_RENAMED:
        hint = k6(expr)
        if hint is not None:
            return hint
    text = f"threshold {expr!r}: no scenario named {scenario!r} (scenarios: "
    text += ", ".join(sorted(scenarios)) + ")"
    if metric in REQUEST_METRICS:
        body = expr.partition(":")[2].strip()
        text += f"; for the requests named so, write {f'[{scenario}]:{body}'!r}"
    return text


def unknown_request(name: str, names: Sequence[str]) -> str:
    """Why a request threshold has no value: no such name; the closest ones that exist
    (``names`` busiest first)."""
    if not names:
        return f"no request named {name!r}: no request was made"
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    listed = ", ".join(repr(n) for n in (close or names[:3]))
    text = f"no request named {name!r}; {'the closest' if close else 'the busiest'}: {listed}"
    if OTHER in names:
        text += f" (names past --max-request-names were counted as {OTHER!r})"
    return text
