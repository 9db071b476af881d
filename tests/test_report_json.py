"""``--report PATH``: the JSON document of a run, and ``moloreport``, which merges and judges them.

The runs are the real ``molotov`` command against the live local target; ``moloreport`` is the
real console script. Numbers in a report are checked against the summary line and against what
the target served; merged reports against the sums of their inputs, bucket by bucket.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from molotov import __version__
from molotov.reports import jsonreport
from molotov.reports.jsonreport import RunReport
from molotov.reports.thresholdmetrics import PERCENTILES
from molotov.stats.histogram import NBUCKETS, Histogram, bucket_of
from molotov.stats.series import SeriesRecorder
from molotov.stats.snapshot import ScenarioStats, Snapshot
from support import Result, closing, moloreport, molotov_env, no_temp_files

SAFETY = 60.0  # seconds: the longest a run below may take before the test gives up

HEADER = textwrap.dedent(
    """\
    import os

    import molotov

    URL = os.environ["TARGET_URL"]

    """
)

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
HISTOGRAM_KEYS = {f"{name}_ms" for name in PERCENTILES} | {
    "count",
    "max_ms",
    "mean_ms",
    "sum_us",
    "max_us",
    "buckets",
}

MIXED = """
@molotov.scenario()
async def three(session):
    for path in ("/", "/status/404", "/status/503"):
        async with session.get(URL + path) as resp:
            await resp.read()


@molotov.scenario()
async def broken(session):
    async with session.get(URL + "/status/500") as resp:
        assert resp.status == 200, "server error"
"""

GET_ROOT = """
@molotov.scenario()
async def root(session):
    async with session.get(URL + "/") as resp:
        await resp.read()
"""


@pytest.fixture
def scenario_file(write_scenario):
    def write(body: str, name: str = "loadtest.py") -> Path:
        return write_scenario(HEADER + textwrap.dedent(body), name)

    return write


def parse_time(text: str) -> datetime:
    assert ISO_UTC.match(text), text
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert parsed.utcoffset() == timedelta(0)
    return parsed


def dense(pairs: list[list[int]]) -> list[int]:
    buckets = [0] * NBUCKETS
    for index, count in pairs:
        buckets[index] += count
    return buckets


def sparse(buckets: list[int]) -> list[list[int]]:
    return [[i, n] for i, n in enumerate(buckets) if n]


def check_histogram(block: dict) -> None:
    """A histogram block: its buckets add up to its count, its percentiles come from them."""
    assert set(block) == HISTOGRAM_KEYS, sorted(block)
    buckets = dense(block["buckets"])
    assert all(n > 0 for _, n in block["buckets"])
    assert [i for i, _ in block["buckets"]] == sorted(i for i, _ in block["buckets"])
    assert sum(buckets) == block["count"]
    histogram = Histogram(tuple(buckets), block["count"], block["sum_us"], block["max_us"])
    for name, percent in PERCENTILES.items():
        assert block[f"{name}_ms"] == round(histogram.percentile_us(percent) / 1000, 3), name
    values = [block[f"{name}_ms"] for name in PERCENTILES] + [block["max_ms"]]
    assert values == sorted(values)
    assert block["max_ms"] == round(block["max_us"] / 1000, 3)
    if block["count"]:
        assert block["max_us"] > 0
        # The max lies in the highest non-empty bucket.
        assert bucket_of(block["max_us"]) == block["buckets"][-1][0]
        assert block["mean_ms"] == round(block["sum_us"] / block["count"] / 1000, 3)


def check_series(doc: dict) -> None:
    """Rows in increasing seconds whose counts add up exactly to the totals."""
    rows = doc["series"]
    assert rows
    times = [row["t"] for row in rows]
    assert times == sorted(set(times))
    assert sum(row["steps"] for row in rows) == doc["totals"]["steps"]
    assert sum(row["failures"] for row in rows) == doc["totals"]["failures"]
    assert sum(row["requests"] for row in rows) == doc["totals"]["requests"]
    for row in rows:
        assert parse_time(row["time"]) == datetime.fromtimestamp(row["t"], UTC)
        assert sum(n for _, n in row["buckets"]) == row["steps"]


# -- the document of one run --------------------------------------------------------------------


def test_the_report_document(scenario_file, run_molotov, target, tmp_path):
    scenario_file(MIXED)
    before = datetime.now(UTC)
    result = run_molotov(
        "--single-run",
        "-w",
        "4",
        "--threshold",
        "p99<60s",
        "--threshold",
        "http_p50<1us",
        "--threshold",
        "broken:failure_rate<=100%",
        "--report",
        "report.json",
        "loadtest.py",
    )
    after = datetime.now(UTC)
    # The http_p50 threshold fails the run; the report is written all the same.
    assert result.returncode == 99, (result.stdout, result.stderr)
    assert closing(result.stdout) == (4, 4)
    doc = json.loads((tmp_path / "report.json").read_text())
    no_temp_files(tmp_path)

    # Top level: the summary line's numbers, versions, options, times.
    assert (doc["successes"], doc["failures"]) == (4, 4)
    assert type(doc["successes"]) is int
    assert type(doc["failures"]) is int
    assert type(doc["schema_version"]) is int
    assert doc["schema_version"] == jsonreport.SCHEMA_VERSION
    assert doc["tool_version"] == __version__
    assert doc["merged_from"] == 1
    assert doc["stop_reason"] == "finished"
    options = doc["options"]
    assert options["workers"] == 4
    assert options["single_run"] is True
    assert options["report"] == "report.json"
    assert options["threshold"] == ["p99<60s", "http_p50<1us", "broken:failure_rate<=100%"]
    started, ended = parse_time(doc["started_at"]), parse_time(doc["ended_at"])
    slack = timedelta(seconds=1)
    assert before - slack <= started <= ended <= after + slack
    assert doc["duration_s"] == pytest.approx((ended - started).total_seconds(), abs=0.002)

    # Totals: what the target served.
    totals = doc["totals"]
    assert totals["steps"] == 8
    assert totals["successes"] == 4
    assert totals["failures"] == 4
    assert totals["failure_rate"] == 0.5
    assert totals["requests"] == target.total == 16
    assert totals["response_bytes"] > 0
    assert totals["request_errors"] == 0
    assert totals["workers_started"] == 4
    assert doc["status_classes"] == {"1xx": 0, "2xx": 4, "3xx": 0, "4xx": 4, "5xx": 8, "other": 0}
    assert set(doc["request_errors"].values()) == {0}

    # Per scenario, keyed by name.
    scenarios = doc["scenarios"]
    assert set(scenarios) == {"three", "broken"}
    assert (scenarios["three"]["successes"], scenarios["three"]["failures"]) == (4, 0)
    assert (scenarios["broken"]["successes"], scenarios["broken"]["failures"]) == (0, 4)
    for stats in scenarios.values():
        check_histogram(stats["durations"])
        assert stats["durations"]["count"] == stats["successes"] + stats["failures"]

    # Errors: kind, message, count.
    assert doc["errors"] == [
        {
            "kind": "scenario",
            "message": "AssertionError: server error",
            "count": 4,
            "scenario": "broken",
            "request": "",
        }
    ]

    # Histograms: percentiles in ms and the raw buckets.
    check_histogram(doc["scenario_durations"])
    check_histogram(doc["request_latency"])
    assert doc["scenario_durations"]["count"] == 8
    assert doc["request_latency"]["count"] == 16
    merged = [
        sum(pair)
        for pair in zip(
            *(dense(s["durations"]["buckets"]) for s in scenarios.values()), strict=True
        )
    ]
    assert dense(doc["scenario_durations"]["buckets"]) == merged
    encoding = doc["histogram_encoding"]
    assert encoding["buckets"] == NBUCKETS
    assert encoding["unit"] == "us"

    check_series(doc)

    # The threshold results.
    verdicts = {t["expression"]: t for t in doc["thresholds"]}
    assert list(verdicts) == ["p99<60s", "http_p50<1us", "broken:failure_rate<=100%"]
    assert verdicts["p99<60s"]["passed"] is True
    assert verdicts["p99<60s"]["unit"] == "ms"
    assert verdicts["p99<60s"]["observed"] == pytest.approx(
        doc["scenario_durations"]["p99_ms"], abs=0.001
    )
    assert verdicts["http_p50<1us"]["passed"] is False
    assert verdicts["http_p50<1us"]["observed"] > 0
    assert verdicts["broken:failure_rate<=100%"] == {
        "expression": "broken:failure_rate<=100%",
        "observed": 1.0,
        "unit": "",
        "passed": True,
        "reason": "",
    }


FLAKY = """
import itertools

STEPS = itertools.count()


@molotov.scenario()
async def sometimes(session):
    # Every third step of a process fails.
    failing = next(STEPS) % 3 == 2
    async with session.get(URL + ("/status/404" if failing else "/")) as resp:
        await resp.read()
        assert resp.status == 200
"""


def test_series_rows_add_up_exactly_to_the_totals(scenario_file, run_molotov, target, tmp_path):
    scenario_file(FLAKY)
    result = run_molotov(
        "-p", "2", "-w", "2", "-d", "3", "--delay", "0.05", "--report", "r.json", "loadtest.py"
    )
    assert result.returncode == 0, (result.stdout, result.stderr)
    successes, failures = closing(result.stdout)
    doc = json.loads((tmp_path / "r.json").read_text())
    assert (doc["successes"], doc["failures"]) == (successes, failures)
    assert failures > 0
    assert doc["totals"]["requests"] == target.total
    assert doc["stop_reason"] == "duration"
    check_series(doc)
    rows = doc["series"]
    assert len(rows) >= 3, rows
    # One row per second of the run, from its start to its end (the last one partial).
    started = parse_time(doc["started_at"]).timestamp()
    ended = parse_time(doc["ended_at"]).timestamp()
    assert rows[0]["t"] == int(started)
    assert rows[-1]["t"] <= ended
    for row in rows:
        assert row["p50_ms"] <= row["p99_ms"]


def test_series_percentiles_never_exceed_the_observed_max():
    """A row's percentiles come from its buckets; they must still not pass the run's max."""
    empty = Snapshot(taken_at=0.0, scenarios=(ScenarioStats("s", 0, 0, Histogram.empty()),))
    buckets = [0] * NBUCKETS
    buckets[bucket_of(1000)] = 1  # one step of 1000 µs: its bucket holds 1000 .. 1003 µs
    final = Snapshot(
        taken_at=1.0,
        scenarios=(ScenarioStats("s", 1, 0, Histogram(tuple(buckets), 1, 1000, 1000)),),
    )
    recorder = SeriesRecorder(empty, 1_700_000_000.2)
    report = RunReport(
        snapshot=final,
        started_at=1_700_000_000.2,
        ended_at=1_700_000_000.7,
        duration=0.5,
        options={},
        series=tuple(recorder.finish(final)),
    )
    doc = jsonreport.document(report)
    assert doc["scenario_durations"]["max_ms"] == 1.0
    assert doc["scenario_durations"]["p99_ms"] == 1.0
    (row,) = doc["series"]
    assert row["steps"] == 1
    assert row["p50_ms"] <= doc["scenario_durations"]["max_ms"], row
    assert row["p99_ms"] <= doc["scenario_durations"]["max_ms"], row


def test_the_report_is_written_after_sigint(scenario_file, target, tmp_path):
    scenario_file(
        """
        import asyncio


        @molotov.scenario()
        async def paced(session):
            async with session.get(URL + "/") as resp:
                await resp.read()
            await asyncio.sleep(0.02)
        """
    )
    out, err = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "molotov", "-w", "2", "--report", "r.json", "loadtest.py"],
            cwd=tmp_path,
            env=molotov_env(target.url),
            stdout=stdout,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + SAFETY
            while target.total < 10:
                assert proc.poll() is None, err.read_text()
                assert time.monotonic() < deadline, "never saw the traffic"
                time.sleep(0.02)
            os.killpg(proc.pid, signal.SIGINT)
            code = proc.wait(SAFETY)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    assert code == 0, err.read_text()
    successes, failures = closing(out.read_text())
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["stop_reason"] == "signal"
    assert (doc["successes"], doc["failures"]) == (successes, failures)
    assert successes >= 10
    assert doc["totals"]["requests"] == target.total
    check_series(doc)
    no_temp_files(tmp_path)


def test_the_report_is_written_after_x(scenario_file, run_molotov, target, tmp_path):
    scenario_file(
        """
        import itertools

        STEPS = itertools.count()


        @molotov.scenario()
        async def third_fails(session):
            async with session.get(URL + "/") as resp:
                await resp.read()
            assert next(STEPS) != 2, "third step"
        """
    )
    result = run_molotov("-x", "-w", "1", "-r", "50", "--report", "r.json", "loadtest.py")
    assert result.returncode == 1, (result.stdout, result.stderr)
    successes, failures = closing(result.stdout)
    assert (successes, failures) == (2, 1)
    doc = json.loads((tmp_path / "r.json").read_text())
    assert (doc["successes"], doc["failures"]) == (2, 1)
    assert doc["stop_reason"] == "exception"
    assert doc["errors"] == [
        {
            "kind": "scenario",
            "message": "AssertionError: third step",
            "count": 1,
            "scenario": "third_fails",
            "request": "",
        }
    ]
    no_temp_files(tmp_path)


def test_report_path_placeholders(scenario_file, run_molotov, target, tmp_path):
    scenario_file(GET_ROOT)
    result = run_molotov(
        "-r", "2", "--report", "out/run-{index}-{hostname}.json", "loadtest.py",
        JOB_COMPLETION_INDEX="3",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == [f"run-3-{socket.gethostname()}.json"]
    doc = json.loads((tmp_path / "out" / written[0]).read_text())
    assert (doc["successes"], doc["failures"]) == closing(result.stdout) == (2, 0)


def test_report_to_stdout_is_the_last_line(scenario_file, run_molotov, target, tmp_path):
    scenario_file(MIXED)
    result = run_molotov("--single-run", "-w", "2", "--report", "-", "loadtest.py")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-2] == "*** Bye ***"
    assert result.stdout.endswith("\n")
    doc = json.loads(lines[-1])
    assert closing("\n".join(lines[:-1])) == (doc["successes"], doc["failures"]) == (2, 2)
    assert doc["tool_version"] == __version__
    assert doc["totals"]["requests"] == target.total == 8
    # No file named "-" was written.
    assert not (tmp_path / "-").exists()


def test_writing_is_atomic(tmp_path):
    path = tmp_path / "report.json"
    path.write_text('{"old": true}\n')
    with pytest.raises(TypeError):
        jsonreport.write(path, {"new": object()})  # fails half way through
    assert json.loads(path.read_text()) == {"old": True}
    no_temp_files(tmp_path)
    jsonreport.write(path, {"new": 1})
    assert json.loads(path.read_text()) == {"new": 1}
    jsonreport.write(tmp_path / "sub" / "dir" / "r.json", {"deep": 1})
    assert json.loads((tmp_path / "sub" / "dir" / "r.json").read_text()) == {"deep": 1}
    no_temp_files(tmp_path)


def test_report_permissions_follow_the_umask(tmp_path):
    umask = os.umask(0o022)
    try:
        jsonreport.write(tmp_path / "r.json", {"x": 1})
    finally:
        os.umask(umask)
    assert (tmp_path / "r.json").stat().st_mode & 0o777 == 0o644


# -- moloreport --------------------------------------------------------------------------------

PICKER = """
@molotov.scenario_picker()
def pick(worker_id, step_id):
    return NAMES[step_id % len(NAMES)]
"""

SCENARIOS = {
    "alpha": """
@molotov.scenario()
async def alpha(session):
    async with session.get(URL + "/") as resp:
        await resp.read()
""",
    "beta": """
@molotov.scenario()
async def beta(session):
    async with session.get(URL + "/status/404") as resp:
        assert resp.status == 200, "not found"
""",
    "gamma": """
@molotov.scenario()
async def gamma(session):
    async with session.get(URL + "/status/503") as resp:
        await resp.read()
    async with session.get(URL + "/data") as resp:
        await resp.read()
""",
}

# Three load generators with different mixes of scenarios and numbers of steps.
RUNS = {
    "a": (["alpha"], ["-w", "1", "-r", "4"]),
    "b": (["alpha", "beta"], ["-w", "1", "-r", "6"]),
    "c": (["beta", "gamma"], ["-w", "2", "-r", "5"]),
}


@pytest.fixture(scope="module")
def reports(_target_server, tmp_path_factory) -> Path:
    """A folder with a.json, b.json and c.json, from three concurrent runs (as a fleet would)."""
    folder = tmp_path_factory.mktemp("reports")
    procs = []
    for name, (names, args) in RUNS.items():
        work = folder / f"run-{name}"
        work.mkdir()
        source = HEADER + f"NAMES = {names!r}\n" + PICKER
        source += "".join(SCENARIOS[scenario] for scenario in names)
        (work / "loadtest.py").write_text(source)
        report = str(folder / f"{name}.json")
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "molotov", *args, "--report", report, "loadtest.py"],
                cwd=work,
                env=molotov_env(_target_server.url),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                text=True,
            )
        )
    for proc in procs:
        out, err = proc.communicate(timeout=SAFETY)
        assert proc.returncode == 0, (out, err)
    return folder


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def merged_histogram_expected(blocks: list[dict]) -> dict:
    """What merging histogram blocks must give: buckets, count, sum and max add up."""
    buckets = [sum(column) for column in zip(*(dense(b["buckets"]) for b in blocks), strict=True)]
    count = sum(b["count"] for b in blocks)
    total = sum(b["sum_us"] for b in blocks)
    top = max(b["max_us"] for b in blocks)
    histogram = Histogram(tuple(buckets), count, total, top)
    expected = {
        "count": count,
        "sum_us": total,
        "max_us": top,
        "max_ms": round(top / 1000, 3),
        "mean_ms": round(total / count / 1000, 3) if count else 0.0,
        "buckets": sparse(buckets),
    }
    for name, percent in PERCENTILES.items():
        expected[f"{name}_ms"] = round(histogram.percentile_us(percent) / 1000, 3)
    return expected


def test_the_inputs_are_what_the_runs_did(reports):
    docs = {name: load(reports / f"{name}.json") for name in RUNS}
    assert set(docs["a"]["scenarios"]) == {"alpha"}
    assert set(docs["b"]["scenarios"]) == {"alpha", "beta"}
    assert set(docs["c"]["scenarios"]) == {"beta", "gamma"}
    assert [d["totals"]["steps"] for d in docs.values()] == [4, 6, 10]
    assert docs["b"]["failures"] == 3
    assert docs["c"]["failures"] == 4


def test_moloreport_merges_exactly(reports):
    inputs = [load(reports / f"{name}.json") for name in RUNS]
    result = moloreport("a.json", "b.json", "c.json", "--report", "merged.json", cwd=reports)
    assert result.returncode == 0, (result.stdout, result.stderr)
    merged = load(reports / "merged.json")
    no_temp_files(reports)

    def total(key: str) -> int:
        return sum(doc["totals"][key] for doc in inputs)

    # Counters add.
    assert merged["successes"] == sum(doc["successes"] for doc in inputs) == 13
    assert merged["failures"] == sum(doc["failures"] for doc in inputs) == 7
    for key in ("steps", "requests", "response_bytes", "request_errors", "workers_started"):
        assert merged["totals"][key] == total(key), key
    assert merged["totals"]["requests"] == 4 + 6 + (4 + 6 * 2)
    for label in ("1xx", "2xx", "3xx", "4xx", "5xx"):
        assert merged["status_classes"][label] == sum(d["status_classes"][label] for d in inputs)
    assert merged["errors"] == [
        {
            "kind": "scenario",
            "message": "AssertionError: not found",
            "count": 7,
            "scenario": "beta",
            "request": "",
        }
    ]
    assert merged["merged_from"] == 3
    assert merged["schema_version"] == jsonreport.SCHEMA_VERSION
    assert merged["tool_version"] == __version__
    started = min(parse_time(d["started_at"]) for d in inputs)
    ended = max(parse_time(d["ended_at"]) for d in inputs)
    assert abs(parse_time(merged["started_at"]) - started) < timedelta(milliseconds=1)
    assert abs(parse_time(merged["ended_at"]) - ended) < timedelta(milliseconds=1)

    # Histograms add bucket by bucket; percentiles come from the summed buckets.
    for key in ("scenario_durations", "request_latency"):
        expected = merged_histogram_expected([doc[key] for doc in inputs])
        assert merged[key] == expected, key
    assert set(merged["scenarios"]) == {"alpha", "beta", "gamma"}
    for name, stats in merged["scenarios"].items():
        parts = [doc["scenarios"][name] for doc in inputs if name in doc["scenarios"]]
        assert stats["successes"] == sum(p["successes"] for p in parts)
        assert stats["failures"] == sum(p["failures"] for p in parts)
        assert stats["durations"] == merged_histogram_expected([p["durations"] for p in parts])

    # Series rows of the same second add up.
    check_series(merged)
    expected_rows: dict[int, dict] = {}
    for doc in inputs:
        for row in doc["series"]:
            into = expected_rows.setdefault(row["t"], {"steps": 0, "failures": 0, "requests": 0})
            for key in ("steps", "failures", "requests"):
                into[key] += row[key]
            into["buckets"] = sparse(
                [
                    a + b
                    for a, b in zip(
                        dense(into.get("buckets", [])), dense(row["buckets"]), strict=True
                    )
                ]
            )
    assert [row["t"] for row in merged["series"]] == sorted(expected_rows)
    for row in merged["series"]:
        wanted = expected_rows[row["t"]]
        assert {k: row[k] for k in wanted} == wanted

    # Only the merged summary is printed, Molotov's closing lines last.
    assert closing(result.stdout) == (13, 7)
    assert result.stdout.count("SUCCESSES:") == 1
    summary = [line for line in result.stdout.splitlines() if line.startswith("Duration: ")]
    assert len(summary) == 1
    assert f"| Requests: {merged['totals']['requests']} (" in summary[0]
    assert "Merged 3 report(s)" in result.stdout


def test_merging_a_report_with_itself_doubles_it(reports):
    doc = load(reports / "c.json")
    result = moloreport("c.json", "c.json", "--report", "twice.json", cwd=reports)
    assert result.returncode == 0, (result.stdout, result.stderr)
    twice = load(reports / "twice.json")
    assert (twice["successes"], twice["failures"]) == (2 * doc["successes"], 2 * doc["failures"])
    assert closing(result.stdout) == (2 * doc["successes"], 2 * doc["failures"])
    for key in ("scenario_durations", "request_latency"):
        assert twice[key]["buckets"] == [[i, 2 * n] for i, n in doc[key]["buckets"]]
        # The same distribution twice: the same percentiles.
        for name in PERCENTILES:
            assert twice[key][f"{name}_ms"] == doc[key][f"{name}_ms"]
    assert [r["t"] for r in twice["series"]] == [r["t"] for r in doc["series"]]
    for row, once in zip(twice["series"], doc["series"], strict=True):
        assert row["steps"] == 2 * once["steps"]
        assert row["requests"] == 2 * once["requests"]
        assert row["failures"] == 2 * once["failures"]


def test_moloreport_thresholds_pass(reports):
    result = moloreport(
        "a.json", "b.json", "c.json",
        "--threshold", "failures<1000",
        "--threshold", "p99<60s",
        "--threshold", "alpha:failure_rate<=0%",
        "--threshold", "http_p99<60s",
        cwd=reports,
    )  # fmt: skip
    assert result.returncode == 0, (result.stdout, result.stderr)
    lines = result.stdout.splitlines()
    table = lines[lines.index("Thresholds:") + 1 : -3]
    assert [row.split()[0] for row in table] == [
        "failures<1000",
        "p99<60s",
        "alpha:failure_rate<=0%",
        "http_p99<60s",
    ]
    assert all(row.split()[-1] == "pass" for row in table), table
    assert table[0].split()[1] == "7"


def test_moloreport_threshold_failure_exits_99(reports):
    result = moloreport(
        "a.json", "b.json", "c.json", "--threshold", "failures<1", "--threshold", "p99<60s",
        cwd=reports,
    )  # fmt: skip
    assert result.returncode == 99, (result.stdout, result.stderr)
    lines = result.stdout.splitlines()
    table = lines[lines.index("Thresholds:") + 1 : -3]
    assert table[0].split() == ["failures<1", "7", "FAIL"]
    assert table[1].split()[-1] == "pass"
    assert closing(result.stdout) == (13, 7)
    assert "failures<1" in result.stderr


@pytest.mark.parametrize(
    ("expr", "says"), [("p99<<1", "not a duration"), ("delta:p99<1s", "'delta'")]
)
def test_moloreport_bad_threshold_is_a_usage_error(reports, expr, says):
    result = moloreport("a.json", "--threshold", expr, cwd=reports)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert says in lines[0]


def one_line_error(result: Result, *expected: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for text in expected:
        assert text in lines[0], lines[0]


def test_moloreport_missing_file(reports):
    result = moloreport("a.json", "nope.json", cwd=reports)
    one_line_error(result, "nope.json")


def _truncated(path: Path) -> None:
    text = path.read_text()
    path.write_text(text[: len(text) // 2])


def _edit(change):  # type: ignore[no-untyped-def]
    def apply(path: Path) -> None:
        doc = json.loads(path.read_text())
        change(doc)
        path.write_text(json.dumps(doc))

    return apply


@pytest.mark.parametrize(
    "corrupt",
    [
        _truncated,
        _edit(lambda doc: doc.pop("scenarios")),
        _edit(lambda doc: doc["totals"].pop("requests")),
        _edit(lambda doc: doc["request_latency"].update(count=doc["request_latency"]["count"] + 1)),
        _edit(lambda doc: doc["totals"].update(requests="many")),
        _edit(lambda doc: doc["request_latency"]["buckets"].append([-1, 0])),
        lambda path: path.write_text("[1, 2, 3]\n"),
        lambda path: path.write_text(""),
    ],
    ids=[
        "truncated",
        "no-scenarios",
        "no-requests",
        "buckets-not-count",
        "not-a-number",
        "negative-bucket",
        "not-an-object",
        "empty",
    ],
)
def test_moloreport_corrupt_file(reports, tmp_path, corrupt):
    shutil.copy(reports / "a.json", tmp_path / "a.json")
    shutil.copy(reports / "b.json", tmp_path / "bad.json")
    corrupt(tmp_path / "bad.json")
    result = moloreport("a.json", "bad.json", cwd=tmp_path)
    one_line_error(result, "bad.json")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [("tool_version", "0.0.1", "0.0.1"), ("schema_version", 99, "99")],
)
def test_moloreport_refuses_other_versions(reports, tmp_path, key, value, says):
    shutil.copy(reports / "a.json", tmp_path / "a.json")
    doc = load(reports / "b.json")
    doc[key] = value
    (tmp_path / "old.json").write_text(json.dumps(doc))
    result = moloreport("a.json", "old.json", "--report", "merged.json", cwd=tmp_path)
    one_line_error(result, "old.json", says, __version__, "same version")
    assert not (tmp_path / "merged.json").exists()
