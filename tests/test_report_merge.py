"""What ``moloreport`` refuses to merge: one line, exit 1, no file written.

The reports come from real runs against the test server: a closed-model run and an
open-model one (``--rate``), whose sum would be neither model's; and reports grown (every
count multiplied, consistently) until their sum leaves the bounds that ``moloreport`` reads
reports with: a merged report must read back.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from support import Result, largest, moloreport, molotov_env, real_report, run_command, scaled

MAX_COUNT = 2**63 - 1  # what the reader accepts in a count (the stats bus's int64)
MAX_ROW_BUCKET = 2**31 - 1  # ... in a series row's bucket (an int32 array)

SLOW = """
import os

import molotov


@molotov.scenario()
async def slow(session):
    async with session.get(os.environ["TARGET_URL"] + "/slow", params={"s": "0.2"}) as resp:
        assert resp.status == 200
"""


@pytest.fixture(scope="module")
def reports(_target_server, tmp_path_factory) -> Path:
    """closed.json (a closed-model run) and open.json (an open-model run that dropped
    arrivals: its one worker is busy for 0.2 s, they may wait 0.05 s)."""
    folder = tmp_path_factory.mktemp("models")
    env = molotov_env(_target_server.url)
    (folder / "closed.json").write_text(json.dumps(real_report(folder, env)))
    (folder / "slow.py").write_text(SLOW)
    args = ["--rate", "100", "--iterations", "5", "-w", "1", "--max-workers", "1"]
    args += ["--max-lag", "0.05", "--report", "open.json", "slow.py"]
    done = run_command([sys.executable, "-m", "molotov", *args], folder, env, 60)
    assert done.returncode == 0, done.stderr
    return folder


def load(folder: Path, name: str) -> dict:
    doc: dict = json.loads((folder / name).read_text())
    return doc


def refused(result: Result, folder: Path, *says: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("cannot merge: "), lines[0]
    for text in says:
        assert text in lines[0], lines[0]
    assert "Traceback" not in result.stderr
    assert not (folder / "merged.json").exists()


def test_the_inputs_are_one_run_of_each_model(reports):
    closed, open_ = load(reports, "closed.json"), load(reports, "open.json")
    assert (closed["model"], closed["totals"]["arrivals"]) == ("closed", 0)
    assert open_["model"] == "open"
    assert open_["totals"]["dropped"] >= 1
    assert open_["totals"]["arrivals"] == open_["totals"]["started"] + open_["totals"]["dropped"]


@pytest.mark.parametrize(
    ("first", "second", "says"),
    [
        ("open.json", "closed.json", "open.json is an open-model run (--rate) and closed.json a"),
        ("closed.json", "open.json", "closed.json is a closed-model run and open.json an open"),
    ],
)
def test_reports_of_both_models_are_not_merged(reports, first, second, says):
    result = moloreport(first, second, "--report", "merged.json", cwd=reports)
    refused(result, reports, says, "merge each model's reports apart")


@pytest.mark.parametrize("name", ["open.json", "closed.json"])
def test_reports_of_one_model_still_merge(reports, tmp_path, name):
    (tmp_path / name).write_text((reports / name).read_text())
    result = moloreport(name, name, "--report", "merged.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    once, twice = load(tmp_path, name), load(tmp_path, "merged.json")
    assert twice["model"] == once["model"]
    for key in ("started", "dropped", "arrivals", "steps"):
        assert twice["totals"][key] == 2 * once["totals"][key], key


def _bytes_at_the_bound(doc: dict) -> dict:
    for stats in (doc["totals"], *doc["by_request"].values()):
        stats["response_bytes"] = 0
    doc["totals"]["response_bytes"] = doc["by_request"]["GET /"]["response_bytes"] = MAX_COUNT
    return doc


def _sums_near_the_bound(doc: dict) -> dict:
    return scaled(doc, MAX_COUNT // largest(doc))


def _row_buckets_near_the_bound(doc: dict) -> dict:
    return scaled(doc, 1, rows=MAX_ROW_BUCKET // largest(doc, rows=True))


def _a_decade_earlier(doc: dict) -> dict:
    doc["started_at"] = "2015-01-01T00:00:00Z"  # the run's own duration_s is unchanged
    return doc


@pytest.mark.parametrize(
    ("grow", "says"),
    [
        (_bytes_at_the_bound, f"field 'totals.response_bytes' must be from 0 to {MAX_COUNT},"),
        (_sums_near_the_bound, f".sum_us' must be from 0 to {MAX_COUNT}, got "),
        (_row_buckets_near_the_bound, f"more than {MAX_ROW_BUCKET} values in one histogram"),
        (_a_decade_earlier, "field 'duration_s' must be from 0 to 315360000"),
    ],
    ids=["counter", "sum_us", "row-bucket", "duration"],
)
def test_a_merge_the_reader_would_refuse_is_refused(reports, tmp_path, grow, says):
    """Each report reads, but their merge would not: it is refused rather than written."""
    (tmp_path / "big.json").write_text(json.dumps(grow(load(reports, "closed.json"))))
    (tmp_path / "closed.json").write_text((reports / "closed.json").read_text())
    alone = moloreport("big.json", "--report", "alone.json", cwd=tmp_path)
    assert alone.returncode == 0, alone.stderr
    assert moloreport("alone.json", cwd=tmp_path).returncode == 0
    other = "closed.json" if grow is _a_decade_earlier else "big.json"
    result = moloreport("big.json", other, "--report", "merged.json", cwd=tmp_path)
    refused(result, tmp_path, "the merged report would be unreadable: ", says)
