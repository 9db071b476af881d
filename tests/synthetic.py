"""A made-up but consistent JSON report document of any length, with the open-model keys.

The HTML and CSV reports are checked on real runs, which last seconds; this makes the long
ones (a 24-hour run: 86,400 series rows) and the keys that only the open workload model
writes (``model``, ``totals.arrivals``/``dropped``, per-row ``workers``, ``target``,
``started``, ``dropped``, ``status_classes``, ``request_errors``, ``request_latency`` and
``response_times``, ``scenario_response_times``, ``start_lateness``). Everything adds up as in
a real report: rows sum to the totals, the run-wide histograms are the sums of the rows' and of
the scenarios' buckets. The traffic ramps up over the first 5 %, holds ~120 arrivals/s, and has
an incident (slower, request errors, 5xx, dropped arrivals) 60 % of the way in.

Seconds with the same arrivals look alike, so their histograms are computed once and the rows
share them (a 24-hour document takes about a second to make); nothing should modify them.

With ``horizons`` (molotov.stats.series.HORIZONS), the rows are those a run's recorder leaves
at its end: each block of a horizon's width that ended longer than its age before the last
second is one row (``"s"``), its counts and buckets the sums of its seconds'. This is written
again here, on the document's rows, so that tests/test_series_horizons.py can hold the
recorder's own joining against it.

Used by tests/test_report_html.py, tests/test_report_csv.py and benchmarks/report_render.py.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

from molotov import __version__
from molotov.config.runconfig import RunConfig
from molotov.reports.jsonreport import HISTOGRAM_ENCODING, SCHEMA_VERSION, histogram_json
from molotov.stats.histogram import NBUCKETS, Histogram, bucket_bounds, bucket_of, percentiles_us
from molotov.stats.snapshot import REQUEST_ERROR_KINDS

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
RATE = 120  # arrivals per second on the plateau
# name: (share of the steps in tenths, requests per step, log-normal mu of a duration in µs)
SCENARIOS = {"browse": (6, 1, 8.0), "search": (3, 2, 9.0), "checkout": (1, 4, 10.0)}
SLOWER = 40  # the incident moves durations up by this many buckets (~25 %)
STATUS = ("1xx", "2xx", "3xx", "4xx", "5xx")
KINDS = tuple(kind.label for kind in REQUEST_ERROR_KINDS)
MIDDLE = [sum(bucket_bounds(i)) // 2 for i in range(NBUCKETS)]  # a bucket's typical value

Pairs = list[list[int]]


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def _shape(rng: random.Random, mu: float, sigma: float = 0.6) -> list[tuple[int, int]]:
    """A histogram shape: (bucket, weight) pairs, weights summing to 10 (one per decile)."""
    values = sorted(int(rng.lognormvariate(mu, sigma)) for _ in range(400))
    return sorted(Counter(bucket_of(values[40 * i + 20]) for i in range(10)).items())


RNG = random.Random(1)
SHAPES = {name: _shape(RNG, mu) for name, (_, _, mu) in SCENARIOS.items()}
REQUEST_SHAPE = _shape(RNG, 7.5)
LATENESS_SHAPE = [(bucket_of(40), 6), (bucket_of(400), 4)]


def _spread(count: int, shape: list[tuple[int, int]], shift: int = 0) -> Pairs:
    """``count`` values laid on ``shape`` (moved up by ``shift`` buckets), exactly ``count``."""
    cells = [[index + shift, count * weight // 10] for index, weight in shape]
    cells[0][1] += count - sum(n for _, n in cells)
    return [cell for cell in cells if cell[1]]


def _merge(*parts: Pairs) -> Pairs:
    merged: Counter[int] = Counter()
    for pairs in parts:
        for index, n in pairs:
            merged[index] += n
    return [[index, merged[index]] for index in sorted(merged)]


def _sum_us(pairs: Pairs) -> int:
    return sum(n * MIDDLE[index] for index, n in pairs)


def _block(pairs: Pairs, max_us: int) -> dict[str, Any]:
    """A series row's histogram object (``response_times``, ``request_latency``)."""
    count = sum(n for _, n in pairs)
    p50, p99 = percentiles_us(pairs, count, max_us, (50, 99))
    return {
        "count": count,
        "p50_ms": round(p50 / 1000, 3),
        "p99_ms": round(p99 / 1000, 3),
        "sum_us": _sum_us(pairs),
        "max_us": max_us,
        "buckets": pairs,
    }


@dataclasses.dataclass(frozen=True)
class _Second:
    """What one second with ``started`` arrivals started looks like (normal or incident)."""

    by_scenario: dict[str, Pairs]
    responses_by_scenario: dict[str, Pairs]
    steps: Pairs
    responses: Pairs
    requests: int
    request_errors: dict[str, int]
    status_classes: dict[str, int]
    request_latency: Pairs
    lateness: Pairs


@cache
def _second(started: int, incident: bool) -> _Second:
    shift = SLOWER if incident else 0
    counts = {name: started * tenths // 10 for name, (tenths, _, _) in SCENARIOS.items()}
    counts["browse"] += started - sum(counts.values())
    by_scenario = {name: _spread(n, SHAPES[name], shift) for name, n in counts.items()}
    # Response times count from the arrival: a little more than the step, a lot in the incident.
    late = shift + (25 if incident else 2)
    responses = {name: _spread(n, SHAPES[name], late) for name, n in counts.items()}
    requests = sum(n * SCENARIOS[name][1] for name, n in counts.items())
    errors = dict.fromkeys(KINDS, 0)
    if incident:
        errors["timeout"] = requests // 20
        errors["connection reset"] = requests // 50
    answered = requests - sum(errors.values())
    statuses = dict.fromkeys(STATUS, 0)
    statuses["5xx"] = answered // 10 if incident else 0
    statuses["4xx"] = answered // 100
    statuses["2xx"] = answered - statuses["5xx"] - statuses["4xx"]
    return _Second(
        by_scenario,
        responses,
        _merge(*by_scenario.values()),
        _merge(*responses.values()),
        requests,
        errors,
        statuses,
        _spread(answered, REQUEST_SHAPE, shift),
        _spread(started, LATENESS_SHAPE),
    )


class _Sum:
    """A run-wide histogram: the sparse pairs of many seconds, each seen ``times`` times."""

    def __init__(self) -> None:
        self.buckets = [0] * NBUCKETS

    def add(self, pairs: Pairs, times: int = 1) -> None:
        for index, n in pairs:
            self.buckets[index] += n * times

    def block(self) -> dict[str, Any]:
        pairs = [[i, n] for i, n in enumerate(self.buckets) if n]
        top = MIDDLE[pairs[-1][0]] if pairs else 0
        return histogram_json(
            Histogram(tuple(self.buckets), sum(self.buckets), _sum_us(pairs), top)
        )


def _top(pairs: Pairs) -> int:
    return MIDDLE[pairs[-1][0]] if pairs else 0


def _join(parts: list[dict[str, Any]], t: int, width: int) -> dict[str, Any]:
    """One row for ``parts`` (consecutive rows of the blocks of ``width`` from ``t``)."""
    steps = _merge(*(p["buckets"] for p in parts))
    max_step = max(p["max_us"] for p in parts)
    p50, p99 = percentiles_us(steps, sum(n for _, n in steps), max_step, (50, 99))
    # As the recorder: the mean over the seconds, from the parts' unrounded targets.
    targets = [(p["_target"] * p.get("s", 1), p.get("s", 1)) for p in parts]
    target = sum(v for v, _ in targets) / sum(n for _, n in targets)
    blocks = {
        key: _block(
            _merge(*(p[key]["buckets"] for p in parts)), max(p[key]["max_us"] for p in parts)
        )
        for key in ("response_times", "request_latency")
    }
    row = {"t": t, "s": width, "time": iso(t)}
    row.update({key: sum(p[key] for p in parts) for key in ("steps", "failures", "requests")})
    row.update(p50_ms=round(p50 / 1000, 3), p99_ms=round(p99 / 1000, 3))
    row.update(sum_us=sum(p["sum_us"] for p in parts), max_us=max_step, buckets=steps)
    row.update(started=sum(p["started"] for p in parts), dropped=sum(p["dropped"] for p in parts))
    row.update(workers=parts[-1]["workers"], target=round(target, 3), _target=target)
    for key in ("status_classes", "request_errors"):
        row[key] = {label: sum(p[key][label] for p in parts) for label in parts[0][key]}
    return row | blocks


def joined_rows(rows: list[dict[str, Any]], horizons: Sequence[tuple[int, int]]) -> list[dict]:
    """The rows (of one second each) as a recorder with ``horizons`` leaves them at the end."""
    end = rows[-1]["t"] + 1
    for i, row in enumerate(rows):
        rows[i] = row | {"_target": row["target"]}
    for age, width in horizons:

        def block(row: dict[str, Any], width: int = width, age: int = age) -> int | None:
            start: int = row["t"] - row["t"] % width
            return start if start + width <= end - age else None

        wider = []
        for start, parts in itertools.groupby(rows, block):
            group = list(parts)
            wider += group if start is None else [_join(group, start, width)]
        rows = wider
    return [{key: value for key, value in row.items() if key != "_target"} for row in rows]


def synthetic_document(
    seconds: int,
    *,
    seed: int = 1,
    start: int = T0,
    horizons: Sequence[tuple[int, int]] = (),
) -> dict[str, Any]:
    """An open-model report of a ``seconds``-long run from ``start`` (epoch seconds), its rows
    joined past ``horizons`` (none: a row per second)."""
    rng = random.Random(seed)
    ramp = max(1, seconds // 20)
    incident = range(int(seconds * 0.6), int(seconds * 0.6) + max(2, seconds // 50))
    seen: Counter[tuple[int, bool]] = Counter()
    failures_of: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    rows = []
    max_step = max_response = max_request = 0
    for i in range(seconds):
        hit = i in incident
        target = round(RATE * min(1.0, (i + 1) / ramp), 1)
        arrivals = max(0, int(target) + (rng.randrange(-2, 3) if target > 5 else 0))
        dropped = arrivals // 6 if hit else 0
        started = arrivals - dropped
        second = _second(started, hit)
        seen[started, hit] += 1
        checkout = sum(n for _, n in second.by_scenario["checkout"])
        failed = min(checkout, checkout // 4 if hit else int(rng.random() < 0.05))
        failures_of["checkout"] += failed
        totals.update(
            steps=started,
            failures=failed,
            requests=second.requests,
            dropped=dropped,
            arrivals=arrivals,
        )
        max_step = max(max_step, _top(second.steps))
        max_response = max(max_response, _top(second.responses))
        max_request = max(max_request, _top(second.request_latency))
        p50, p99 = percentiles_us(second.steps, started, max_step, (50, 99))
        rows.append(
            {
                "t": start + i,
                "time": iso(start + i),
                "steps": started,
                "failures": failed,
                "requests": second.requests,
                "p50_ms": round(p50 / 1000, 3),
                "p99_ms": round(p99 / 1000, 3),
                "sum_us": _sum_us(second.steps),
                "max_us": max_step,
                "buckets": second.steps,
                "started": started,
                "dropped": dropped,
                "workers": max(1, round(target * (0.09 if hit else 0.03))),
                "target": target,
                "status_classes": second.status_classes,
                "request_errors": second.request_errors,
                "response_times": _block(second.responses, max_response),
                "request_latency": _block(second.request_latency, max_request),
            }
        )

    kinds = ("durations", "responses", "requests", "lateness", *SCENARIOS)
    sums = {key: _Sum() for key in kinds + tuple(f"{name}.responses" for name in SCENARIOS)}
    statuses: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for (started, hit), times in seen.items():
        second = _second(started, hit)
        sums["durations"].add(second.steps, times)
        sums["responses"].add(second.responses, times)
        sums["requests"].add(second.request_latency, times)
        sums["lateness"].add(second.lateness, times)
        for name in SCENARIOS:
            sums[name].add(second.by_scenario[name], times)
            sums[f"{name}.responses"].add(second.responses_by_scenario[name], times)
        for label, n in second.status_classes.items():
            statuses[label] += n * times
        for kind, n in second.request_errors.items():
            errors[kind] += n * times

    steps, failures, requests = totals["steps"], totals["failures"], totals["requests"]
    durations = sums["durations"].block()
    rate = round(failures / steps, 6) if steps else 0.0
    options = dataclasses.asdict(
        RunConfig(scenario="loadtest.py", duration=float(seconds), processes=4, workers=200)
    )
    options["threshold"] = ["p99<250ms", "failure_rate<1%"]
    scenarios = {}
    for name in SCENARIOS:
        block = sums[name].block()
        scenarios[name] = {
            "successes": block["count"] - failures_of[name],
            "failures": failures_of[name],
            "steps_per_s": round(block["count"] / seconds, 3),
            "durations": block,
            "response_times": sums[f"{name}.responses"].block(),
        }
    listed = [
        {"kind": "scenario", "message": "AssertionError: cart lost", "count": failures},
        {"kind": "timeout", "message": "timeout (shop.test:443)", "count": errors["timeout"]},
        {
            "kind": "reset",
            "message": "connection reset (shop.test:443)",
            "count": errors["connection reset"],
        },
    ]
    return {
        "schema_version": SCHEMA_VERSION,
        "tool_version": __version__,
        "model": "open",
        "successes": steps - failures,
        "failures": failures,
        "started_at": iso(start),
        "ended_at": iso(start + seconds),
        "duration_s": float(seconds),
        "stop_reason": "duration",
        "merged_from": 1,
        "options": options,
        "totals": {
            "steps": steps,
            "successes": steps - failures,
            "failures": failures,
            "failure_rate": rate,
            "steps_per_s": round(steps / seconds, 3),
            "requests": requests,
            "requests_per_s": round(requests / seconds, 3),
            "response_bytes": requests * 1234,
            "request_errors": sum(errors.values()),
            "workers_started": 800,
            "pick_failures": 0,
            "connection_failures": 0,
            "setup_failures": 0,
            "session_setup_failures": 0,
            "arrivals": totals["arrivals"],
            "dropped": totals["dropped"],
        },
        "status_classes": {label: statuses[label] for label in STATUS},
        "request_errors": {kind: errors[kind] for kind in KINDS},
        "errors": sorted((e for e in listed if e["count"]), key=lambda e: -e["count"]),
        "errors_dropped": 0,
        "scenario_durations": durations,
        "scenario_response_times": sums["responses"].block(),
        "start_lateness": sums["lateness"].block(),
        "request_latency": sums["requests"].block(),
        "scenarios": scenarios,
        "series": joined_rows(rows, horizons) if horizons else rows,
        "thresholds": [
            {
                "expression": "p99<250ms",
                "observed": durations["p99_ms"],
                "unit": "ms",
                "passed": durations["p99_ms"] < 250,
            },
            {"expression": "failure_rate<1%", "observed": rate, "unit": "", "passed": rate < 0.01},
        ],
        "histogram_encoding": HISTOGRAM_ENCODING,
    }


def readable(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with what molotov's reader also wants, consistent with the rest: the rate of
    the open model, one request name for every request (its status codes, errors and latency:
    the run's), no checks, no per-name rows in the series, the ``other`` status class (never
    seen)."""
    totals, statuses = doc["totals"], doc["status_classes"] | {"other": 0}
    codes = {"200": statuses["2xx"], "404": statuses["4xx"], "503": statuses["5xx"]}
    codes = {code: n for code, n in codes.items() if n}
    name = {
        "requests": totals["requests"],
        "failures": statuses["4xx"] + statuses["5xx"] + totals["request_errors"],
        "failure_rate": 0.0,
        "requests_per_s": totals["requests_per_s"],
        "response_bytes": totals["response_bytes"],
        "host": "shop.test",
        "status_codes": codes,
        "request_errors": doc["request_errors"],
        "latency": doc["request_latency"],
    }
    checks = {"passed": 0, "failed": 0, "dropped": 0, "rate": 1.0, "items": []}
    rows = [
        row | {"status_classes": row["status_classes"] | {"other": 0}, "by_request": {}}
        for row in doc["series"]
    ]
    errors = [error | {"scenario": "", "request": ""} for error in doc["errors"]]
    return doc | {
        "options": doc["options"] | {"rate": float(RATE)},  # the open model's, as its target
        "totals": totals | {"started": totals["steps"]},
        "status_classes": statuses,
        "status_codes": codes,
        "by_request": {"GET /api": name},
        "checks": checks,
        "errors": errors,
        "series": rows,
    }
