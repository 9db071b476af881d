"""``--dashboard``: the run's report page served live, followed in a real headless Chromium.

Real runs of the ``molotov`` command against the live local target (and a real cluster of
loopback agents): the page's numbers grow while the run goes on, a browser that comes late
gets the run so far, the Stop button stops the run as Ctrl-C does, a browser that reads
nothing harms nobody, and at the end the page is the final report, the page ``--html``
writes. Without Chromium the browser tests skip, unless ``MOLOTOV_REQUIRE_BROWSER=1`` (CI).
"""

from __future__ import annotations

import json
import re
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from agents import Proc, agents, coordinator
from agents import target as cluster_target
from browser import check_charts, check_numbers, open_page, open_report, wait_until
from molotov.config.runconfig import RunConfig
from molotov.live.dashboard import Dashboard
from molotov.live.dashfeed import LiveFeed
from molotov.live.dashpage import LivePage
from molotov.reports.htmlreport.downsample import Downsampler, downsample
from molotov.reports.jsonreport import row_json
from molotov.stats.histogram import Histogram
from molotov.stats.series import Second, Sparse, Tiers
from molotov.stats.snapshot import ScenarioStats, Snapshot
from support import MIXED_SCENARIOS, Target, molotov_env
from synthetic import synthetic_document

SPARSE = Sparse.of(Histogram((0,) * 300 + (2,) + (0,) * 2387, 2, 700, 400))
SHOWN_REQUESTS = (
    "Number(document.querySelector('[data-key=requests]').textContent.replace(/,/g, ''))"
)


def launch(folder: Path, target: Target, *args: str, address: str = "0") -> Proc:
    """``molotov --dashboard ADDRESS`` on MIXED_SCENARIOS, its output read as it comes."""
    (folder / "loadtest.py").write_text(MIXED_SCENARIOS)
    argv = [sys.executable, "-m", "molotov", "-c", "-w", "2", "--delay", "0.01"]
    argv += ["--dashboard", address, *args, "loadtest.py"]
    return Proc(argv, molotov_env(target.url), folder)


def url_of(run: Proc) -> str:
    """The dashboard's URL, from the first line the run prints."""
    found = re.search(r"http://\S+", run.wait_line(r"^Dashboard: http://", 30, "out"))
    assert found, run.text
    return found[0]


def get(
    url: str, *, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def end_linger(run: Proc) -> int:
    """Ctrl-C once the final report lingers, and the exit code."""
    run.wait_line(r"^Dashboard: the final report stays at http://\S+ for 300s", 30, "err")
    run.signal(signal.SIGINT)
    return run.wait()


def charted(opened) -> list[tuple[str, list]]:
    return [(chart["id"], chart["data"]) for chart in opened.charts()]


def grows(opened) -> None:
    """The page says the run is live, and its numbers grow between two reads."""
    wait_until(opened, f"window.molotovLive.updates >= 1 && {SHOWN_REQUESTS} > 0")
    assert opened.text(".verdict .badge") == "LIVE"
    seen = opened.page.evaluate(SHOWN_REQUESTS)
    wait_until(opened, f"{SHOWN_REQUESTS} > {seen}")
    assert opened.page.evaluate("window.molotovLive.final") is False


def test_the_page_grows_live_and_ends_as_the_html_report(browser, target, tmp_path):
    run = launch(
        tmp_path, target, "--report", "r.json", "--html", "r.html", "--dashboard-linger", "5m"
    )
    try:
        url = url_of(run)
        pages = [open_page(browser, url), open_page(browser, url)]  # two browsers at once
        first = pages[0]
        grows(first)
        run.signal(signal.SIGINT)  # the run stops: its report comes
        for opened in pages:
            wait_until(opened, "window.molotovLive.final", 60_000)
        doc = json.loads((tmp_path / "r.json").read_text())
        report = open_report(browser, tmp_path / "r.html")
        for opened in pages:
            assert opened.errors == []  # (before the charts' pixels are read: that warns)
            # The final page is the report's: its numbers, its charts, its text.
            check_numbers(opened, doc, exit_code=0)
            check_charts(opened, doc)
            assert opened.text("main") == report.text("main")
            assert charted(opened) == charted(report)
            assert opened.text("#live-state") == "The run is over: this is its final report."
            assert opened.page.locator("#live-stop").count() == 0
            origin = url.rstrip("/")
            assert {r.split("?")[0] for r in opened.requests} <= {f"{origin}/", f"{origin}/events"}
        # A browser that opens the dashboard now gets the file --html wrote, byte for byte.
        assert get(url) == (200, (tmp_path / "r.html").read_bytes())
        assert end_linger(run) == 0
    finally:
        run.stop()


def data_block(url: str) -> dict:
    status, page = get(url)
    assert status == 200
    found = re.search(rb'<script type="application/json" id="molotov-data">(.*?)</script>', page)
    assert found
    return json.loads(found[1])


def test_a_late_browser_gets_the_run_so_far(browser, target, tmp_path):
    run = launch(tmp_path, target, "--report", "r.json")
    try:
        url = url_of(run)
        # A page of another site whose name resolves to 127.0.0.1 is refused.
        port = url.rsplit(":", 1)[1].strip("/")
        assert get(url, headers={"Host": f"rebound.example:{port}"})[0] == 403
        # Several seconds in, the series has rows...
        deadline = time.monotonic() + 30
        while len(data_block(url)["t"]) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        # ... which a browser opened now draws at once, from the run's first second on.
        late = open_page(browser, url)
        throughput = next(c for c in late.charts() if c["id"] == "throughput")
        at_open = throughput["data"][0]
        assert len(at_open) >= 3
        run.signal(signal.SIGINT)
        wait_until(late, "window.molotovLive.final", 60_000)
        assert run.wait() == 0
        doc = json.loads((tmp_path / "r.json").read_text())
        assert at_open == [row["t"] for row in doc["series"]][: len(at_open)]
        check_numbers(late, doc, exit_code=0)
        assert late.errors == []
    finally:
        run.stop()


def test_the_stop_button_stops_the_run_as_ctrl_c_does(browser, target, tmp_path):
    run = launch(tmp_path, target, "--report", "r.json", "--html", "r.html")  # no -d
    try:
        opened = open_page(browser, url_of(run))
        grows(opened)
        stop = opened.page.locator("#live-stop")
        stop.click()
        assert stop.inner_text() == "Click again to stop the run"  # a stray click is not one
        stop.click()
        wait_until(opened, "window.molotovLive.final", 60_000)
        assert run.wait() == 0  # as after Ctrl-C
        assert any("Stop pressed" in line for line in run.out), run.text
        doc = json.loads((tmp_path / "r.json").read_text())
        assert doc["stop_reason"] == "signal"
        assert doc["totals"]["requests"] > 0
        check_numbers(opened, doc, exit_code=0)
        assert (tmp_path / "r.html").exists()
        assert opened.errors == []
    finally:
        run.stop()


def test_a_browser_that_reads_nothing_stops_nothing(browser, target, tmp_path):
    run = launch(tmp_path, target, "--report", "r.json")
    stalled = []
    try:
        url = url_of(run)
        port = int(url.rsplit(":", 1)[1].strip("/"))
        for request in (b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", b"GET / HTTP/1.1\r\n"):
            raw = socket.socket()
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # full at once
            raw.connect(("127.0.0.1", port))
            raw.sendall(request)  # and never a byte read
            stalled.append(raw)
        opened = open_page(browser, url)
        grows(opened)
        run.signal(signal.SIGINT)
        wait_until(opened, "window.molotovLive.final", 60_000)
        for raw in stalled:  # still there: their final report would wait for them a while
            raw.close()
        assert run.wait() == 0
        check_numbers(opened, json.loads((tmp_path / "r.json").read_text()), exit_code=0)
    finally:
        for raw in stalled:
            raw.close()
        run.stop()


def test_a_public_dashboard_wants_its_token(target, tmp_path):
    """``--dashboard-public`` (here on loopback): the printed URL carries the token, which
    every request needs; the Stop API wants it in its header too, and stops the run."""
    run = launch(
        tmp_path, target, "--dashboard-public", "--report", "r.json", address="127.0.0.1:0"
    )
    try:
        url = url_of(run)
        token = re.search(r"\?token=([\w-]+)$", url)
        assert token and len(token[1]) >= 20, url
        bare = url.split("?")[0]
        assert get(bare)[0] == 403
        assert get(f"{bare}?token=wrong")[0] == 403
        status, page = get(url)
        assert status == 200 and b'id="molotov-live"' in page
        assert get(f"{bare}events")[0] == 403
        assert get(f"{bare}stop?token={token[1]}")[0] == 405  # a GET never stops anything
        assert get(f"{bare}stop?token={token[1]}", method="POST")[0] == 403  # no header
        stop = get(
            f"{bare}stop?token={token[1]}", method="POST", headers={"X-Molotov-Token": token[1]}
        )
        assert stop[0] == 202, stop
        assert run.wait() == 0
        doc = json.loads((tmp_path / "r.json").read_text())
        assert doc["stop_reason"] == "signal"
    finally:
        run.stop()


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (("--dashboard", "0.0.0.0:0"), {}, "add --dashboard-public"),
        (("--dashboard", "[::]:8089"), {}, "add --dashboard-public"),
        ((), {"MOLOTOV_DASHBOARD": "10.1.2.3:8089"}, "add --dashboard-public"),
        (("--dashboard", "nowhere"), {}, "use [HOST:]PORT"),
        (("--dashboard", "127.0.0.1:99999"), {}, "use [HOST:]PORT"),
    ],
)
def test_a_dashboard_beyond_loopback_needs_asking(
    args, env, expected, write_scenario, run_molotov, target
):
    write_scenario(MIXED_SCENARIOS)
    result = run_molotov("-r", "1", *args, "loadtest.py", **env)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert target.total == 0


def test_a_molotov_json_test_serves_a_dashboard(write_scenario, run_molotov, target, tmp_path):
    """molotov.json takes the port as a number; the URL is the run's first line."""
    write_scenario(MIXED_SCENARIOS)
    tests = {"live": {"scenario": "loadtest.py", "max_runs": 1, "dashboard": 0}}
    (tmp_path / "molotov.json").write_text(json.dumps({"molotov": {"tests": tests}}))
    result = run_molotov("--config", "molotov.json", "live")
    assert result.returncode == 0, (result.stdout, result.stderr)
    first = result.stdout.splitlines()[0]
    assert re.fullmatch(r"Dashboard: http://127\.0\.0\.1:\d+/ \(the run, live\)", first), first
    assert target.total > 0


def test_a_dashboard_that_cannot_listen_is_one_line(write_scenario, run_molotov, target):
    write_scenario(MIXED_SCENARIOS)
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        port = taken.getsockname()[1]
        result = run_molotov("-r", "1", "--dashboard", str(port), "loadtest.py")
    finally:
        taken.close()
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert (
        result.stderr.strip()
        == f"--dashboard '{port}': cannot listen there: Address already in use"
    )
    assert target.total == 0


def test_a_cluster_coordinator_serves_the_merged_view(browser, tmp_path):
    scenario = tmp_path / "loadtest.py"
    scenario.write_text(CLUSTER_SCENARIO)
    with cluster_target() as hits, agents(2, scenario, target=hits.url) as started:
        run = coordinator(
            scenario, [a.url for a in started], "-w", "2", "--dashboard", "0",
            "--report", "r.json", "--html", "r.html", target=hits.url,
        )  # fmt: skip
        try:
            opened = open_page(browser, url_of(run))
            grows(opened)
            opened.page.locator("#live-stop").click()
            opened.page.locator("#live-stop").click()  # as Ctrl-C: every agent stops
            wait_until(opened, "window.molotovLive.final", 60_000)
            assert run.wait() == 0, run.text
            assert any("Stopping every agent" in line for line in run.out), run.text
        finally:
            run.stop()
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["merged_from"] == 2
    assert doc["totals"]["requests"] == len(hits.stamps)
    check_numbers(opened, doc, exit_code=0)
    assert opened.text("main") == open_report(browser, tmp_path / "r.html").text("main")


CLUSTER_SCENARIO = """
import asyncio
import os

from molotov import scenario

URL = os.environ["TARGET_URL"]


@scenario()
async def hit(session):
    async with session.get(URL) as resp:
        assert resp.status == 200
    await asyncio.sleep(0.01)
"""


# -- without a browser -------------------------------------------------------------------------


def test_the_live_sampler_draws_what_the_report_will():
    """Rows fed one at a time, as a dashboard gets them: at every point, the columns are those
    the report's own downsampling gives of the rows so far."""
    rows = synthetic_document(90)["series"]
    first = rows[0]["t"]
    sampler = Downsampler(first, 1, "request_latency", names=None)
    for i, row in enumerate(rows, 1):
        sampler.add(row)
        if i in (1, 2, 45, 90):
            expected = downsample(rows[:i], 1, end=rows[i - 1]["t"] + 1)
            assert sampler.result(()) == expected, i
    with pytest.raises(ValueError, match="time order"):
        sampler.add(rows[0])


def test_a_long_run_s_live_charts_are_the_report_s():
    """Past 25 minutes the charts' points are 2 s: a sampler of the new resolution takes the
    rows from the first, a slice at a time, as the feed keeps them (past ten minutes, joined
    as the report's series joins them), and the page then draws what the final report will."""
    start = 1_767_225_600
    rows = [
        Second(t=start + i, steps=i % 7, failures=i % 2, requests=3 * (i % 7), durations=SPARSE)
        for i in range(1600)
    ]
    feed = LiveFeed({"scenario": "loadtest.py"})
    feed.begin(start)
    page = LivePage(feed)
    for chunk in (rows[:1400], rows[1400:]):  # the second one crosses 1,500 seconds
        feed.update(Snapshot(taken_at=0.0, scenarios=()), chunk, chunk[-1].t + 1.0)
        slices = 1
        while not page.advance(feed.view().rows):
            slices += 1
    assert slices > 1  # the rebuild went a slice at a time
    drawn = page.parts(feed.view()).data
    report = Tiers()  # the final report's series, as its recorder keeps it
    for row in rows:
        report.add(row)
    expected = downsample([row_json(row) for row in report.rows], end=start + 1600.0)
    assert expected.k == 2 and drawn["t"] == expected.t
    assert expected.widths[0] == 10  # the oldest seconds: joined rows, a point each
    assert feed.history()[0] == report.rows  # the feed is bounded as the report is
    throughput = next(c for c in drawn["charts"] if c["id"] == "throughput")
    steps = next(s for s in throughput["series"] if s["label"] == "steps/s")
    assert steps["values"] == expected.columns["steps"]


def test_a_coordinator_s_dashboard_gets_each_second_past_the_horizon(tmp_path):
    """A cluster coordinator's dashboard cuts its rows from the merged snapshots; past ten
    minutes its recorder joins the older ones, and each second still reaches the feed once,
    in order (it took the rows past the count it had seen: past the horizon, none)."""
    start = 1_767_225_600
    dashboard = Dashboard.open(RunConfig(dashboard="127.0.0.1:0"))
    try:
        dashboard.begin(float(start))
        for i in range(1, 700):
            done = ScenarioStats("hit", i, 0, Histogram.empty())
            snapshot = Snapshot(taken_at=0.0, scenarios=(done,), requests=i)
            dashboard.update_totals(snapshot, start + i + 0.5)
        rows, handed = dashboard.feed.history()
        assert handed == 699
        seconds = dashboard.feed.rows(handed - 5, handed)
        assert [row.t for row in seconds] == list(range(start + 694, start + 699))
        assert all(row.requests == 1 for row in seconds)
        assert sum(row.requests for row in rows) == 699
        assert rows[0].seconds == 10  # the feed joined the oldest, as the report will
    finally:
        dashboard.close()
