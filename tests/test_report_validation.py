"""``moloreport`` refuses impossible reports: one line naming the file and the field, exit 1.

The report edited below comes from a real run (two scenarios, one failing, a few seconds of
series); each case damages one field the way a hand edit, a bad tool or a bad disk would.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from support import Result, molotov_env, real_report, run_command


@pytest.fixture(scope="module")
def report(_target_server, tmp_path_factory) -> dict:
    return real_report(tmp_path_factory.mktemp("validation"), molotov_env(_target_server.url))


def moloreport(*args: str, cwd: Path) -> Result:
    command = [sys.executable, "-c", "from molotov.reports.moloreport import main; main()", *args]
    return run_command(command, cwd, molotov_env(), 60)


def _set(*path: str | int, value: object) -> Callable[[dict], None]:
    def change(doc: dict) -> None:
        *parents, last = path
        for key in parents:
            doc = doc[key]  # type: ignore[index]
        doc[last] = value  # type: ignore[index]

    return change


def _swap_series(doc: dict) -> None:
    doc["series"][0], doc["series"][1] = doc["series"][1], doc["series"][0]


def _drop_a_row(doc: dict) -> None:
    doc["series"].pop(0)


def _widen(doc: dict, off_grid: int = 0) -> None:
    """The first row made 10 s wide, from the multiple of 10 at or before the next row's
    second (plus ``off_grid``): on the grid, it covers that second too, wherever in its ten
    seconds the run's first second was (from the first row's own multiple of 10, a first
    second ending in 9 left the next row apart: a valid report, one run in ten)."""
    row, after = doc["series"][0], doc["series"][1]
    row["s"] = 10
    row["t"] = after["t"] - after["t"] % 10 + off_grid


CASES = {
    "negative-count": (_set("totals", "requests", value=-1), "totals.requests", "from 0 to"),
    "count-as-text": (_set("totals", "requests", value="many"), "totals.requests", "whole number"),
    "count-as-float": (_set("status_classes", "2xx", value=1.5), "status_classes.2xx", "whole"),
    "count-as-bool": (_set("errors_dropped", value=True), "errors_dropped", "whole number"),
    "huge-count": (_set("totals", "response_bytes", value=2**64), "totals.response_bytes", "to"),
    "nan-duration": (_set("duration_s", value=float("nan")), "duration_s", "got nan"),
    "infinite-duration": (_set("duration_s", value=float("inf")), "duration_s", "inf"),
    "negative-duration": (_set("duration_s", value=-1), "duration_s", "from 0 to"),
    "absurd-max": (
        _set("request_latency", "max_us", value=10**20),
        "request_latency.max_us",
        "from 0 to",
    ),
    "infinite-max-ms": (
        _set("scenario_durations", "max_ms", value=float("inf")),
        "scenario_durations.max_ms",
        "inf",
    ),
    "sum-over-max": (
        _set("request_latency", "sum_us", value=10**15),
        "request_latency.sum_us",
        "more than",
    ),
    "started-at-number": (_set("started_at", value=1767225600), "started_at", "a string"),
    "started-at-garbage": (_set("started_at", value="yesterday"), "started_at", "ISO 8601"),
    "started-before-1970": (_set("started_at", value="1900-01-01T00:00:00Z"), "started_at", "1970"),
    "ended-before-started": (
        _set("ended_at", value="1971-01-01T00:00:00Z"),
        "ended_at",
        "before started_at",
    ),
    "scenarios-list": (_set("scenarios", value=["good", "bad"]), "scenarios", "an object"),
    "scenario-successes-text": (
        _set("scenarios", "good", "successes", value="3"),
        "scenarios.good.successes",
        "whole number",
    ),
    "scenario-count-mismatch": (
        _set("scenarios", "good", "successes", value=0),
        "scenarios.good.durations.count",
        "successes plus failures",
    ),
    "error-kind-unknown": (_set("errors", 0, "kind", value="gremlins"), "errors[0].kind", "one of"),
    "error-message-number": (_set("errors", 0, "message", value=7), "errors[0].message", "string"),
    "bucket-out-of-range": (
        _set("request_latency", "buckets", 0, 0, value=10**6),
        "request_latency.buckets[0].index",
        "from 0 to 2687",
    ),
    "bucket-not-a-pair": (
        _set("request_latency", "buckets", 0, value=[1, 2, 3]),
        "request_latency.buckets[0]",
        "[index, count]",
    ),
    "series-unordered": (_swap_series, "series", "time order"),
    "series-short": (_drop_a_row, "series", "add up to"),
    "row-width-not-a-width": (_set("series", 0, "s", value=7), "series[0].s", "one of (1, 10,"),
    "row-width-text": (_set("series", 0, "s", value="10"), "series[0].s", "whole number"),
    "row-width-zero": (_set("series", 0, "s", value=0), "series[0].s", "from 1 to"),
    "row-off-its-grid": (lambda doc: _widen(doc, 3), "series[0].s", "that divides t"),
    "rows-overlap": (_widen, "series", "time order, rows apart"),
    "series-failures-over-steps": (
        _set("series", 0, "failures", value=10**6),
        "series[0].failures",
        "from 0 to",
    ),
    "top-successes-mismatch": (_set("successes", value=10**6), "successes", "must be"),
    "failure-rate-over-one": (
        _set("totals", "failure_rate", value=2),
        "totals.failure_rate",
        "to 1",
    ),
    "merged-from-zero": (_set("merged_from", value=0), "merged_from", "from 1 to"),
    "options-list": (_set("options", value=[1]), "options", "an object"),
    "thresholds-object": (_set("thresholds", value={}), "thresholds", "a list"),
    "stop-reason-number": (_set("stop_reason", value=5), "stop_reason", "a string"),
    "lost-processes-text": (_set("lost_processes", value="one"), "lost_processes", "a list"),
    "lost-process-number": (_set("lost_processes", value=[3]), "lost_processes[0]", "a string"),
    "durations-not-the-scenarios": (
        _set("scenario_durations", "count", value=0),
        "scenario_durations.buckets",
        "add up to",
    ),
    "started-negative": (_set("totals", "started", value=-1), "totals.started", "from 0 to"),
    "dropped-not-in-series": (_set("totals", "dropped", value=5), "series", "run's dropped (5)"),
    "lateness-nan-ms": (
        _set("start_lateness", "p99_ms", value=float("nan")),
        "start_lateness.p99_ms",
        "got nan",
    ),
    "response-times-list": (
        _set("scenarios", "good", "response_times", value=[]),
        "scenarios.good.response_times",
        "an object",
    ),
    "model-unknown": (_set("model", value="half-open"), "model", "one of open, closed"),
    "row-target-text": (_set("series", 0, "target", value="fast"), "series[0].target", "number"),
    "row-status-negative": (
        _set("series", 0, "status_classes", "2xx", value=-1),
        "series[0].status_classes.2xx",
        "from 0 to",
    ),
    "row-response-times-count": (
        _set("series", 0, "response_times", "count", value=5),
        "series[0].response_times.buckets",
        "add up to",
    ),
    "row-bucket-over-int32": (
        _set("series", 0, "buckets", value=[[3, 2**31]]),
        "series[0].buckets[0].count",
        "from 0 to 2147483647",
    ),
    "row-bucket-repeated-past-int32": (
        _set("series", 0, "buckets", value=[[3, 2**31 - 1], [3, 1]]),
        "series[0].buckets[1]",
        "brings bucket 3 past 2147483647",
    ),
    "model-not-the-options": (_set("model", value="open"), "model", "as options.rate says"),
    "other-encoding": (
        _set("histogram_encoding", "buckets", value=7),
        "histogram_encoding",
        "must be",
    ),
}


@pytest.mark.parametrize(("change", "field", "says"), CASES.values(), ids=CASES.keys())
def test_impossible_report_is_refused(report, tmp_path, change, field, says):
    good, bad = json.loads(json.dumps(report)), json.loads(json.dumps(report))
    change(bad)
    (tmp_path / "good.json").write_text(json.dumps(good))
    (tmp_path / "bad.json").write_text(json.dumps(bad))  # NaN and Infinity as JSON readers read
    result = moloreport("good.json", "bad.json", "--report", "merged.json", cwd=tmp_path)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"bad.json: impossible report: field {field!r} "), lines[0]
    assert says in lines[0], lines[0]
    assert not (tmp_path / "merged.json").exists()


def test_the_real_report_itself_is_accepted(report, tmp_path):
    """The counterpart of the cases above: the undamaged report merges with itself."""
    (tmp_path / "r.json").write_text(json.dumps(report))
    result = moloreport("r.json", "r.json", "--report", "merged.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    merged = json.loads((tmp_path / "merged.json").read_text())
    assert merged["successes"] == 2 * report["successes"]
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"schema_version": 1, "x": "\xff"}', "not UTF-8 text"),
    ],
    ids=["deep", "invalid-utf8"],
)
def test_undecodable_report_is_refused(tmp_path, data, says):
    (tmp_path / "bad.json").write_bytes(data)
    result = moloreport("bad.json", cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("bad.json: not a JSON report: "), lines[0]
    assert says in lines[0]


def test_report_in_utf16_is_read(report, tmp_path):
    (tmp_path / "r.json").write_text(json.dumps(report), encoding="utf-16")
    result = moloreport("r.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"SUCCESSES: {report['successes']} | FAILURES: {report['failures']}" in result.stdout
