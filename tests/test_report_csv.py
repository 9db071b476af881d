"""``--csv PREFIX``: ``PREFIX_stats.csv``, ``PREFIX_failures.csv``, ``PREFIX_scenarios.csv`` and
``PREFIX_history.csv``, read back with ``csv``.

From real runs of ``molotov`` (and ``moloreport``) against the live local target, and from a
synthetic open-model document for the columns short runs leave blank: the rows must add up
to the JSON report of the same run.
"""

from __future__ import annotations

import csv
import json
import socket
from pathlib import Path

import pytest

from molotov.reports import csvreport
from support import MIXED_SCENARIOS as MIXED
from support import moloreport, no_temp_files
from synthetic import synthetic_document


def read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as stream:
        rows = list(csv.reader(stream))
    header, body = rows[0], rows[1:]
    assert all(len(row) == len(header) for row in body)
    return [dict(zip(header, row, strict=True)) for row in body]


def header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as stream:
        return next(csv.reader(stream))


def check_stats(path: Path, doc: dict) -> list[dict[str, str]]:
    """Locust's per-name rows, busiest first, then Aggregated: they add up to the report's
    totals, and each row is its name's in the report."""
    assert header(path) == csvreport.STATS_COLUMNS
    *names, total = read(path)
    assert (total["Type"], total["Name"]) == ("", "Aggregated")
    by_request = doc["by_request"]
    assert [csvreport.type_and_name(name) for name in by_request] == [
        (row["Type"], row["Name"]) for row in names
    ]
    for row, (name, stats) in zip(names, by_request.items(), strict=True):
        assert int(row["Request Count"]) == stats["requests"], name
        assert int(row["Failure Count"]) == stats["failures"], name
        assert float(row["Requests/s"]) == stats["requests_per_s"], name
        latency = stats["latency"]
        if latency["count"]:
            assert float(row["Median Response Time"]) == latency["p50_ms"], name
            assert float(row["99%"]) == latency["p99_ms"], name
            assert float(row["100%"]) == float(row["Max Response Time"]) == latency["max_ms"]
        else:
            assert row["Median Response Time"] == row["50%"] == "", name
    totals = doc["totals"]
    assert sum(int(r["Request Count"]) for r in names) == int(total["Request Count"])
    assert int(total["Request Count"]) == totals["requests"]
    assert sum(int(r["Failure Count"]) for r in names) == int(total["Failure Count"])
    assert float(total["Requests/s"]) == totals["requests_per_s"]
    assert float(total["Median Response Time"]) == doc["request_latency"]["p50_ms"]
    assert float(total["Average Content Size"]) == round(
        totals["response_bytes"] / totals["requests"], 3
    )
    percentiles = [float(total[c]) for c in csvreport.PERCENT_COLUMNS]
    assert percentiles == sorted(percentiles)
    return names


def check_failures(path: Path, doc: dict) -> list[dict[str, str]]:
    """Each request name's failures: they add up to its failures (and to the run's)."""
    assert header(path) == csvreport.FAILURES_COLUMNS
    rows = read(path)
    for name, stats in doc["by_request"].items():
        method, shown = csvreport.type_and_name(name)
        mine = [r for r in rows if (r["Method"], r["Name"]) == (method, shown)]
        assert sum(int(r["Occurrences"]) for r in mine) == stats["failures"], name
    assert sum(int(r["Occurrences"]) for r in rows) == sum(
        s["failures"] for s in doc["by_request"].values()
    )
    return rows


def check_scenarios(path: Path, doc: dict) -> list[dict[str, str]]:
    """One row per scenario, then Aggregated: their counts are the report's."""
    assert header(path) == csvreport.SCENARIO_COLUMNS
    rows = read(path)
    *scenarios, total = rows
    assert [r["Name"] for r in scenarios] == sorted(doc["scenarios"])
    assert {r["Type"] for r in scenarios} == {"scenario"}
    assert (total["Type"], total["Name"]) == ("", "Aggregated")
    for row in scenarios:
        stats = doc["scenarios"][row["Name"]]
        assert int(row["Step Count"]) == stats["successes"] + stats["failures"]
        assert int(row["Failure Count"]) == stats["failures"]
        assert float(row["Steps/s"]) == stats["steps_per_s"]
        assert float(row["Median Duration"]) == stats["durations"]["p50_ms"]
        assert float(row["99%"]) == stats["durations"]["p99_ms"]
        assert float(row["99.9%"]) == stats["durations"]["p99.9_ms"]
        assert float(row["100%"]) == float(row["Max Duration"]) == stats["durations"]["max_ms"]
        assert float(row["Min Duration"]) <= float(row["50%"]) <= float(row["Max Duration"])
        assert row["Request Count"] == row["Requests/s"] == ""
    totals = doc["totals"]
    assert sum(int(r["Step Count"]) for r in scenarios) == int(total["Step Count"])
    assert int(total["Step Count"]) == totals["steps"]
    assert sum(int(r["Failure Count"]) for r in scenarios) == int(total["Failure Count"])
    assert int(total["Failure Count"]) == totals["failures"]
    assert int(total["Request Count"]) == totals["requests"]
    assert float(total["Requests/s"]) == totals["requests_per_s"]
    assert float(total["Steps/s"]) == totals["steps_per_s"]
    assert float(total["Average Duration"]) == doc["scenario_durations"]["mean_ms"]
    assert float(total["95%"]) == doc["scenario_durations"]["p95_ms"]
    percentiles = [float(total[c]) for c in csvreport.PERCENT_COLUMNS]
    assert percentiles == sorted(percentiles)
    return rows


def check_history(path: Path, doc: dict) -> list[dict[str, str]]:
    """One row per second of the series; counts add up to the totals."""
    assert header(path) == csvreport.HISTORY_COLUMNS
    rows = read(path)
    series = doc["series"]
    assert [int(r["Timestamp"]) for r in rows] == [row["t"] for row in series]
    assert {r["Name"] for r in rows} == {"Aggregated"}
    totals = doc["totals"]
    assert sum(int(r["Steps/s"]) for r in rows) == totals["steps"]
    assert sum(int(r["Requests/s"]) for r in rows) == totals["requests"]
    assert sum(int(r["Failures/s"]) for r in rows) == totals["failures"]
    last = rows[-1]
    assert int(last["Total Step Count"]) == totals["steps"]
    assert int(last["Total Request Count"]) == totals["requests"]
    assert int(last["Total Failure Count"]) == totals["failures"]
    for row, second in zip(rows, series, strict=True):
        if second["steps"]:
            assert float(row["50%"]) == second["p50_ms"]
            assert float(row["99%"]) == second["p99_ms"]
        else:
            assert row["50%"] == ""
    return rows


def test_csv_of_a_real_run(run_molotov, write_scenario, target, tmp_path):
    write_scenario(MIXED)
    result = run_molotov(
        "-w", "3", "-d", "2", "--delay", "0.01", "--report", "r.json", "--csv", "out/run",
        "loadtest.py",
    )  # fmt: skip
    assert result.returncode == 0, (result.stdout, result.stderr)
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["totals"]["requests"] == target.total
    names = check_stats(tmp_path / "out" / "run_stats.csv", doc)
    # The rows are what the target served on each path.
    counts = {row["Name"]: int(row["Request Count"]) for row in names}
    assert counts == {
        "/": target.hits["/"],
        "/status/{id}": target.hits["/status/404"] + target.hits["/status/500"],
        "/data": target.hits["/data"],
    }
    failures = check_failures(tmp_path / "out" / "run_failures.csv", doc)
    assert {(r["Name"], r["Error"]) for r in failures} == {
        ("/status/{id}", "HTTP 404 Not Found"),
        ("/status/{id}", "HTTP 500 Internal Server Error"),
    }
    check_scenarios(tmp_path / "out" / "run_scenarios.csv", doc)
    history = check_history(tmp_path / "out" / "run_history.csv", doc)
    assert len(history) >= 2
    # Today's reports have no open-model keys: those cells are blank, not zeros.
    if "workers" not in doc["series"][0]:
        assert {r["User Count"] for r in history} == {""}
    no_temp_files(tmp_path / "out")


NAMED_AND_FAILING = """
import os

import molotov

URL = os.environ["TARGET_URL"]


@molotov.scenario()
async def shop(session):
    with molotov.named("search"):
        async with session.get(URL + "/data") as resp:
            await resp.read()
    async with session.get(URL + "/status/404") as resp:
        resp.raise_for_status()


@molotov.scenario()
async def gone(session):
    async with session.get("http://127.0.0.1:1/nothing") as resp:
        await resp.read()
"""


def test_csv_of_named_requests_and_their_failures(run_molotov, write_scenario, target, tmp_path):
    write_scenario(NAMED_AND_FAILING)
    args = ["--single-run", "-w", "3", "--report", "r.json", "--csv", "run", "loadtest.py"]
    result = run_molotov(*args)
    assert result.returncode == 0, (result.stdout, result.stderr)
    doc = json.loads((tmp_path / "r.json").read_text())
    rows = {(r["Type"], r["Name"]): r for r in check_stats(tmp_path / "run_stats.csv", doc)}
    steps = {name: s["successes"] + s["failures"] for name, s in doc["scenarios"].items()}
    assert steps == {"shop": 3, "gone": 3}
    assert int(rows[("", "search")]["Request Count"]) == target.hits["/data"] == steps["shop"]
    not_found = rows[("GET", "/status/{id}")]
    assert int(not_found["Request Count"]) == int(not_found["Failure Count"]) == steps["shop"]
    refused = rows[("GET", "/nothing")]
    assert int(refused["Request Count"]) == int(refused["Failure Count"]) == steps["gone"]
    assert refused["Median Response Time"] == refused["100%"] == ""  # no response: no time
    failures = {
        (r["Method"], r["Name"], r["Error"]): int(r["Occurrences"])
        for r in check_failures(tmp_path / "run_failures.csv", doc)
    }
    assert failures == {
        ("GET", "/status/{id}", "HTTP 404 Not Found"): steps["shop"],
        ("GET", "/nothing", "connection refused"): steps["gone"],
    }


def test_csv_of_a_merge(run_molotov, write_scenario, target, tmp_path):
    write_scenario(MIXED)
    for name in ("a", "b"):
        done = run_molotov("-w", "2", "-r", "4", "--report", f"{name}.json", "loadtest.py")
        assert done.returncode == 0, done.stderr
    result = moloreport(
        "a.json", "b.json", "--report", "all.json", "--csv", "all", "--threshold", "failures<1",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 99, (result.stdout, result.stderr)  # the threshold failed
    merged = json.loads((tmp_path / "all.json").read_text())
    names = check_stats(tmp_path / "all_stats.csv", merged)
    assert sum(int(r["Request Count"]) for r in names) == target.total
    check_failures(tmp_path / "all_failures.csv", merged)
    stats = check_scenarios(tmp_path / "all_scenarios.csv", merged)
    check_history(tmp_path / "all_history.csv", merged)
    inputs = [json.loads((tmp_path / f"{n}.json").read_text()) for n in ("a", "b")]
    assert int(stats[-1]["Step Count"]) == sum(d["totals"]["steps"] for d in inputs) == 16


def test_csv_of_the_open_model():
    doc = synthetic_document(600)
    stats = csvreport.scenario_rows(doc)
    assert len(stats) == len(doc["scenarios"]) + 1
    rows = [
        dict(zip(csvreport.HISTORY_COLUMNS, r, strict=True)) for r in csvreport.history_rows(doc)
    ]
    assert [r["User Count"] for r in rows] == [s["workers"] for s in doc["series"]]
    assert [r["Target"] for r in rows] == [s["target"] for s in doc["series"]]
    assert sum(r["Started/s"] for r in rows) == doc["totals"]["steps"]
    assert sum(r["Dropped/s"] for r in rows) == doc["totals"]["dropped"]
    assert sum(r["Request Errors/s"] for r in rows) == doc["totals"]["request_errors"]
    for row, second in zip(rows, doc["series"], strict=True):
        assert row["Request 50%"] == second["request_latency"]["p50_ms"]
        assert row["Request 99%"] == second["request_latency"]["p99_ms"]


def test_csv_written_and_read_back(tmp_path):
    doc = synthetic_document(120)
    doc["scenarios"]['comma, "quoted"\nname'] = doc["scenarios"].pop("search")
    # One explicit request name for all its requests, and errors raised by that request.
    totals = doc["totals"]
    name = 'a, "quoted"\nname'
    doc["by_request"] = {
        name: {
            "requests": totals["requests"],
            "failures": 7,
            "requests_per_s": totals["requests_per_s"],
            "response_bytes": totals["response_bytes"],
            "status_codes": {"200": totals["requests"] - 7, "503": 5},
            "request_errors": {"timeout": 2},
            "latency": doc["request_latency"],
        }
    }
    csvreport.write(tmp_path / "s", doc)
    (row,) = check_stats(tmp_path / "s_stats.csv", doc)
    assert (row["Type"], row["Name"]) == ("", name)
    assert {r["Name"] for r in check_failures(tmp_path / "s_failures.csv", doc)} == {name}
    check_scenarios(tmp_path / "s_scenarios.csv", doc)
    check_history(tmp_path / "s_history.csv", doc)
    no_temp_files(tmp_path)


def test_csv_and_html_from_molotov_json(run_molotov, write_scenario, target, tmp_path):
    write_scenario(MIXED)
    config = {
        "molotov": {
            "tests": {
                "smoke": {
                    "scenario": "loadtest.py",
                    "max_runs": 2,
                    "csv": "reports/{index}",
                    "html": "reports/{hostname}.html",
                }
            }
        }
    }
    (tmp_path / "molotov.json").write_text(json.dumps(config))
    result = run_molotov("--config", "molotov.json", "smoke", JOB_COMPLETION_INDEX="7")
    assert result.returncode == 0, (result.stdout, result.stderr)
    written = sorted(p.name for p in (tmp_path / "reports").iterdir())
    csvs = [f"7_{name}.csv" for name in ("stats", "failures", "scenarios", "history")]
    assert written == sorted([*csvs, f"{socket.gethostname()}.html"])
    assert read(tmp_path / "reports" / "7_scenarios.csv")[-1]["Step Count"] == "2"


@pytest.mark.parametrize("value", [3, True, ["a"]])
def test_csv_in_molotov_json_must_be_a_string(run_molotov, write_scenario, target, tmp_path, value):
    write_scenario(MIXED)
    config = {"molotov": {"tests": {"smoke": {"csv": value}}}}
    (tmp_path / "molotov.json").write_text(json.dumps(config))
    result = run_molotov("--config", "molotov.json", "smoke")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "option 'csv' of test 'smoke' must be a string" in lines[0]
    assert target.total == 0


def test_an_unwritable_csv_prefix(run_molotov, write_scenario, target, tmp_path):
    write_scenario(MIXED)
    (tmp_path / "file").write_text("")
    result = run_molotov("-r", "1", "--csv", "file/run", "loadtest.py")
    # Found before the run (exit 2), not after it.
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("--csv 'file/run': cannot write there")
    assert target.total == 0
