"""The live views' busiest request names: their rate, p95 and failed share over the last seconds.

Plain lines and the rich view from the real ``molotov`` command against the live target, and
the rich view's panel rendered from the snapshot of a real run's report, the way a live tick
sees it (a live snapshot may leave a name's latency unread).
"""

from __future__ import annotations

import dataclasses
import io
import re
import textwrap

from rich.console import Console as RichConsole

from molotov.live.console import LiveConsole
from molotov.live.window import NAME_CHARACTERS, RATE_WINDOW
from molotov.reports.jsonload import load
from molotov.reports.requesttables import share
from molotov.stats.histogram import Histogram, format_us
from molotov.stats.snapshot import RequestStats, Snapshot
from support import molotov_env, real_report, run_on_a_terminal

LONG_NAME = "search the catalogue for every product of the season"
SHORT_LONG_NAME = LONG_NAME[: NAME_CHARACTERS - 3] + "..."

# Four names of distinct traffic (4:3:2:1 a step), the second one long and always failing.
PACED = textwrap.dedent(
    f"""\
    import asyncio
    import os

    import molotov

    URL = os.environ["TARGET_URL"]


    async def get(session, path):
        async with session.get(URL + path) as resp:
            await resp.read()


    @molotov.scenario()
    async def browse(session):
        for _ in range(4):
            await get(session, "/")
        with molotov.named({LONG_NAME!r}):
            for _ in range(3):
                await get(session, "/status/404")
        for _ in range(2):
            await get(session, "/data")
        await get(session, "/status/503")
        await asyncio.sleep(0.01)
    """
)
TOP_LINE = re.compile(r"(?P<name>.+) (?P<rate>[\d.]+)/s p95=(?P<p95>\S+) failed=(?P<failed>\S+)")
EMPTY = Histogram.empty()
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def test_plain_lines_name_the_three_busiest_requests(run_molotov, write_scenario, target):
    write_scenario(PACED)
    result = run_molotov("-c", "-w", "2", "-d", "2.5", "loadtest.py")
    assert result.returncode == 0, result.stderr
    progress = [line for line in result.lines if re.match(r"\[\d\d:\d\d\] ", line)]
    tops = [line for line in result.lines if line.startswith("  busiest: ")]
    assert tops, result.stdout
    assert len(tops) <= len(progress)  # at most one line a progress line
    # The last one, from seconds of traffic: the three busiest, busiest first.
    parts = [TOP_LINE.fullmatch(part) for part in tops[-1].removeprefix("  busiest: ").split(" | ")]
    assert all(parts), tops[-1]
    assert [p["name"] for p in parts] == ["GET /", SHORT_LONG_NAME, "GET /data"]  # type: ignore[index]
    assert [p["failed"] for p in parts] == ["0.0%", "100.0%", "0.0%"]  # type: ignore[index]
    for part in parts:
        assert float(part["rate"]) > 0, tops[-1]  # type: ignore[index]
        assert re.fullmatch(r"[\d.]+(us|ms|s)", part["p95"]), tops[-1]  # type: ignore[index]
    assert target.hits["/status/503"] > 0
    # Every progress line's rates are real from the first one (since the start, then over
    # the last seconds), and its percentiles say they are the steps'.
    first = re.search(r"successes=(\d+) .* steps/s=([\d.]+) .* step p50=", progress[0])
    assert first, progress[0]
    assert int(first[1]) == 0 or float(first[2]) > 0, progress[0]
    assert " none " not in progress[0] and "=0us" not in progress[0], progress[0]


def test_plain_lines_say_the_stages_target_as_a_human_would(run_molotov, write_scenario, target):
    write_scenario(PACED)
    result = run_molotov("-c", "--rate", "40", "--stages", "3s:17", "-d", "2.5", "loadtest.py")
    assert result.returncode == 0, result.stderr
    targets = re.findall(r" target=(\S+) ", result.stdout)
    assert targets, result.stdout
    assert all(re.fullmatch(r"\d+\.\d/s", t) for t in targets), targets


def test_the_live_view_shows_the_busiest_requests_on_a_small_terminal(
    write_scenario, target, tmp_path
):
    write_scenario(PACED)
    code, output = run_on_a_terminal(
        tmp_path, target.url, "-w", "2", "-d", "1.5", "loadtest.py", columns=80, lines=24
    )
    assert code == 0, output
    text = ANSI.sub("", output)
    rows = re.findall(r"(\S.*?)\s+([\d.]+)/s\s+p95 (\S+)\s+failed (\S+%)", text)
    assert "GET /" in {name.removeprefix("Busiest").strip() for name, *_ in rows}, text
    # The long name cut short, so that its row stays on one line of 80 columns.
    assert any(
        name.endswith("search the catalogue for ...") and failed == "100.0%"
        for name, _, _, failed in rows
    ), text
    # The last frame still starts with the headline: the names did not push it off.
    last_frame = text[text.rindex("Time ") : text.index("Duration: ")]
    assert "Busiest" in last_frame and "Steps" in last_frame, last_frame


def render(view: object, width: int = 80, height: int = 24) -> list[str]:
    out = io.StringIO()
    RichConsole(file=out, width=width, height=height, color_system=None).print(view)
    return out.getvalue().splitlines()


def live_console(*snapshots: Snapshot) -> LiveConsole:
    console = LiveConsole(stream=io.StringIO())
    for snapshot in snapshots:
        console.window.update(snapshot)
    return console


def without_latency(snapshot: Snapshot, name: str) -> Snapshot:
    """The snapshot as a live tick that did not read ``name``'s histogram sees it."""
    by_request = tuple(
        dataclasses.replace(r, latency=None) if r.name == name else r for r in snapshot.by_request
    )
    return dataclasses.replace(snapshot, by_request=by_request)


def busiest_rows(lines: list[str]) -> dict[str, list[str]]:
    """``{name: [rate, p95, failed]}`` of the view's busiest rows."""
    rows = {}
    for line in lines:
        found = re.search(r"^(?:Busiest)?\s+(\S.*?)\s+([\d.]+)/s\s+p95 (\S+)\s+failed (\S+)", line)
        if found:
            rows[found[1]] = [found[2], found[3], found[4]]
    return rows


def test_the_busiest_rows_of_a_real_snapshot(target, tmp_path):
    real_report(tmp_path, molotov_env(target.url))
    final = load(tmp_path / "r.json").snapshot
    start = Snapshot(taken_at=0.0, scenarios=())  # nothing yet: the window is the whole run
    last = dataclasses.replace(final, taken_at=RATE_WINDOW)
    lines = render(live_console(start, last).view(last, RATE_WINDOW, 1.0, None))
    assert lines[0].startswith("Time "), lines
    assert len(lines) < 24, lines  # with the banner line, on a 24-line terminal
    expected = {}
    for stats in final.requests_by_traffic():
        assert stats.latency is not None
        expected[stats.name] = [
            f"{stats.requests / RATE_WINDOW:.1f}",
            format_us(stats.latency.percentile_us(95)),
            share(stats.failures, stats.requests),
        ]
    assert busiest_rows(lines) == expected
    assert expected["GET /status/{id}"][2] == "100.0%"

    # A name whose latency a tick did not read has no p95; the others keep theirs.
    unread = without_latency(last, "GET /")
    rows = busiest_rows(render(live_console(start, unread).view(unread, 5.0, 1.0, None)))
    assert rows["GET /"] == [expected["GET /"][0], "-", expected["GET /"][2]]
    assert rows["GET /status/{id}"] == expected["GET /status/{id}"]
    # Nor when no snapshot of the window read it before: no baseline to subtract.
    early = Snapshot(taken_at=0.0, scenarios=(), by_request=(RequestStats("GET /"),))
    rows = busiest_rows(render(live_console(early, last).view(last, 5.0, 1.0, None)))
    assert rows["GET /"] == [expected["GET /"][0], "-", expected["GET /"][2]]
    assert rows["GET /status/{id}"] == expected["GET /status/{id}"]  # not seen yet: from 0
    # A later snapshot of the window that read it is the baseline.
    read = Snapshot(taken_at=1.0, scenarios=(), by_request=(RequestStats("GET /", latency=EMPTY),))
    rows = busiest_rows(render(live_console(early, read, last).view(last, 5.0, 1.0, None)))
    assert rows["GET /"] == expected["GET /"]
