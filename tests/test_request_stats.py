"""Request-level statistics of the real ``molotov`` command against the live local target.

Every request a worker's session makes is counted: requests, responses by status class, body
bytes received, a latency histogram, and transport errors by kind, whether or not the step
that made the request failed. The summary shows them; its counts must equal what the target
served.
"""

from __future__ import annotations

import json
import re
import textwrap

import pytest

from support import closing, summary_table

HEADER = textwrap.dedent(
    """\
    import os

    import aiohttp
    import molotov

    URL = os.environ["TARGET_URL"]

    """
)


@pytest.fixture
def scenario_file(write_scenario):
    def write(body: str) -> None:
        write_scenario(HEADER + textwrap.dedent(body))

    return write


def line_starting(stdout: str, prefix: str) -> str:
    found = [line for line in stdout.splitlines() if line.startswith(prefix)]
    assert len(found) == 1, (prefix, stdout)
    return found[0]


def requests_count(stdout: str) -> int:
    found = re.search(r" \| Requests: (\d+) \(", line_starting(stdout, "Duration: "))
    assert found, stdout
    return int(found[1])


def responses_part(stdout: str) -> str:
    """``2xx=10 4xx=10`` from ``Responses: ... | Request errors: ... | Received: ...``."""
    line = line_starting(stdout, "Responses: ")
    return line.split(" | ")[0].removeprefix("Responses: ")


def request_errors_part(stdout: str) -> str:
    line = line_starting(stdout, "Responses: ")
    return line.split(" | ")[1].removeprefix("Request errors: ")


def latency_ms(stdout: str) -> list[float]:
    """p50, p95, p99 and max of the request latency in the summary's times table, in ms."""
    row = summary_table(stdout, "Times (ms)")["request latency"]
    return [float(row[column]) for column in ("p50", "p95", "p99", "max")]


def error_lines(stdout: str) -> list[str]:
    """The lines of the ``Errors:`` block of the summary."""
    lines = stdout.splitlines()
    if "Errors:" not in lines:
        return []
    block = []
    for line in lines[lines.index("Errors:") + 1 :]:
        if not line.startswith("  "):
            break
        block.append(line.strip())
    return block


THREE_REQUESTS = """
@molotov.scenario()
async def three(session):
    for path in ("/", "/status/404", "/status/503"):
        async with session.get(URL + path) as resp:
            await resp.read()
"""


def test_requests_statuses_bytes_and_latency(scenario_file, run_molotov, target, tmp_path):
    scenario_file(THREE_REQUESTS)
    result = run_molotov("-w", "2", "-r", "5", "--report", "report.json", "loadtest.py")
    assert result.returncode == 0, result.stderr
    assert closing(result.stdout) == (10, 0)

    assert target.total == 30
    assert requests_count(result.stdout) == target.total
    assert responses_part(result.stdout) == "2xx=10 4xx=10 5xx=10"
    assert request_errors_part(result.stdout) == "none"
    # Body bytes: "ok" (2) + "status" (6) + "status" (6) per step.
    received = re.search(r"\| Received: (\d+)B \|", line_starting(result.stdout, "Responses: "))
    assert received, result.stdout
    assert int(received[1]) == 10 * (2 + 6 + 6)

    p50, p95, p99, top = latency_ms(result.stdout)
    assert 0 < p50 <= p95 <= p99 <= top
    assert error_lines(result.stdout) == []

    # The report has the same numbers, exactly.
    doc = json.loads((tmp_path / "report.json").read_text())
    totals = doc["totals"]
    assert totals["requests"] == 30
    assert totals["response_bytes"] == 140
    assert totals["request_errors"] == 0
    statuses = {"1xx": 0, "2xx": 10, "3xx": 0, "4xx": 10, "5xx": 10, "other": 0}
    assert doc["status_classes"] == statuses
    latency = doc["request_latency"]
    assert latency["count"] == 30
    assert latency["p50_ms"] <= latency["p95_ms"] <= latency["p99_ms"] <= latency["max_ms"]
    assert latency["max_ms"] == pytest.approx(latency["max_us"] / 1000, abs=0.001)


def test_requests_of_several_processes_add_up(scenario_file, run_molotov, target):
    scenario_file(THREE_REQUESTS)
    result = run_molotov("-p", "2", "-w", "2", "-r", "3", "loadtest.py")
    assert result.returncode == 0, result.stderr
    assert closing(result.stdout) == (12, 0)
    assert target.total == 36
    assert requests_count(result.stdout) == 36
    assert responses_part(result.stdout) == "2xx=12 4xx=12 5xx=12"


def test_request_latency_runs_until_the_response_headers(scenario_file, run_molotov, target):
    scenario_file(
        """
        @molotov.scenario()
        async def slow(session):
            async with session.get(URL + "/slow?s=0.3") as resp:
                assert resp.status == 200
                await resp.read()
        """
    )
    result = run_molotov("-w", "2", "-r", "1", "loadtest.py")
    assert result.returncode == 0, result.stderr
    assert closing(result.stdout) == (2, 0)
    # The server waits 0.3 s before it answers: every latency is at least that.
    p50, _, _, top = latency_ms(result.stdout)
    assert p50 >= 300
    assert top >= p50


def test_connection_errors_are_counted_by_kind(scenario_file, run_molotov, target):
    scenario_file(
        """
        @molotov.scenario()
        async def refused(session):
            async with session.get("http://127.0.0.1:1/") as resp:
                await resp.read()


        @molotov.scenario()
        async def timed_out(session):
            timeout = aiohttp.ClientTimeout(total=0.2)
            async with session.get(URL + "/slow?s=2", timeout=timeout) as resp:
                await resp.read()


        @molotov.scenario()
        async def fine(session):
            async with session.get(URL + "/") as resp:
                await resp.read()
        """
    )
    # Every worker runs each scenario once: 3 of each.
    result = run_molotov("--single-run", "-w", "3", "loadtest.py")
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert closing(result.stdout) == (3, 6)
    assert target.hits["/"] == 3
    assert target.hits["/slow"] == 3

    # A request that got no response is a request, an error and no status.
    assert requests_count(result.stdout) == 9
    assert responses_part(result.stdout) == "2xx=3"
    assert request_errors_part(result.stdout) == "connection refused=3 timeout=3"

    # Errors: one line per kind and message, with the count.
    errors = error_lines(result.stdout)
    assert len(errors) == 2, result.stdout
    # Each says where: the scenario, and the request that raised it.
    assert "refused: GET /: connection refused (127.0.0.1:1): 3" in errors
    timeouts = [line for line in errors if line.startswith("timed_out: GET /slow: timeout (")]
    assert len(timeouts) == 1, errors
    # The message names the target, not a line inside aiohttp.
    port = target.url.rsplit(":", 1)[1]
    assert timeouts[0].startswith(f"timed_out: GET /slow: timeout (127.0.0.1:{port}, "), timeouts
    assert ".py:" not in timeouts[0]
    assert timeouts[0].endswith("): 3")
    steps = summary_table(result.stdout, "Steps")
    assert [steps[name]["fail%"] for name in ("refused", "timed_out", "fine")] == [
        "100.0%", "100.0%", "0.0%"
    ]  # fmt: skip


def test_refused_requests_of_a_dead_target_are_one_line(scenario_file, run_molotov, target):
    scenario_file(
        """
        @molotov.scenario()
        async def refused(session):
            async with session.get("http://127.0.0.1:1/") as resp:
                await resp.read()
        """
    )
    result = run_molotov("-w", "2", "-r", "4", "loadtest.py")
    # Nothing but connection errors: the target could not be reached.
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "cannot connect to 127.0.0.1:1" in result.stderr
    assert closing(result.stdout) == (0, 8)
    assert error_lines(result.stdout) == ["refused: GET /: connection refused (127.0.0.1:1): 8"]
    counted = [line for line in result.stdout.splitlines() if re.search(r"\): \d+$", line)]
    assert counted == ["  refused: GET /: connection refused (127.0.0.1:1): 8"]
    assert request_errors_part(result.stdout) == "connection refused=8"
    assert responses_part(result.stdout) == "none"
    assert requests_count(result.stdout) == 8
    assert set(summary_table(result.stdout, "Times (ms)")["request latency"].values()) == {"-"}
    assert target.total == 0


def test_an_error_the_scenario_catches_is_still_a_request_error(scenario_file, run_molotov, target):
    scenario_file(
        """
        @molotov.scenario()
        async def resilient(session):
            try:
                async with session.get("http://127.0.0.1:1/") as resp:
                    await resp.read()
            except aiohttp.ClientConnectionError:
                pass  # the scenario copes: the step succeeds
            async with session.get(URL + "/") as resp:
                await resp.read()
        """
    )
    result = run_molotov("-w", "2", "-r", "3", "loadtest.py")
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert closing(result.stdout) == (6, 0)
    assert target.total == 6
    assert requests_count(result.stdout) == 12
    assert responses_part(result.stdout) == "2xx=6"
    assert request_errors_part(result.stdout) == "connection refused=6"
    # The steps succeeded: no step error is listed.
    assert error_lines(result.stdout) == []
