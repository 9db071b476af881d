"""``--html``: the self-contained HTML report, opened from disk in a real headless Chromium.

Pages come from real runs of the ``molotov`` command against the live local target (and from
``moloreport`` merging them), and from synthetic open-model documents (tests/synthetic.py) for
what short runs cannot show. Each page is checked for: no JavaScript error, no request but its
own file, every chart drawn (its series' colours in its plot area), the numbers of the JSON
report of the same run, no horizontal scroll at 1280 px; a screenshot goes to the test's tmp
dir. Without Chromium the browser tests skip, unless ``MOLOTOV_REQUIRE_BROWSER=1`` (CI).
"""

from __future__ import annotations

import json
import re
import socket
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import pytest

from browser import check_charts, check_clean, open_report, screenshot_top, wait_until
from molotov.reports import htmlreport
from molotov.reports.fields import Fields
from molotov.reports.htmlreport import charts
from molotov.reports.htmlreport.downsample import LATENCY_PERCENTILES, downsample, resolution
from molotov.reports.htmlreport.times import span
from molotov.stats.histogram import Histogram, format_us, percentiles_us
from support import MIXED_SCENARIOS, moloreport, molotov_env, run_command
from synthetic import synthetic_document

HEADER = textwrap.dedent(
    """\
    import os

    import molotov

    URL = os.environ["TARGET_URL"]
    """
)
MIXED = MIXED_SCENARIOS
ALWAYS = {"throughput", "failures", "latency", "dist-request_latency", "dist-scenario_durations"}


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def count(n: int) -> str:
    return f"{n:,}"


def ms(value: float) -> str:
    return format_us(value * 1000)


def check_numbers(opened, doc: dict, exit_code: int) -> None:
    """The page says what the JSON report says."""
    page = opened.page
    totals = doc["totals"]
    assert opened.text("[data-key=exit_code]") == str(exit_code)
    assert opened.text("[data-key=stop_reason]") == doc["stop_reason"]
    badge = opened.text(".verdict .badge")
    assert badge == ("PASS" if exit_code == 0 else "FAIL")
    assert opened.text("[data-key=steps]") == count(totals["steps"])
    assert opened.text("[data-key=requests]") == count(totals["requests"])
    assert opened.text("[data-key=failures]") == count(totals["failures"])
    assert opened.text("[data-key=steps_per_s] .value") == f"{totals['steps_per_s']:,.1f}/s"
    assert opened.text("[data-key=requests_per_s] .value") == f"{totals['requests_per_s']:,.1f}/s"
    assert opened.text("[data-key=failure_rate] .value") == f"{100 * totals['failure_rate']:.2f}%"
    assert opened.text("[data-key=request_errors] .value") == count(totals["request_errors"])
    for key in ("request_latency", "scenario_durations"):
        if not doc[key]["count"]:
            assert opened.text(f"[data-key={key}] .value") == "—"
            continue
        for name in ("p50", "p95", "p99"):
            shown = opened.text(f'[data-key="{key}.{name}"]')
            assert shown.startswith(ms(doc[key][f"{name}_ms"])), (key, name, shown)

    # Thresholds, in order, with their verdicts.
    rows = page.locator("table.thresholds tbody tr")
    assert rows.count() == len(doc["thresholds"])
    for i, result in enumerate(doc["thresholds"]):
        cells = rows.nth(i).locator("td")
        assert cells.nth(0).inner_text() == result["expression"]
        assert cells.nth(2).inner_text() == ("pass" if result["passed"] else "FAIL")

    # One row per scenario, and the total.
    table = page.locator("table.scenarios")
    for name, stats in doc["scenarios"].items():
        cells = table.locator(f'tbody tr[data-scenario="{name}"] td')
        steps = stats["successes"] + stats["failures"]
        assert cells.nth(0).get_attribute("data-value") == str(steps)
        assert cells.nth(0).inner_text() == count(steps)
        assert cells.nth(1).get_attribute("data-value") == str(stats["failures"])
        # td 4..10: p50 p90 p95 p99 p99.9 max mean
        assert float(cells.nth(7).get_attribute("data-value")) == stats["durations"]["p99_ms"]
        assert cells.nth(7).inner_text() == ms(stats["durations"]["p99_ms"])
    total = table.locator("tfoot td")
    assert total.nth(0).inner_text() == count(totals["steps"])
    assert total.nth(1).inner_text() == count(totals["failures"])

    # Status classes and errors.
    statuses = page.locator("table.statuses tbody tr")
    shown = {
        statuses.nth(i).locator("th").inner_text(): statuses.nth(i).locator("td").first.inner_text()
        for i in range(statuses.count())
    }
    assert shown == {label: count(n) for label, n in doc["status_classes"].items()}
    # Errors, under the group of their scenario and request.
    errors = page.locator("table.errors tbody tr.error")
    assert errors.count() == len(doc["errors"])
    shown_errors = sorted(
        (
            row.locator("xpath=..").get_attribute("data-scenario"),
            row.locator("xpath=..").get_attribute("data-request"),
            row.locator("td").nth(1).inner_text(),
            row.locator("td").nth(2).inner_text(),
        )
        for row in errors.all()
    )
    expected = sorted(
        (e.get("scenario", ""), e.get("request", ""), e["message"], count(e["count"]))
        for e in doc["errors"]
    )
    assert shown_errors == expected


# -- a real run -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_run(_target_server, tmp_path_factory):
    """One real run writing --report, --html and --csv; a threshold fails it (exit 99)."""
    folder = tmp_path_factory.mktemp("html-run")
    (folder / "loadtest.py").write_text(MIXED)
    argv = [
        sys.executable, "-m", "molotov", "-w", "4", "-d", "3", "--delay", "0.01",
        "--threshold", "p99<60s", "--threshold", "http_p50<1us",
        "--report", "run.json", "--html", "run.html", "--csv", "run", "loadtest.py",
    ]  # fmt: skip
    done = run_command(argv, folder, molotov_env(_target_server.url), 60)
    assert done.returncode == 99, (done.stdout, done.stderr)
    return folder


def test_the_page_of_a_real_run(browser, real_run, tmp_path):
    doc = load(real_run / "run.json")
    page_file = real_run / "run.html"
    opened = open_report(browser, page_file)
    check_clean(opened, page_file)
    drawn = check_charts(opened, doc)
    assert {c["id"] for c in drawn} >= ALWAYS
    check_numbers(opened, doc, exit_code=99)
    assert opened.page.locator(".verdict.fail").count() == 1
    # The throughput chart's points are the per-second rows: they add up to the totals.
    throughput = next(c for c in drawn if c["id"] == "throughput")
    assert throughput["ink"] > 100  # lines between the points, not just a dot
    assert throughput["series"] == ["requests/s", "steps/s"]
    assert throughput["data"][0] == [row["t"] for row in doc["series"]]
    assert sum(throughput["data"][1]) == doc["totals"]["requests"]
    assert sum(throughput["data"][2]) == doc["totals"]["steps"]
    # The distribution marks are the report's percentiles.
    marks = opened.page.locator('[data-chart="dist-request_latency"] [data-mark]')
    expected = [f"{name} {ms(doc['request_latency'][f'{name}_ms'])}" for name in ("p50", "p90")]
    assert [marks.nth(i).inner_text() for i in range(2)] == expected
    shot = tmp_path / "report.png"
    opened.page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    screenshot_top(opened, tmp_path / "report-top.png")  # as docs/report.png is made


def test_dark_mode(browser, real_run, tmp_path):
    doc = load(real_run / "run.json")
    page_file = real_run / "run.html"
    opened = open_report(browser, page_file, color_scheme="dark")
    check_clean(opened, page_file)
    background = opened.page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
    assert background == "rgb(13, 17, 23)"
    check_charts(opened, doc)
    opened.page.screenshot(path=str(tmp_path / "report-dark.png"), full_page=True)
    # Switching the scheme of an open page redraws the charts in the other palette.
    opened.page.evaluate("window.molotovCharts.forEach((u) => { u.stale = true; })")
    opened.page.emulate_media(color_scheme="light")
    wait_until(opened, "!window.molotovCharts.some((u) => u.stale)")
    background = opened.page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
    assert background == "rgb(255, 255, 255)"
    check_charts(opened, doc)
    assert opened.errors == []


def test_tables_sort_by_column(browser, real_run):
    opened = open_report(browser, real_run / "run.html")
    table = opened.page.locator("table.scenarios")

    def steps_column() -> list[int]:
        cells = table.locator("tbody tr td:nth-of-type(1)")
        return [int(cells.nth(i).get_attribute("data-value")) for i in range(cells.count())]

    def names() -> list[str]:
        rows = table.locator("tbody tr")
        return [rows.nth(i).get_attribute("data-scenario") for i in range(rows.count())]

    assert names() == ["broken", "pages"]  # by name at first
    table.locator("thead th").nth(1).click()
    assert steps_column() == sorted(steps_column())
    assert table.locator("thead th").nth(1).get_attribute("aria-sort") == "ascending"
    table.locator("thead th").nth(1).click()
    assert steps_column() == sorted(steps_column(), reverse=True)
    table.locator("thead th").nth(0).click()
    assert names() == ["broken", "pages"]
    assert table.locator("thead th").nth(1).get_attribute("aria-sort") is None
    assert opened.errors == []


A4_PX = round((210 - 2 * 12) / 25.4 * 96)  # A4 less the page's 12 mm margins, at 96 px/inch


def test_it_prints_on_a4(browser, real_run, tmp_path):
    opened = open_report(browser, real_run / "run.html")
    page = opened.page
    page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    # Charts are redrawn at the paper's width (180 mm)...
    assert all(c["width"] <= 180 / 25.4 * 96 for c in opened.charts())
    pdf = page.pdf(format="A4", print_background=True)
    assert pdf.startswith(b"%PDF")
    (tmp_path / "report.pdf").write_bytes(pdf)
    # ... and at the screen's again afterwards.
    page.evaluate("window.dispatchEvent(new Event('afterprint'))")
    assert all(c["width"] > 500 for c in opened.charts())
    assert opened.errors == []
    # On paper nothing is wider than the page: a print layout as wide as A4's text.
    paper = open_report(browser, real_run / "run.html", width=A4_PX, color_scheme="dark")
    paper.page.emulate_media(media="print")
    paper.page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    assert paper.page.evaluate("document.documentElement.scrollWidth") <= A4_PX
    background = paper.page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
    assert background == "rgb(255, 255, 255)"  # light on paper, even in dark mode
    paper.page.screenshot(path=str(tmp_path / "paper.png"), full_page=True)
    assert paper.errors == []


def test_the_page_of_a_run_stopped_by_x_at_an_unreachable_target(
    browser, write_scenario, run_molotov, target, tmp_path
):
    """However a run ends, its page is written: here -x stops it at the first failure."""
    port = socket.socket()
    port.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    write_scenario(
        HEADER.replace('os.environ["TARGET_URL"]', f'"http://127.0.0.1:{port.getsockname()[1]}"')
        + textwrap.dedent(
            """
            @molotov.scenario()
            async def nowhere(session):
                async with session.get(URL + "/") as resp:
                    await resp.read()
            """
        )
    )
    try:
        result = run_molotov(
            "-x", "-w", "2", "-r", "5", "--report", "r.json", "--html", "r.html", "loadtest.py"
        )
    finally:
        port.close()
    assert result.returncode == 1, (result.stdout, result.stderr)
    doc = load(tmp_path / "r.json")
    assert doc["stop_reason"] == "exception"
    assert doc["successes"] == 0
    opened = open_report(browser, tmp_path / "r.html")
    check_clean(opened, tmp_path / "r.html")
    check_numbers(opened, doc, exit_code=1)
    assert "connection refused" in opened.text("table.request-errors")
    # One series per request error kind, with its total in the chart's legend.
    failures = next(c for c in opened.charts() if c["id"] == "failures")
    assert failures["series"] == ["failed steps/s", "connection refused/s"]
    refused = doc["request_errors"]["connection refused"]
    assert refused > 0
    assert failures_legend(opened) == {
        "failed steps": f"failed steps {count(doc['totals']['failures'])}",
        "connection refused": f"connection refused {count(refused)}",
    }
    # No request got an answer: no request-latency histogram, the failed steps' durations.
    drawn = [c["id"] for c in check_charts(opened, doc)]
    assert "dist-request_latency" not in drawn
    assert "dist-scenario_durations" in drawn


# -- what the page says, and where ----------------------------------------------------------


def human_time(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S UTC")


def test_times_are_human_with_the_iso_in_a_title(browser, real_run):
    doc = load(real_run / "run.json")
    opened = open_report(browser, real_run / "run.html")
    for where in ("header", "#run dl.timing"):
        times = opened.page.locator(f"{where} time")
        assert times.all_inner_texts() == [
            human_time(doc["started_at"]),
            human_time(doc["ended_at"]),
        ]
        for i, key in enumerate(("started_at", "ended_at")):
            assert times.nth(i).get_attribute("title") == doc[key]
            assert times.nth(i).get_attribute("datetime") == doc[key]
    # A 3-second run: seconds, to a tenth; the exact number in the title.
    duration = opened.page.locator("#run [data-key=duration]")
    assert duration.inner_text() == f"{doc['duration_s']:.1f}s"
    assert duration.get_attribute("title") == f"{doc['duration_s']:.3f} s"
    assert re.search(r"\d\.\d{6}", opened.text("header") + opened.text("#run")) is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.25, "0.2s"),
        (59.94, "59.9s"),
        (90, "1m 30s"),
        (3600, "1h 0m 0s"),
        (93784.4, "1d 2h 3m 4s"),
    ],
)
def test_durations_read_as_units(seconds, text):
    assert span(seconds) == text


def test_the_options_are_folded_below_the_headline(browser, real_run):
    doc = load(real_run / "run.json")
    opened = open_report(browser, real_run / "run.html")
    page = opened.page
    options = page.locator("details#options")
    assert options.get_attribute("open") is None
    assert not page.locator("#options dl").is_visible()
    # The headline numbers come first: the options right after them.
    order = page.evaluate(
        "[...document.querySelectorAll('main > *')].map((e) => e.id || e.tagName.toLowerCase())"
    )
    assert order.index("options") == order.index("headline") + 1
    assert f"{len(doc['options'])} options" in options.locator("summary").inner_text()
    options.locator("summary").click()
    assert page.locator("#options dl").is_visible()
    assert page.locator("#options dt").all_inner_texts() == sorted(doc["options"])


def test_a_closed_model_page_shows_no_response_times(browser, real_run):
    doc = load(real_run / "run.json")
    assert doc["model"] == "closed"
    opened = open_report(browser, real_run / "run.html")
    headers = opened.page.locator("table.scenarios thead th").all_inner_texts()
    assert headers[-1] == "mean" and not any("response" in h for h in headers)
    assert opened.page.locator("table.scenarios tfoot td").count() == len(headers) - 1
    assert "response" not in opened.text("#distribution").lower()


def failures_legend(opened) -> dict[str, str]:
    legend = opened.page.locator('[data-chart="failures"] [data-total]')
    return {
        legend.nth(i).get_attribute("data-total"): legend.nth(i).inner_text()
        for i in range(legend.count())
    }


def test_the_failures_chart_says_there_were_no_request_errors(browser, real_run):
    doc = load(real_run / "run.json")
    assert doc["totals"]["failures"] > 0 and doc["totals"]["request_errors"] == 0
    opened = open_report(browser, real_run / "run.html")
    failures = next(c for c in opened.charts() if c["id"] == "failures")
    assert failures["series"] == ["failed steps/s"]
    assert failures_legend(opened) == {
        "failed steps": f"failed steps {count(doc['totals']['failures'])}"
    }
    assert "no request errors" in opened.text('[data-chart="failures"] .legend').lower()


# -- over time: latency and workers ---------------------------------------------------------

DRAIN = HEADER + textwrap.dedent(
    """
    import time

    FIRST = []  # when this process's first step began: about the run's start


    @molotov.scenario()
    async def pages(session):
        FIRST[:] = FIRST or [time.monotonic()]
        # From 1.5 s on, a step's request takes 2.5 s: it ends after the stop (at 2 s), in
        # the drain, and only there.
        slow = time.monotonic() - FIRST[0] > 1.5
        async with session.get(URL + ("/slow?s=2.5" if slow else "/")) as resp:
            await resp.read()
    """
)


@pytest.fixture(scope="module")
def drain_run(_target_server, tmp_path_factory):
    """A closed-model run whose stage ramps from 1 to 5 workers over its 2 seconds, and
    whose last steps stall past the stop."""
    folder = tmp_path_factory.mktemp("html-drain")
    (folder / "loadtest.py").write_text(DRAIN)
    argv = [
        sys.executable, "-m", "molotov", "-w", "1", "--stages", "2:5", "-d", "2",
        "--delay", "0.01", "--report", "run.json", "--html", "run.html", "loadtest.py",
    ]  # fmt: skip
    done = run_command(argv, folder, molotov_env(_target_server.url), 60)
    assert done.returncode == 0, (done.stdout, done.stderr)
    return folder


SCALES = """() => window.molotovCharts.map((u) => ({
  id: u.root.dataset.chart, distr: u.scales.y.distr, min: u.scales.y.min, max: u.scales.y.max,
}))"""


def test_latency_over_time_has_a_log_axis_that_the_drain_does_not_squash(browser, drain_run):
    doc = load(drain_run / "run.json")
    opened = open_report(browser, drain_run / "run.html")
    check_clean(opened, drain_run / "run.html")
    drawn = {c["id"]: c for c in check_charts(opened, doc)}
    scales = {s["id"]: s for s in opened.page.evaluate(SCALES)}
    # The steps in flight at the stop end in its second or later: the drain.
    assert doc["stop_reason"] == "duration"
    stop = datetime.fromisoformat(doc["started_at"]).timestamp() + doc["options"]["duration"]
    latency = drawn["latency"]
    assert latency["series"] == ["p50", "p95", "p99"]
    assert opened.text('[data-chart="latency"] figcaption').endswith("p50, p95, p99")
    for chart in [latency, *(c for c in drawn.values() if c["id"].startswith("request-"))]:
        scale = scales[chart["id"]]
        assert scale["distr"] == 3, chart["id"]  # uPlot's log scale
        x, *columns = chart["data"]
        values = [
            (t, v) for column in columns for t, v in zip(x, column, strict=True) if v is not None
        ]
        before = [v for t, v in values if t < int(stop)]
        after = [v for t, v in values if t >= int(stop)]
        if not before:  # a name only the drain has: its own values make its range
            assert scale["max"] >= max(after), chart["id"]
            continue
        assert scale["min"] <= min(before) and scale["max"] >= max(before), chart["id"]
        if after and max(after) > 10 * max(before):
            assert scale["max"] < max(after), chart["id"]  # the stalls do not squash the rest
    # The latency chart's drain is one: its stalls were seen there.
    x, *columns = latency["data"]
    assert (
        max(v for column in columns for t, v in zip(x, column, strict=True) if t >= int(stop) and v)
        > 2000
    )
    assert "drain" in opened.text("#series")


def test_workers_and_their_target_are_drawn_when_they_were_read(browser, drain_run):
    """A row's workers are counted at the end of its second (the last one's, at the run's
    end), its target is the stage's value at the middle: each is drawn at that instant."""
    doc = load(drain_run / "run.json")
    opened = open_report(browser, drain_run / "run.html")
    workers = next(c for c in opened.charts() if c["id"] == "workers")
    assert workers["series"] == ["workers", "target workers"]
    x, counted, target = workers["data"]
    points = {"workers": {}, "target": {}}
    for t, n, goal in zip(x, counted, target, strict=True):
        if n is not None:
            points["workers"][t] = n
        if goal is not None:
            points["target"][t] = goal
    rows = doc["series"]
    end = round(datetime.fromisoformat(doc["ended_at"]).timestamp(), 3)
    assert rows[-1]["t"] < end < rows[-1]["t"] + 1  # the last second is partial
    assert points["workers"] == {min(row["t"] + 1, end): row["workers"] for row in rows}
    assert points["target"] == {row["t"] + 0.5: row["target"] for row in rows}
    # The stage ramps from 1 to 5 workers.
    assert rows[0]["target"] < rows[-1]["target"] == 5
    assert opened.errors == []


# -- moloreport ------------------------------------------------------------------------------


def test_the_merged_page_shows_the_sum_of_its_inputs(browser, real_run, run_molotov, tmp_path):
    (tmp_path / "loadtest.py").write_text(MIXED)
    second = run_molotov("-w", "2", "-r", "5", "--report", "second.json", "loadtest.py")
    assert second.returncode == 0, second.stderr
    (tmp_path / "first.json").write_text((real_run / "run.json").read_text())
    result = moloreport(
        "first.json", "second.json", "--report", "all.json", "--html", "all.html", cwd=tmp_path
    )
    assert result.returncode == 0, (result.stdout, result.stderr)
    inputs = [load(tmp_path / "first.json"), load(tmp_path / "second.json")]
    merged = load(tmp_path / "all.json")
    opened = open_report(browser, tmp_path / "all.html")
    check_clean(opened, tmp_path / "all.html")
    check_charts(opened, merged)
    check_numbers(opened, merged, exit_code=0)
    # ... which are the sums of the inputs'.
    for key in ("steps", "requests", "failures"):
        assert opened.text(f"[data-key={key}]") == count(sum(d["totals"][key] for d in inputs))
    for name in ("pages", "broken"):
        steps = sum(
            d["scenarios"][name]["successes"] + d["scenarios"][name]["failures"] for d in inputs
        )
        cell = opened.page.locator(f'table.scenarios tr[data-scenario="{name}"] td').first
        assert cell.inner_text() == count(steps)
    assert "2 reports merged" in opened.text("header")
    assert opened.text("[data-key=stop_reason]") == "merged"
    opened.page.screenshot(path=str(tmp_path / "merged.png"), full_page=True)


# -- the open model, long runs: synthetic documents ------------------------------------------


def test_an_open_model_page_draws_every_chart(browser, tmp_path):
    doc = synthetic_document(7200)  # two hours: 5-second points
    page_file = tmp_path / "open.html"
    htmlreport.write(page_file, doc, 0)
    opened = open_report(browser, page_file)
    check_clean(opened, page_file)
    drawn = {c["id"]: c for c in check_charts(opened, doc)}
    assert set(drawn) == ALWAYS | {
        "arrivals",
        "workers",
        "statuses",
        "dist-scenario_response_times",
        "dist-start_lateness",
    }
    check_numbers(opened, doc, exit_code=0)
    assert drawn["arrivals"]["series"] == ["target/s", "started/s", "dropped/s"]
    assert drawn["failures"]["series"] == ["failed steps/s", "connection reset/s", "timeout/s"]
    assert drawn["statuses"]["series"] == ["2xx/s", "4xx/s", "5xx/s"]
    assert opened.text('[data-chart="latency"] figcaption').startswith("Request latency")
    assert "Each point is 5 seconds" in opened.text("#series")
    # 5-second averages of whole buckets: times 5, they add up to the totals.
    started = drawn["arrivals"]["data"][2]
    assert len(started) == 7200 // 5
    assert sum(started) * 5 == pytest.approx(doc["totals"]["steps"])
    dropped = drawn["arrivals"]["data"][3]
    assert sum(dropped) * 5 == pytest.approx(doc["totals"]["dropped"])
    assert opened.text("[data-key=dropped] .value") == count(doc["totals"]["dropped"])
    assert opened.text("[data-key=arrivals]") == count(doc["totals"]["arrivals"])
    assert opened.page.locator("table.scenarios thead th", has_text="response p99").count() == 1
    opened.page.screenshot(path=str(tmp_path / "open.png"), full_page=True)


def test_the_page_of_a_real_open_model_run(browser, run_molotov, target, tmp_path):
    (tmp_path / "loadtest.py").write_text(
        HEADER
        + textwrap.dedent(
            """
            @molotov.scenario()
            async def slow(session):
                async with session.get(URL + "/slow", params={"s": "0.3"}) as resp:
                    await resp.read()
            """
        )
    )
    # 40 arrivals/s, each 0.3 s long, on at most 4 workers: some wait, some are dropped.
    result = run_molotov(
        "--rate", "40", "-d", "3", "-w", "2", "--max-workers", "4", "--max-lag", "0.2",
        "--report", "open.json", "--html", "open.html", "loadtest.py",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    doc = load(tmp_path / "open.json")
    assert doc["model"] == "open" and doc["totals"]["dropped"] > 0
    page_file = tmp_path / "open.html"
    opened = open_report(browser, page_file)
    check_clean(opened, page_file)
    drawn = {c["id"]: c for c in check_charts(opened, doc)}
    assert {"arrivals", "dist-scenario_response_times", "dist-start_lateness"} <= set(drawn)
    check_numbers(opened, doc, exit_code=0)
    arrivals = drawn["arrivals"]
    assert arrivals["series"][:2] == ["target/s", "started/s"]
    assert sum(arrivals["data"][2]) == doc["totals"]["started"]
    assert opened.text("[data-key=dropped] .value") == count(doc["totals"]["dropped"])
    assert opened.text("[data-key=arrivals]") == count(doc["totals"]["arrivals"])
    # Response times (from the arrival) are the open model's: a column of their p99.
    table = opened.page.locator("table.scenarios")
    assert table.locator("thead th").last.inner_text() == "response p99"
    p99 = doc["scenarios"]["slow"]["response_times"]["p99_ms"]
    assert table.locator('tr[data-scenario="slow"] td').last.inner_text() == ms(p99)
    opened.page.screenshot(path=str(tmp_path / "open.png"), full_page=True)


def test_a_hostile_error_message_stays_text(browser, tmp_path):
    doc = synthetic_document(60)
    evil = "</script><script>window.owned = 1</script><img src=x onerror=window.owned=2>"
    doc["errors"][0]["message"] = evil
    doc["options"]["scenario"] = evil
    page_file = tmp_path / "evil.html"
    htmlreport.write(page_file, doc, 0)
    opened = open_report(browser, page_file)
    check_clean(opened, page_file)
    assert opened.page.evaluate("window.owned") is None
    assert opened.text("table.errors tr.error td:nth-of-type(2)") == evil


# -- without a browser -------------------------------------------------------------------------


def test_the_page_is_self_contained(tmp_path):
    page = htmlreport.render(synthetic_document(120), 0)
    assert re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", page) is None
    assert "default-src 'none'" in page
    assert page.count("</script>") == 3  # the data, uPlot, the page's own script


@pytest.mark.parametrize(
    ("span", "k"), [(1, 1), (1500, 1), (1501, 2), (3600, 5), (86400, 60), (10**7, 7200)]
)
def test_resolution(span, k):
    assert resolution(span) == k


def test_downsampling_a_day_keeps_the_totals_and_exact_percentiles():
    doc = synthetic_document(86400)
    sampled = downsample(doc["series"])
    assert sampled.k == 60
    assert len(sampled.t) == 1440
    assert sampled.t[1] - sampled.t[0] == 60
    for key in ("steps", "failures", "requests", "dropped"):
        assert sum(sampled.columns[key]) * 60 == pytest.approx(doc["totals"][key]), key
    errors = sampled.keyed["request_errors"]
    for kind, total in doc["request_errors"].items():
        assert sum(errors[kind]) * 60 == pytest.approx(total), kind
    assert sampled.latency_source == "request_latency"
    # A bucket's percentiles are those of the merged histogram of its 60 rows.
    incident = int(86400 * 0.6) // 60
    for b in (0, 700, incident, 1439):
        rows = doc["series"][60 * b : 60 * (b + 1)]
        merged = Histogram.merge([Fields(row, "row").histogram("request_latency") for row in rows])
        expected = [round(merged.percentile_us(p) / 1000, 3) for p in LATENCY_PERCENTILES]
        assert [sampled.latency[p][b] for p in LATENCY_PERCENTILES] == expected
    # Gauges are averages of the rows.
    rows = doc["series"][:60]
    assert sampled.columns["workers"][0] == pytest.approx(sum(r["workers"] for r in rows) / 60)


def test_downsampling_an_old_report_and_a_gap():
    """Rows without the open-model keys, and seconds with no row (merged runs far apart)."""
    rows = [
        {
            "t": 100 + s,
            "steps": 2,
            "failures": 1,
            "requests": 4,
            "buckets": [[300, 2]],
            "max_us": 500,
        }
        for s in (0, 1, 2, 7, 8)
    ]
    sampled = downsample(rows, 2)
    assert sampled.t == [100, 102, 104, 106, 108]
    assert sampled.columns["steps"] == [2.0, 1.0, None, 1.0, 2.0]
    assert set(sampled.columns) == {"steps", "failures", "requests"}
    assert sampled.keyed == {}
    assert sampled.latency_source == "buckets"
    top = percentiles_us([[300, 1]], 1, 500, [50])[0] / 1000
    assert sampled.latency[50.0] == [top, top, None, top, top]
    titles = {c["id"]: c["title"] for c in charts.time_charts({"series": rows}, sampled)}
    assert set(titles) == {"throughput", "failures", "latency"}
    assert titles["latency"].startswith("Step duration")


# -- the command line ------------------------------------------------------------------------


def test_html_path_placeholders(write_scenario, run_molotov, target, tmp_path):
    write_scenario(MIXED)
    result = run_molotov(
        "-r", "1", "--html", "out/{hostname}-{index}.html", "loadtest.py", JOB_COMPLETION_INDEX="4"
    )
    assert result.returncode == 0, result.stderr
    assert [p.name for p in (tmp_path / "out").iterdir()] == [f"{socket.gethostname()}-4.html"]


def test_an_unwritable_html_path_is_one_line_and_exit_2_before_the_run(
    write_scenario, run_molotov, target, tmp_path
):
    write_scenario(MIXED)
    (tmp_path / "file").write_text("")
    result = run_molotov(
        "-r", "1", "--html", "file/report.html", "--report", "r.json", "loadtest.py"
    )
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("--html 'file/report.html': cannot write there")
    # Nothing ran, so nothing is written: not even the report that could have been.
    assert target.total == 0
    assert not (tmp_path / "r.json").exists()
