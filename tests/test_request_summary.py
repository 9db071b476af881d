"""The summary's per-request tables, from the real ``molotov`` command against the live target.

The requests table's counts must be what the target served on each path; every line of the
tables fits 80 columns (a long name wraps); the status codes and the checks add up; names past
``--max-request-names`` are said to be in ``other``.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from molotov.reports.requesttables import OTHER_NOTE, REQUESTS_TITLE, TOP_REQUESTS

LONG_NAME = "search the catalogue for every product of the season"

# 10 steps of 10 requests: 4 names of distinct counts, one explicit and long; two checks.
FOUR_NAMES = textwrap.dedent(
    f"""\
    import os

    import molotov

    URL = os.environ["TARGET_URL"]


    async def get(session, path):
        async with session.get(URL + path) as resp:
            await resp.read()
            return resp.status


    @molotov.scenario()
    async def browse(session):
        for _ in range(4):
            await get(session, "/")
        with molotov.named({LONG_NAME!r}):
            for _ in range(3):
                await get(session, "/status/404")
        for _ in range(2):
            molotov.check(await get(session, "/data") == 200, "data is there")
        molotov.check(await get(session, "/status/503") == 200, "service is up")
    """
)
NAMES_BY_PATH = {
    "/": "GET /",
    "/status/404": LONG_NAME,
    "/data": "GET /data",
    "/status/503": "GET /status/{id}",
}


def block(stdout: str, title: str) -> list[str]:
    """The lines of the table titled ``title``, up to the blank line that ends it."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title + " "))
    end = lines.index("", start)
    return lines[start:end]


def requests_table(stdout: str) -> dict[str, dict[str, str]]:
    """``{name: {column: cell}}`` of the requests table; a wrapped name is joined back."""
    title, *rows = block(stdout, REQUESTS_TITLE)
    columns = title.split()[len(REQUESTS_TITLE.split()) :]
    table: dict[str, dict[str, str]] = {}
    name = ""
    for line in rows:
        if line.startswith("    "):  # a long name's continuation
            cells = table.pop(name)
            name = f"{name} {line.strip()}"
            table[name] = cells
        elif not line.startswith("  ...") and line != OTHER_NOTE:
            parts = line.split()
            name = " ".join(parts[: -len(columns)])
            table[name] = dict(zip(columns, parts[-len(columns) :], strict=True))
    return table


def status_table(stdout: str) -> dict[str, tuple[int, str]]:
    """``{code: (count, share)}`` of the status codes table."""
    return {
        line.split()[0]: (int(line.split()[1]), line.split()[2])
        for line in block(stdout, "Status codes")[1:]
    }


def checks_table(stdout: str) -> dict[tuple[str, str], list[str]]:
    """``{(request, check): [passes, fails, pass%]}`` of the checks table."""
    request = ""
    checks = {}
    for line in block(stdout, "Checks")[1:]:
        if line.startswith("    "):
            *name, passes, fails, rate = line.split()
            checks[(request, " ".join(name))] = [passes, fails, rate]
        else:
            request = line.strip()
    return checks


def test_the_requests_table_counts_what_the_target_served(
    run_molotov, write_scenario, target, tmp_path
):
    write_scenario(FOUR_NAMES)
    result = run_molotov("-w", "2", "-r", "5", "--report", "r.json", "loadtest.py", COLUMNS="80")
    assert result.returncode == 0, result.stderr
    assert target.total == 100
    table = requests_table(result.stdout)
    # Busiest first, and each count is what the target served on the path.
    assert list(table) == ["GET /", LONG_NAME, "GET /data", "GET /status/{id}"], result.stdout
    for path, name in NAMES_BY_PATH.items():
        assert int(table[name]["count"]) == target.hits[path], (name, result.stdout)
    assert [row["fail%"] for row in table.values()] == ["0.0%", "100.0%", "0.0%", "100.0%"]
    for row in table.values():
        times = [float(row[column]) for column in ("p50", "p95", "p99", "max")]
        assert 0 < times[0] <= times[1] <= times[2] <= times[3], row
    # Every line of the tables fits 80 columns: the long name wrapped.
    tables = result.stdout[result.stdout.index(REQUESTS_TITLE) :].splitlines()[:-3]
    assert max(len(line) for line in tables) <= 80, result.stdout
    assert not any(LONG_NAME in line for line in tables)
    assert OTHER_NOTE not in result.stdout
    # The report has the same counts and rates (over the same duration; rounded to 0.1 here).
    doc = json.loads((tmp_path / "r.json").read_text())
    assert {name: str(r["requests"]) for name, r in doc["by_request"].items()} == {
        name: row["count"] for name, row in table.items()
    }
    for name, row in table.items():
        rate = doc["by_request"][name]["requests_per_s"]
        assert float(row["/s"]) == pytest.approx(rate, abs=0.051), name


def test_status_codes_and_checks(run_molotov, write_scenario, target):
    write_scenario(FOUR_NAMES)
    result = run_molotov("-w", "2", "-r", "5", "loadtest.py", COLUMNS="80")
    assert result.returncode == 0, result.stderr
    assert status_table(result.stdout) == {
        "200": (target.hits["/"] + target.hits["/data"], "60.0%"),
        "404": (target.hits["/status/404"], "30.0%"),
        "503": (target.hits["/status/503"], "10.0%"),
    }
    assert "Checks: 66.7% passed (20 of 30)" in result.lines
    # Each check under the request it followed, the busiest request first.
    assert checks_table(result.stdout) == {
        ("GET /data", "data is there"): ["20", "0", "100.0%"],
        ("GET /status/{id}", "service is up"): ["0", "10", "0.0%"],
    }


def test_names_past_the_bound_are_said_to_be_in_other(run_molotov, write_scenario, target):
    write_scenario(FOUR_NAMES)
    result = run_molotov(
        "-w", "2", "-r", "5", "--max-request-names", "3", "loadtest.py", COLUMNS="80"
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    table = requests_table(result.stdout)
    # Room for two names and "other": the first two names seen, then the rest together.
    assert set(table) == {"GET /", LONG_NAME, "other"}, result.stdout
    assert int(table["other"]["count"]) == target.hits["/data"] + target.hits["/status/503"]
    assert result.lines.count(OTHER_NOTE) == 1, result.stdout


def test_only_the_busiest_names_are_listed(run_molotov, write_scenario, target):
    write_scenario(
        """
        import os

        import molotov

        URL = os.environ["TARGET_URL"]


        @molotov.scenario()
        async def many(session):
            for i in range(18):
                with molotov.named(f"page {i:02}"):
                    async with session.get(URL + "/") as resp:
                        await resp.read()
        """
    )
    result = run_molotov("-w", "1", "-r", "1", "loadtest.py", COLUMNS="80")
    assert result.returncode == 0, result.stderr
    assert target.hits["/"] == 18
    assert list(requests_table(result.stdout)) == [f"page {i:02}" for i in range(TOP_REQUESTS)]
    more = 18 - TOP_REQUESTS
    assert f"  ... {more} more request names in the report (--report, --html)" in result.lines
