"""Per-request statistics (issue 15): names, counts per name, status codes, checks, errors.

Every test runs the real ``molotov`` against the real target of the suite, which counts what
it served per path: the numbers per request name must equal the server's.
"""

from __future__ import annotations

import json

import pytest

from molotov.stats.histogram import NBUCKETS
from molotov.stats.naming import default_name, group_path
from molotov.stats.snapshot import RequestStats, Snapshot
from molotov.stats.watch import NameWatch
from support import closing, moloreport, read_report

UUID = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"


@pytest.mark.parametrize(
    ("path", "grouped"),
    [
        ("/items/42", "/items/{id}"),
        (f"/items/{UUID}/parts/7", "/items/{id}/parts/{id}"),
        (f"/blobs/{SHA}", "/blobs/{id}"),
        (f"/blobs/{SHA.upper()}", "/blobs/{id}"),
        ("/v2/users/alice", "/v2/users/alice"),  # not dynamic by the rule: kept
        ("/abc123", "/abc123"),
        ("/deadbeef", "/deadbeef"),  # 8 hex digits: a word as much as an id
        ("", "/"),
        ("/", "/"),
        ("/a//b/", "/a//b/"),
    ],
)
def test_dynamic_segments_are_grouped_by_the_documented_rule(path, grouped):
    assert group_path(path) == grouped
    assert default_name("GET", path) == f"GET {grouped}"


def requests_of(doc: dict) -> dict[str, int]:
    return {name: row["requests"] for name, row in doc["by_request"].items()}


def bucket_total(histogram: dict) -> int:
    return sum(count for index, count in histogram["buckets"] if 0 <= index < NBUCKETS)


MIX = f"""
    UUID = {UUID!r}

    @molotov.scenario()
    async def browse(session):
        ctx = molotov.get_context(session)
        async with session.get(f"{{URL}}/items/{{ctx.step}}") as resp:
            assert resp.status == 200
        async with session.get(f"{{URL}}/items/{{UUID}}?page={{ctx.step}}") as resp:
            await resp.read()
        with molotov.named("the data"):
            async with session.get(URL + "/data") as resp:
                await resp.json()
        async with session.get(URL + "/status/503") as resp:
            await resp.read()
"""


def test_counts_per_name_equal_the_servers_across_processes(
    scenario_file, run_molotov, target, tmp_path
):
    scenario_file(MIX)
    result = run_molotov("-p", "2", "-w", "2", "-r", "5", "--report", "r.json", "loadtest.py")
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert closing(result.stdout) == (20, 0)
    doc = read_report(tmp_path)
    items = sum(n for path, n in target.hits.items() if path.startswith("/items/"))
    assert items == 40
    assert requests_of(doc) == {
        "GET /items/{id}": items,  # /items/1 .. /items/5 and the UUID: one row
        "the data": target.hits["/data"],
        "GET /status/{id}": target.hits["/status/503"],
    }
    assert sum(requests_of(doc).values()) == doc["totals"]["requests"] == target.total == 80
    rows = doc["by_request"]
    assert rows["GET /status/{id}"]["status_codes"] == {"503": 20}
    assert rows["GET /status/{id}"]["failures"] == 20
    assert rows["GET /items/{id}"]["status_codes"] == {"200": 40}
    assert rows["the data"]["host"] == "127.0.0.1"
    assert doc["status_codes"] == {"200": 60, "503": 20}
    for row in rows.values():
        # Each name's histogram is exact: one value per response, merged over both processes.
        assert row["latency"]["count"] == bucket_total(row["latency"]) == row["requests"]
        assert row["request_errors"] == dict.fromkeys(row["request_errors"], 0)
    # The per-second series has every name, and its rows add up to the totals.
    for name, total in requests_of(doc).items():
        per_second = [
            r["by_request"][name]["requests"] for r in doc["series"] if name in r["by_request"]
        ]
        assert sum(per_second) == total, name


def test_names_past_the_bound_go_to_one_other_row(scenario_file, run_molotov, target, tmp_path):
    scenario_file(
        """
        @molotov.scenario()
        async def crawl(session):
            for name in "abcdef":
                async with session.get(f"{URL}/page-{name}") as resp:
                    await resp.read()
        """
    )
    result = run_molotov("--max-request-names", "3", "-r", "2", "--report", "r.json", "loadtest.py")
    assert result.returncode == 0, (result.stdout, result.stderr)
    doc = read_report(tmp_path)
    # Two names had room; every later name's requests are in 'other', none is lost.
    assert requests_of(doc) == {"other": 8, "GET /page-a": 2, "GET /page-b": 2}
    assert doc["totals"]["requests"] == target.total == 12
    assert doc["by_request"]["other"]["status_codes"] == {"404": 8}


def test_a_bound_below_two_is_refused(scenario_file, run_molotov, target):
    scenario_file(MIX)
    result = run_molotov("--max-request-names", "1", "-r", "1", "loadtest.py")
    assert result.returncode == 2
    assert "max_request_names" in result.stderr or "--max-request-names" in result.stderr
    assert "Traceback" not in result.stderr
    assert target.total == 0


def test_checks_are_counted_by_name_and_request(scenario_file, run_molotov, target, tmp_path):
    scenario_file(
        """
        @molotov.scenario()
        async def checked(session):
            ctx = molotov.get_context(session)
            async with session.get(URL + "/") as resp:
                assert molotov.check(resp.status == 200, "status is 200")
            async with session.get(URL + "/status/404") as resp:
                molotov.check(resp.status == 200, "status is 200")
                molotov.check(ctx.step != 2, "not the second step", fatal=True)
        """
    )
    result = run_molotov("-w", "1", "-r", "3", "--report", "r.json", "loadtest.py")
    # The fatal check fails its step (one of three); the others never fail one.
    assert closing(result.stdout) == (2, 1)
    doc = read_report(tmp_path)
    checks = doc["checks"]
    assert checks["items"] == [
        {"name": "not the second step", "request": "GET /status/{id}", "passes": 2, "failures": 1},
        {"name": "status is 200", "request": "GET /", "passes": 3, "failures": 0},
        {"name": "status is 200", "request": "GET /status/{id}", "passes": 0, "failures": 3},
    ]
    assert (checks["passed"], checks["failed"], checks["dropped"]) == (5, 4, 0)
    assert checks["rate"] == pytest.approx(5 / 9, abs=1e-6)
    [error] = doc["errors"]
    assert error["message"] == "CheckFailed: check 'not the second step' failed"
    assert (error["scenario"], error["count"]) == ("checked", 1)


def test_a_check_counts_under_its_worker_s_last_request(
    scenario_file, run_molotov, target, tmp_path
):
    """The last request is the worker's: one sent from a task the scenario started (a gather)
    counts, and two workers interleaving their steps never take each other's."""
    scenario_file(
        """
        import asyncio

        async def fetch(session, path):
            async with session.get(URL + path) as resp:
                await resp.read()

        @molotov.scenario()
        async def gathered(session):
            ctx = molotov.get_context(session)
            await fetch(session, "/")
            await asyncio.gather(fetch(session, f"/page-{ctx.worker_id}"))
            await asyncio.sleep(0.01)  # the other worker sends its requests meanwhile
            molotov.check(True, "after the gather")
        """
    )
    result = run_molotov("-w", "2", "-r", "2", "--report", "r.json", "loadtest.py")
    assert closing(result.stdout) == (4, 0)
    items = read_report(tmp_path)["checks"]["items"]
    assert items == [
        {"name": "after the gather", "request": f"GET /page-{w}", "passes": 2, "failures": 0}
        for w in (0, 1)
    ]


def test_errors_say_which_scenario_and_request(scenario_file, run_molotov, target, tmp_path):
    scenario_file(
        """
        @molotov.scenario()
        async def login(session):
            async with session.get(URL + "/status/401") as resp:
                resp.raise_for_status()

        @molotov.scenario()
        async def dead(session):
            with molotov.named("the dead one"):
                async with session.get("http://127.0.0.1:1/") as resp:
                    await resp.read()
        """
    )
    # Each of the 3 workers runs each scenario once: a random pick of -r 3 made every step
    # the dead one in one run of 64, and the run then exits 1 (nothing answered at all).
    result = run_molotov("-w", "3", "--single-run", "--report", "r.json", "loadtest.py")
    # Failed steps, as in Molotov 2.x, are no failure of the run without -x or --fail.
    assert result.returncode == 0, (result.stdout, result.stderr)
    doc = read_report(tmp_path)
    where = {(e["scenario"], e["request"], e["message"]): e["count"] for e in doc["errors"]}
    answered = ("login", "GET /status/{id}", "answered 401 Unauthorized")
    refused = ("dead", "the dead one", "127.0.0.1:1")
    assert where == {answered: 3, refused: 3}, where
    summary = result.stdout.splitlines()
    assert "  login: GET /status/{id} answered 401 Unauthorized: " + str(where[answered]) in summary
    assert (
        "  dead: the dead one: connection refused (127.0.0.1:1): " + str(where[refused])
    ) in summary
    refused_row = doc["by_request"]["the dead one"]
    assert refused_row["request_errors"]["connection refused"] == refused_row["requests"]


def test_moloreport_merges_request_names_exactly(scenario_file, run_molotov, target, tmp_path):
    scenario_file(MIX)
    for name in ("a.json", "b.json"):
        result = run_molotov("-w", "2", "-r", "2", "--report", name, "loadtest.py")
        assert result.returncode == 0, (result.stdout, result.stderr)
    merged = moloreport("a.json", "b.json", "--report", "m.json", cwd=tmp_path)
    assert merged.returncode == 0, (merged.stdout, merged.stderr)
    parts = [read_report(tmp_path, n) for n in ("a.json", "b.json")]
    doc = read_report(tmp_path, "m.json")
    for name, row in doc["by_request"].items():
        assert row["requests"] == sum(p["by_request"][name]["requests"] for p in parts)
        buckets: dict[int, int] = {}
        for part in parts:
            for index, count in part["by_request"][name]["latency"]["buckets"]:
                buckets[index] = buckets.get(index, 0) + count
        assert dict(map(tuple, row["latency"]["buckets"])) == buckets
    assert json.dumps(doc["status_codes"]) == json.dumps({"200": 24, "503": 8})


def test_a_busy_name_joins_the_series_while_there_is_room():
    """A name read first as one of the busiest still gets its per-second series."""
    watch = NameWatch(series_names=2, top_names=1)
    busy = Snapshot(taken_at=0.0, scenarios=(), by_request=(RequestStats("GET /a", requests=5),))
    watch.observe(busy)
    assert watch.top("GET /a") and watch.wants("GET /a")
    assert watch.series == {"GET /a"}
    assert watch.wants("GET /b") and not watch.wants("GET /c")  # room for two
    assert watch.series == {"GET /a", "GET /b"}
