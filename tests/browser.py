"""Headless Chromium for the HTML report: Playwright driving Debian's ``chromium``.

It also holds the checks of what a report page shows (its charts, its numbers against the
JSON report), shared by the report's tests and the dashboard's (tests/test_dashboard.py).

Playwright's own browser downloads are never used (``playwright install`` needs a network this
project does not have): the browser is the system's, ``MOLOTOV_CHROMIUM`` or
``/usr/bin/chromium``. Shared by tests/test_report_html.py, tests/test_dashboard.py and
tests/test_series_horizons.py, the HAR recordings of tests/harsite.py and
benchmarks/report_render.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from molotov.reports.htmlreport import charts
from molotov.reports.htmlreport.downsample import downsample
from molotov.stats.histogram import format_us

CHROMIUM = Path(os.environ.get("MOLOTOV_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WIDTH = 1280

# For every chart: how many pixels of its plot area have the colour of one of its series
# (opaque, within a small distance of the CSS palette colour that series was drawn with).
# Axes and grid lines are drawn outside the plot area or nearly transparent, so a chart
# whose lines or bars were not drawn counts ~0.
CHART_INK = """
() => {
  const css = getComputedStyle(document.documentElement);
  const palette = [1, 2, 3, 4, 5, 6, 7, 8].map((i) => {
    const hex = css.getPropertyValue("--c" + i).trim();
    return [1, 3, 5].map((at) => parseInt(hex.slice(at, at + 2), 16));
  });
  return window.molotovCharts.map((u) => {
    const { left, top, width, height } = u.bbox;
    const pixels = u.ctx.getImageData(left, top, width, height).data;
    const colours = palette.slice(0, Math.min(8, u.series.length - 1));
    let ink = 0;
    for (let i = 0; i < pixels.length; i += 4) {
      if (pixels[i + 3] < 160) continue;
      for (const [r, g, b] of colours) {
        const d = Math.abs(pixels[i] - r) + Math.abs(pixels[i + 1] - g)
          + Math.abs(pixels[i + 2] - b);
        if (d < 60) { ink++; break; }
      }
    }
    return {
      id: u.root.dataset.chart,
      ink: ink,
      width: u.width,
      series: u.series.slice(1).map((s) => s.label),
      data: u.data,
    };
  });
}
"""


def missing() -> str:
    """Why the browser tests cannot run here ("" when they can)."""
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install playwright, in the test extra)"
    return ""


def require() -> None:
    """Skip the calling test when no browser can run here, saying why; fail instead with
    MOLOTOV_REQUIRE_BROWSER=1 (CI sets it: the browser tests must not skip there)."""
    import pytest

    reason = missing()
    if reason:
        if os.environ.get("MOLOTOV_REQUIRE_BROWSER") == "1":
            pytest.fail(f"MOLOTOV_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)


@contextmanager
def chromium(**launch: Any) -> Iterator[Any]:
    """A headless Chromium (a Playwright ``Browser``), closed afterwards; ``launch``: more
    options of Playwright's ``launch`` (``env``, ...)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, **launch)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Opened:
    """A report opened in a page, with what its console and network saw."""

    page: Any
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def charts(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.page.evaluate(CHART_INK)
        return result

    def text(self, selector: str) -> str:
        return str(self.page.locator(selector).first.inner_text()).strip()


def open_page(browser: Any, url: str, *, color_scheme: str = "light", width: int = WIDTH) -> Opened:
    """Open ``url``, collecting page errors, console errors and every request the page
    makes."""
    page = browser.new_page(viewport={"width": width, "height": 900}, color_scheme=color_scheme)
    # ms: a page from disk has nothing to wait for, but a loaded CI machine can be slow.
    page.set_default_timeout(30_000)
    opened = Opened(page)
    page.on("pageerror", lambda error: opened.errors.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: (
            opened.errors.append(f"console {message.type}: {message.text}")
            if message.type in ("error", "warning")
            else None
        ),
    )
    page.on("request", lambda request: opened.requests.append(request.url))
    page.goto(url, wait_until="load")
    return opened


def open_report(
    browser: Any, path: Path, *, color_scheme: str = "light", width: int = WIDTH
) -> Opened:
    """Open ``path`` from disk (``file://``), as :func:`open_page` does."""
    return open_page(browser, path.resolve().as_uri(), color_scheme=color_scheme, width=width)


def check_clean(opened: Opened, path: Path) -> None:
    """No JavaScript error or warning, no request but the file, no horizontal scroll."""
    assert opened.errors == []
    assert opened.requests == [path.resolve().as_uri()]
    scroll = opened.page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= WIDTH


def check_charts(opened: Opened, doc: dict) -> list[dict]:
    """Every chart the document has data for was drawn, with visible series."""
    sampled = downsample(doc["series"], names=charts.request_names(doc))
    planned = [
        c["id"]
        for c in charts.request_charts(doc, sampled)
        + charts.time_charts(doc, sampled)
        + charts.distributions(doc)
    ]
    drawn = opened.charts()
    assert [c["id"] for c in drawn] == planned
    assert opened.page.locator("figure.chart canvas").count() == len(planned)
    for chart in drawn:
        assert chart["ink"] > 0, chart["id"]
    return drawn


def wait_until(opened: Opened, condition: str, timeout_ms: int = 30_000) -> None:
    """Wait until the JavaScript expression ``condition`` is true in the page.

    Playwright's ``wait_for_function`` evaluates its predicate with ``eval`` inside the page,
    which the report's Content-Security-Policy forbids (no ``unsafe-eval``). Here the polling
    function is handed over as a function declaration (the DevTools protocol runs it, outside
    the page's CSP), and fails after ``timeout_ms``.
    """
    opened.page.evaluate(
        f"""(timeout) => new Promise((resolve, reject) => {{
          const deadline = performance.now() + timeout;
          const check = () => {{
            if ({condition}) resolve(true);
            else if (performance.now() > deadline) reject(new Error("timed out: {condition}"));
            else setTimeout(check, 16);
          }};
          check();
        }})""",
        timeout_ms,
    )


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


def screenshot_top(opened: Opened, path: Path) -> None:
    """The top of the page (verdict, run, headline numbers, the requests table, the first row
    of charts), 1280 px wide: the README's ``docs/report.png`` is made with this (see
    ``__main__``)."""
    height = opened.page.evaluate(
        """() => {
          const chart = document.querySelector("figure.chart");
          if (!chart) return document.documentElement.scrollHeight;
          return Math.ceil(chart.getBoundingClientRect().bottom + window.scrollY + 16);
        }"""
    )
    clip = {"x": 0, "y": 0, "width": WIDTH, "height": height}
    opened.page.screenshot(path=str(path), clip=clip, full_page=True)


if __name__ == "__main__":
    # python tests/browser.py REPORT.html OUT.png: the README's screenshot of a report.
    import sys

    with chromium() as running:
        report = open_report(running, Path(sys.argv[1]))
        if report.errors:
            sys.exit("\n".join(report.errors))
        screenshot_top(report, Path(sys.argv[2]))
