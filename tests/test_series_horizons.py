"""A long run's series stays bounded: rows past each horizon are joined, exactly (issue 16 §2.6).

The recorder is fed real snapshots: the per-second numbers of a real run's report, replayed
one second after the other for longer than the (shortened) horizons of these tests; what it
keeps is held against what it was fed. Reports with joined rows are read back, merged by the
real ``moloreport`` onto the coarsest grid, and written as CSV and HTML (the page opened in
Chromium, tests/browser.py).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from browser import check_charts, check_clean, open_report
from molotov.reports import csvreport, htmlreport, jsonload, jsonreport
from molotov.reports.htmlreport.downsample import Downsampler, downsample
from molotov.reports.jsonreport import RunReport
from molotov.stats.histogram import Histogram
from molotov.stats.series import HORIZONS, WIDTHS, Second, SeriesRecorder, Sparse, Tiers, joined
from molotov.stats.snapshot import RequestStats, ScenarioStats, Snapshot
from support import moloreport, molotov_env, real_report
from synthetic import readable, synthetic_document

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z: every width's blocks start there
SHORT = ((20, 10), (120, 60), (900, 600))  # horizons short enough for a test to pass them all
COUNTERS = ("steps", "failures", "requests", "started", "dropped")


@pytest.fixture(scope="module")
def run(_target_server, tmp_path_factory) -> RunReport:
    """A real run's report (two scenarios, one failing; two request names), read back."""
    doc = real_report(tmp_path_factory.mktemp("horizons"), molotov_env(_target_server.url))
    assert len({name for row in doc["series"] for name in row["by_request"]}) == 2
    return jsonload.from_document(doc)


def _add(total: Histogram, part: Sparse) -> Histogram:
    return Histogram.merge([total, part.histogram])


def replay(report: RunReport, seconds: int) -> Iterator[Snapshot]:
    """The running totals of a run that does, each second, what one of ``report``'s rows did
    (its rows in turn): the snapshots a parent would read from the bus."""
    durations = latency = Histogram.empty()
    counts = dict.fromkeys(COUNTERS, 0)
    failures = 0
    names: dict[str, tuple[int, int, Histogram]] = {}
    for row in itertools.islice(itertools.cycle(report.series), seconds):
        durations, latency = _add(durations, row.durations), _add(latency, row.request_latency)
        counts = {key: counts[key] + getattr(row, key) for key in COUNTERS}
        failures += row.failures
        for r in row.by_request:
            requests, failed, histogram = names.get(r.name, (0, 0, Histogram.empty()))
            names[r.name] = (requests + r.requests, failed + r.failures, _add(histogram, r.latency))
        yield Snapshot(
            taken_at=0.0,
            scenarios=(ScenarioStats("all", counts["steps"] - failures, failures, durations),),
            workers=row.workers,
            requests=counts["requests"],
            request_latency=latency,
            started=counts["started"],
            dropped=counts["dropped"],
            by_request=tuple(
                RequestStats(name, n, status_codes=((200, n - bad), (500, bad)), latency=h)
                for name, (n, bad, h) in names.items()
            ),
        )


def check_grid(rows: Sequence[Second]) -> None:
    """Rows in time order, apart, each on its width's grid."""
    for row in rows:
        assert row.seconds in WIDTHS and row.t % row.seconds == 0, (row.t, row.seconds)
    for earlier, later in itertools.pairwise(rows):
        assert later.t >= earlier.t + earlier.seconds


def test_the_recorder_joins_rows_past_its_horizons_and_keeps_every_count(run):
    seconds = 1800
    empty = Snapshot(taken_at=0.0, scenarios=())
    target = lambda wall: float(int(wall) % 7)  # noqa: E731 - a target that changes each second
    bounded = SeriesRecorder(empty, T0 + 0.4, target, horizons=SHORT)
    every = SeriesRecorder(empty, T0 + 0.4, target, horizons=())
    sizes, closed = [], []
    for i, snapshot in enumerate(replay(run, seconds), start=1):
        if i == seconds:
            break
        closed.append(bounded.update(snapshot, T0 + i + 0.4))
        assert bounded.update(snapshot, T0 + i + 0.9) is None  # the same second: none closed
        every.update(snapshot, T0 + i + 0.4)
        sizes.append(len(bounded.rows))
    rows, fine = bounded.finish(snapshot), every.finish(snapshot)
    assert len(fine) == seconds
    # Each update handed out the second it closed (what a dashboard gets), joins or not.
    assert closed == fine[:-1]
    # Bounded: up to 20 s of seconds (and a block's worth waiting for its last one), then
    # 10 s rows to 120 s, 60 s rows to 900 s, 600 s rows: (20 + 10) + (100 + 60) / 10 +
    # (780 + 600) / 60 + 3 = 72 rows at most, against 1,800 seconds.
    assert max(sizes) <= 72, max(sizes)
    check_grid(rows)
    assert [(r.seconds, r.t - T0) for r in rows if r.seconds == 600] == [(600, 0)]
    assert {r.seconds for r in rows} == {1, 10, 60, 600}
    assert all(r.seconds == 1 for r in rows if r.t >= T0 + seconds - 20)

    # Each row is exactly its seconds together (the run's own rows, every width).
    for row in rows:
        parts = [f for f in fine if row.t <= f.t < row.t + row.seconds]
        assert parts, row.t
        expected = joined(parts, row.t, row.seconds) if row.seconds > 1 else parts[0]
        assert row.target == pytest.approx(expected.target)
        assert dataclasses.replace(row, target=None) == dataclasses.replace(expected, target=None)
        assert row.workers == parts[-1].workers
    # ... so the rows add up to the run's totals, bucket by bucket, name by name.
    for key in COUNTERS:
        assert sum(getattr(r, key) for r in rows) == getattr(snapshot, key), key
    assert Sparse.sum([r.durations for r in rows]).histogram == snapshot.durations
    assert Sparse.sum([r.request_latency for r in rows]).histogram == snapshot.request_latency
    for stats in snapshot.by_request:
        mine = [n for r in rows for n in r.by_request if n.name == stats.name]
        assert sum(n.requests for n in mine) == stats.requests
        assert sum(n.failures for n in mine) == stats.failures
        assert Sparse.sum([n.latency for n in mine]).histogram == stats.latency

    # The report writes the widths ("s", none for a second) and reads them back.
    report = dataclasses.replace(run, snapshot=snapshot, series=tuple(rows))
    doc = json.loads(jsonreport.dumps_line(jsonreport.document(report)))
    assert [row.get("s", 1) for row in doc["series"]] == [r.seconds for r in rows]
    assert "s" not in doc["series"][-1]
    back = jsonload.from_document(doc).series
    assert [r.target for r in back] == [round(r.target or 0, 3) for r in rows]  # as written
    assert [dataclasses.replace(r, target=None) for r in back] == [
        dataclasses.replace(r, target=None) for r in rows
    ]


def _rejoined(report: RunReport, width: int) -> RunReport:
    """The report with its rows joined into rows of ``width`` seconds."""
    rows = [
        joined(list(parts), start, width)
        for start, parts in itertools.groupby(report.series, lambda r: r.t - r.t % width)
    ]
    return dataclasses.replace(report, series=tuple(rows))


def _write(report: RunReport, path: Path) -> dict:
    jsonreport.write(path, jsonreport.document(report))
    doc: dict = json.loads(path.read_text())
    return doc


def test_moloreport_merges_rows_of_other_widths_onto_the_coarsest_grid(run, tmp_path):
    docs = {
        "second.json": _write(run, tmp_path / "second.json"),
        "ten.json": _write(_rejoined(run, 10), tmp_path / "ten.json"),
        "minute.json": _write(_rejoined(run, 60), tmp_path / "minute.json"),
    }
    assert {row.get("s") for row in docs["minute.json"]["series"]} == {60}
    for names, widest in ((["second.json", "ten.json"], 10), (["ten.json", "minute.json"], 60)):
        result = moloreport(*names, "--report", "merged.json", cwd=tmp_path)
        assert result.returncode == 0, (result.stdout, result.stderr)
        merged = json.loads((tmp_path / "merged.json").read_text())
        rows = merged["series"]
        assert {row.get("s", 1) for row in rows} == {widest}
        inputs = [row for name in names for row in docs[name]["series"]]
        # Every input row is in exactly one merged row, which holds their sums.
        for row in inputs:
            holders = [m for m in rows if m["t"] <= row["t"] < m["t"] + m["s"]]
            assert len(holders) == 1, row["t"]
        for row in rows:
            inside = [r for r in inputs if row["t"] <= r["t"] < row["t"] + row["s"]]
            for key in COUNTERS:
                assert row[key] == sum(r[key] for r in inside), key
            assert row["buckets"] == _summed([r["buckets"] for r in inside])
            for name, item in row["by_request"].items():
                theirs = [r["by_request"][name] for r in inside if name in r["by_request"]]
                assert item["requests"] == sum(t["requests"] for t in theirs)
                latency = _summed([t["latency"]["buckets"] for t in theirs])
                assert item["latency"]["buckets"] == latency
        for key in ("steps", "failures", "requests"):
            assert merged["totals"][key] == 2 * getattr(run.snapshot, key), key
        assert sum(row["steps"] for row in rows) == merged["totals"]["steps"]


def _summed(lists: list[list[list[int]]]) -> list[list[int]]:
    total: dict[int, int] = {}
    for pairs in lists:
        for index, n in pairs:
            total[index] = total.get(index, 0) + n
    return [[index, total[index]] for index in sorted(total)]


def test_a_joined_report_is_the_recorders_joining_of_its_seconds():
    """tests/synthetic.py joins rows on its own; the recorder's Tiers, fed the same seconds,
    must give the same rows (so the long synthetic reports below are what a run writes)."""
    horizons = ((60, 10), (600, 60), (1800, 600), (3000, 3600))
    fine = jsonload.from_document(readable(synthetic_document(7200)))
    tiers = Tiers(horizons)
    for row in fine.series:
        tiers.add(row)
    rows = tiers.rows
    assert {row.seconds for row in rows} == {1, 10, 60, 600, 3600}
    ours = jsonreport.document(dataclasses.replace(fine, series=tuple(rows)))["series"]
    theirs = readable(synthetic_document(7200, horizons=horizons))["series"]
    assert len(ours) == len(theirs) == len(rows)
    for mine, other in zip(ours, theirs, strict=True):
        assert mine.pop("target") == pytest.approx(other.pop("target"))
        assert mine == other


def test_a_days_report_with_joined_rows_reads_back_and_writes_its_csv(tmp_path):
    doc = synthetic_document(86_400, horizons=HORIZONS)
    rows = doc["series"]
    widths = [row.get("s", 1) for row in rows]
    assert len(rows) == 600 + 300 + 300 + 108  # not 86,400
    assert widths == [600] * 108 + [60] * 300 + [10] * 300 + [1] * 600
    report = jsonload.from_document(readable(doc))
    assert sum(row.steps for row in report.series) == report.snapshot.steps

    csvreport.write(tmp_path / "day", doc)
    history = (tmp_path / "day_history.csv").read_text().splitlines()[1:]
    assert len(history) == len(rows)
    cells = [line.split(",") for line in history]
    assert [int(c[0]) for c in cells] == [row["t"] for row in rows]
    # Rates per second of each row: times its seconds, they add up to the totals.
    requests = sum(float(c[4]) * width for c, width in zip(cells, widths, strict=True))
    assert requests == pytest.approx(doc["totals"]["requests"])
    assert int(cells[-1][-3]) == doc["totals"]["requests"]


def test_the_html_page_of_a_day_with_joined_rows(browser, tmp_path):
    doc = synthetic_document(86_400, horizons=HORIZONS)
    sampled = downsample(doc["series"])
    # One-minute points where the report has seconds, one point per 10-minute row before.
    assert sampled.k == 60
    assert sampled.widths == [600] * 108 + [60] * 360
    steps = sum(v * w for v, w in zip(sampled.columns["steps"], sampled.widths, strict=True))
    assert steps == pytest.approx(doc["totals"]["steps"])
    page_file = tmp_path / "day.html"
    htmlreport.write(page_file, doc, 0)
    opened = open_report(browser, page_file)
    check_clean(opened, page_file)
    drawn = {c["id"]: c for c in check_charts(opened, doc)}
    assert len(drawn["throughput"]["data"][0]) == 468
    note = opened.text("#series")
    assert "Each point is 60 seconds" in note
    assert "older seconds joined, in rows of 10 min: there, a point is one such row" in note


def test_the_streaming_sampler_takes_rows_of_any_width():
    """The Downsampler that a dashboard feeds a row at a time takes a joined report's rows as
    :func:`downsample` does: a row wider than k is a point of its own, a rate is per second of
    the time a point covers, a joined row's gauge stands for each of its seconds, a row off
    its width's grid is refused."""
    seconds = [{"t": T0 + 10 + i, "steps": 1, "workers": 1} for i in range(10)]
    rows = [{"t": T0, "s": 10, "steps": 100, "workers": 4}, *seconds]
    sampler = Downsampler(T0, 20, "", names=())
    for row in rows:
        sampler.add(row)
    together = sampler.result()
    assert together == downsample(rows, 20)
    assert (together.t, together.widths) == ([T0], [20])
    assert together.columns["steps"] == [110 / 20]
    assert together.columns["workers"] == [(4 * 10 + 1 * 10) / 20]

    sampler = Downsampler(T0, 2, "", names=())
    for row in rows:
        sampler.add(row)
    sampler.add({"t": T0 + 30, "s": 10, "steps": 30, "workers": 2})
    apart = sampler.result()
    assert apart.t == [T0, *range(T0 + 10, T0 + 30, 2), T0 + 30]
    assert apart.widths == [10] + [2] * 10 + [10]
    assert apart.columns["steps"] == [10.0] + [1.0] * 5 + [None] * 5 + [3.0]
    assert apart.columns["workers"] == [4.0] + [1.0] * 5 + [None] * 5 + [2.0]
    with pytest.raises(ValueError, match="off the 10 s grid"):
        sampler.add({"t": T0 + 45, "s": 10})
    with pytest.raises(ValueError, match="time order"):
        sampler.add({"t": T0 + 39})
