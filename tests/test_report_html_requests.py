"""``--html``, per request: the requests table, latency by request, status codes, checks, and
errors grouped by scenario and request, in a real headless Chromium.

One real run (module-scoped) against the live local target makes six request names (one
explicit, with ``molotov.named``), three status codes, a check that always holds and one that
never does, and errors in two scenarios (one raised by a request, one by an assert); every test
reads the run's page and compares it with the JSON report of the same run.
"""

from __future__ import annotations

import copy
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from browser import check_clean, open_report
from molotov.reports import htmlreport
from molotov.reports.fields import Fields
from molotov.reports.htmlreport.byrequest import REQUEST_HEADERS
from molotov.reports.summary import format_bytes
from molotov.stats.histogram import format_us
from support import molotov_env, run_command

SCENARIOS = textwrap.dedent(
    """\
    import os

    import molotov

    URL = os.environ["TARGET_URL"]


    @molotov.scenario(weight=3)
    async def browse(session):
        async with session.get(URL + "/") as resp:
            molotov.check(resp.status == 200, "home is 200")
        async with session.get(URL + "/data") as resp:
            await resp.read()
        with molotov.named("missing page"):
            async with session.get(URL + "/status/404") as resp:
                molotov.check(resp.status == 200, "page exists")
                resp.raise_for_status()


    @molotov.scenario(weight=1)
    async def checkout(session):
        async with session.get(URL + "/slow", params={"s": "0.02"}) as resp:
            await resp.read()
        async with session.post(URL + "/echo", json={"cart": 1}) as resp:
            await resp.read()
        async with session.get(URL + "/status/500") as resp:
            assert resp.status == 200, "server error"
    """
)
TOP = 5  # the page charts the busiest names that have per-second rows, five at most


@pytest.fixture(scope="module")
def run(_target_server, tmp_path_factory) -> tuple[Path, dict[str, Any]]:
    """The run's folder (run.html in it) and its JSON report."""
    folder = tmp_path_factory.mktemp("html-requests")
    (folder / "loadtest.py").write_text(SCENARIOS)
    argv = [
        sys.executable, "-m", "molotov", "-w", "4", "-d", "2", "--delay", "0.005",
        "--report", "run.json", "--html", "run.html", "loadtest.py",
    ]  # fmt: skip
    done = run_command(argv, folder, molotov_env(_target_server.url), 60)
    assert done.returncode == 0, (done.stdout, done.stderr)
    doc = json.loads((folder / "run.json").read_text())
    assert len(doc["by_request"]) == 6, list(doc["by_request"])
    return folder, doc


def ms(value: float | None) -> str:
    return "—" if value is None else format_us(value * 1000)


def cells_of(row: Any) -> list[Any]:
    """The numbers of a requests-table row (after its name, before its bar): (text, data-value)."""
    cells = row.locator("td")
    return [(cells.nth(i).inner_text(), cells.nth(i).get_attribute("data-value")) for i in range(8)]


def test_the_requests_table_is_the_reports_by_request(browser, run):
    folder, doc = run
    opened = open_report(browser, folder / "run.html")
    check_clean(opened, folder / "run.html")
    table = opened.page.locator("table.requests")
    headers = table.locator("thead th")
    assert headers.all_inner_texts() == list(REQUEST_HEADERS)
    assert headers.nth(1).get_attribute("aria-sort") == "descending"
    rows = table.locator("tbody tr")
    # Every name, busiest first (the report's order).
    assert [rows.nth(i).get_attribute("data-request") for i in range(rows.count())] == list(
        doc["by_request"]
    )
    requests = [stats["requests"] for stats in doc["by_request"].values()]
    assert requests == sorted(requests, reverse=True)
    for i, (name, stats) in enumerate(doc["by_request"].items()):
        row = rows.nth(i)
        assert row.locator("th").inner_text() == name
        latency = stats["latency"]
        expected = [
            (f"{stats['requests']:,}", str(stats["requests"])),
            (f"{100 * stats['failure_rate']:.2f}%", str(stats["failure_rate"])),
            (f"{stats['requests_per_s']:,.1f}/s", str(stats["requests_per_s"])),
            *[(ms(latency[f"{p}_ms"]), str(latency[f"{p}_ms"])) for p in ("p50", "p95", "p99")],
            (ms(latency["max_ms"]), str(latency["max_ms"])),
            (format_bytes(stats["response_bytes"]), str(stats["response_bytes"])),
        ]
        assert cells_of(row) == expected, name
        # The bar spans p50 to p99 on the shared scale: inside the column, p95 within it.
        bar = row.locator(".bar")
        assert bar.get_attribute("title") == (
            f"p50 {ms(latency['p50_ms'])}, p95 {ms(latency['p95_ms'])}, p99 {ms(latency['p99_ms'])}"
        )
        box, span, tick = (
            bar.bounding_box(),
            bar.locator(".range").bounding_box(),
            bar.locator(".tick").bounding_box(),
        )
        assert box["x"] <= span["x"] and span["x"] + span["width"] <= box["x"] + box["width"] + 1
        assert span["x"] - 1 <= tick["x"] + tick["width"] / 2 <= span["x"] + span["width"] + 1
    # The failing names say so in red, the others not.
    failing = {name for name, stats in doc["by_request"].items() if stats["failures"]}
    assert failing == {"missing page", "GET /status/{id}"}
    red = table.locator("tbody tr:has(td .fail)")
    assert {red.nth(i).get_attribute("data-request") for i in range(red.count())} == failing


def test_the_requests_table_sorts_by_column(browser, run):
    folder, doc = run
    opened = open_report(browser, folder / "run.html")
    table = opened.page.locator("table.requests")
    headers = table.locator("thead th")

    def names() -> list[str]:
        rows = table.locator("tbody tr")
        return [rows.nth(i).get_attribute("data-request") for i in range(rows.count())]

    def p99s() -> list[float]:
        return [doc["by_request"][name]["latency"]["p99_ms"] for name in names()]

    headers.nth(6).click()  # p99
    assert headers.nth(6).get_attribute("aria-sort") == "ascending"
    assert headers.nth(1).get_attribute("aria-sort") is None
    assert p99s() == sorted(p99s())
    headers.nth(6).click()
    assert p99s() == sorted(p99s(), reverse=True)
    headers.nth(8).click()  # bytes
    sizes = [doc["by_request"][name]["response_bytes"] for name in names()]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]
    headers.nth(0).click()
    assert names() == sorted(doc["by_request"], key=str.lower)
    assert opened.errors == []


def test_latency_by_request_has_a_log_chart_per_top_name(browser, run):
    folder, doc = run
    opened = open_report(browser, folder / "run.html")
    in_series = {name for row in doc["series"] for name in row["by_request"]}
    top = [name for name in doc["by_request"] if name in in_series][:TOP]
    assert len(top) == TOP  # six names in the series, the five busiest charted
    figures = opened.page.locator("#request-latency figure.chart")
    assert [figures.nth(i).locator("figcaption").inner_text() for i in range(TOP)] == top
    assert figures.count() == TOP
    drawn = [c for c in opened.charts() if c["id"].startswith("request-")]
    scales = opened.page.evaluate(
        "window.molotovCharts.filter((u) => u.root.dataset.chart.startsWith('request-'))"
        ".map((u) => u.scales.y.distr)"
    )
    assert scales == [3] * TOP  # uPlot's log scale
    t = [row["t"] for row in doc["series"]]
    for name, chart in zip(top, drawn, strict=True):
        assert chart["ink"] > 0, name
        assert chart["series"] == ["p50", "p95", "p99"]
        assert chart["data"][0] == t  # one point a second: a short run is not downsampled
        # Each point is the percentiles of that second's buckets of that name, or a gap.
        for i, row in enumerate(doc["series"]):
            block = row["by_request"].get(name)
            points = [chart["data"][j][i] for j in (1, 2, 3)]
            if block is None:
                assert points == [None] * 3, (name, i)
                continue
            histogram = Fields(block, name).histogram("latency")
            assert points == [round(histogram.percentile_us(p) / 1000, 3) for p in (50, 95, 99)]
        assert sum(v is not None for v in chart["data"][1]) >= 2, name
    assert opened.errors == []


def test_status_codes_checks_and_grouped_errors(browser, run):
    folder, doc = run
    opened = open_report(browser, folder / "run.html")
    page = opened.page
    codes = doc["status_codes"]
    assert set(codes) == {"200", "404", "500"}
    answered = sum(codes.values())

    def share(n: int) -> str:
        return f"{100 * (n / answered):.2f}%"

    rows = page.locator("table.status-codes tbody tr")
    shown = {
        rows.nth(i).get_attribute("data-code"): [
            rows.nth(i).locator("th").inner_text(),
            *rows.nth(i).locator("td").all_inner_texts(),
        ]
        for i in range(rows.count())
    }
    assert shown == {
        "200": ["200 OK", f"{codes['200']:,}", share(codes["200"])],
        "404": ["404 Not Found", f"{codes['404']:,}", share(codes["404"])],
        "500": ["500 Internal Server Error", f"{codes['500']:,}", share(codes["500"])],
    }
    # Checks: the overall rate, then each (check, request) pair.
    checks = doc["checks"]
    assert opened.text("[data-key=checks_rate]") == f"{100 * checks['rate']:.2f}%"
    assert opened.text("[data-key=checks]").startswith(
        f"{checks['passed']:,} passed, {checks['failed']:,} failed"
    )
    rows = page.locator("table.checks tbody tr")
    shown_checks = [
        [rows.nth(i).locator("th").inner_text(), *rows.nth(i).locator("td").all_inner_texts()]
        for i in range(rows.count())
    ]
    assert shown_checks == [
        [
            item["name"],
            item["request"],
            f"{item['passes']:,}",
            f"{item['failures']:,}",
            f"{100 * (item['passes'] / (item['passes'] + item['failures'])):.2f}%",
        ]
        for item in checks["items"]
    ]
    assert {(i["name"], i["request"]) for i in checks["items"]} == {
        ("home is 200", "GET /"),
        ("page exists", "missing page"),
    }
    # Errors: a group per (scenario, request), its total, then its errors.
    groups = page.locator("table.errors tbody")
    expected: dict[tuple[str, str], list[list[str]]] = {}
    for error in doc["errors"]:
        where = (error["scenario"], error["request"])
        expected.setdefault(where, []).append(
            [error["kind"], error["message"], f"{error['count']:,}"]
        )
    # A response's error names its request; an assert after a request does not.
    assert set(expected) == {("browse", "missing page"), ("checkout", "")}
    assert groups.count() == len(expected)
    for i in range(groups.count()):
        group = groups.nth(i)
        where = (group.get_attribute("data-scenario"), group.get_attribute("data-request"))
        head = group.locator("tr.group")
        label = where[1] or "not raised by a request"
        assert head.locator("th").inner_text() == f"{where[0]} · {label}"
        total = sum(int(e[2].replace(",", "")) for e in expected[where])
        assert head.locator("td").inner_text() == f"{total:,}"
        errors = group.locator("tr.error")
        assert [errors.nth(j).locator("td").all_inner_texts() for j in range(errors.count())] == (
            expected[where]
        )
    assert opened.errors == []


def test_hostile_names_stay_text(browser, run, tmp_path):
    """Request, scenario and check names come from the scenario file: never markup."""
    doc = copy.deepcopy(run[1])  # the run's report is shared by the module's tests
    evil = "</script><script>window.owned = 1</script><img src=x onerror=window.owned=2>"
    name = next(iter(doc["by_request"]))
    doc["by_request"] = {evil: doc["by_request"][name]}
    for row in doc["series"]:
        if name in row["by_request"]:
            row["by_request"] = {evil: row["by_request"][name]}
    doc["errors"][0].update(scenario=evil, request=evil)
    doc["checks"]["items"][0].update(name=evil, request=evil)
    page_file = tmp_path / "evil.html"
    htmlreport.write(page_file, doc, 0)
    opened = open_report(browser, page_file)
    check_clean(opened, page_file)
    assert opened.page.evaluate("window.owned") is None
    assert opened.text("table.requests tbody th") == evil
    assert opened.text("#request-latency figcaption") == evil
    assert opened.text("table.checks tbody th") == evil
    assert opened.text("table.errors tr.group th") == f"{evil} · {evil}"
