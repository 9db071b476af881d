"""Hostile servers: broken HTTP, odd statuses, stale connections, black holes, endless bodies.

Every request is counted, as the server saw it, and no run hangs or crashes.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from hostile import ANSWERS, Hostile, hostile_server
from molotov.reports import jsonload
from support import closing
from support import read_report as report


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    with hostile_server() as server:
        yield server


GET_PATH = """
@molotov.scenario()
async def get_path(session):
    async with session.get(URL + os.environ.get("HOSTILE_PATH", "/")) as resp:
        await resp.read()
"""

BROKEN = sorted(path for path in ANSWERS if path != "/status-999")


@pytest.mark.parametrize("path", BROKEN)
def test_invalid_http_is_a_counted_protocol_error(
    scenario_file, run_molotov, hostile, tmp_path, path
):
    scenario_file(GET_PATH)
    result = run_molotov(
        "-w", "1", "-r", "3", "--report", "r.json", "loadtest.py",
        TARGET_URL=hostile.url, HOSTILE_PATH=path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert closing(result.stdout) == (0, 3)
    doc = report(tmp_path)
    # What the server got, the tool counted: each one a request and a protocol error.
    assert hostile.hits[path] == 3
    assert doc["totals"]["requests"] == 3
    assert doc["request_errors"]["protocol error"] == 3
    assert doc["totals"]["request_errors"] == 3
    assert "protocol error=3" in result.stdout
    assert [e["kind"] for e in doc["errors"]] == ["protocol"]
    # The report reads back (a body that broke after its headers is a response and an error).
    assert jsonload.load(tmp_path / "r.json").snapshot.requests == 3


def test_random_garbage_is_one_error_row_with_an_escaped_sample(
    scenario_file, run_molotov, hostile, tmp_path
):
    """Each answer's status line is different random bytes: one row, by kind, not one per
    answer, and a bounded, escaped sample of the first one."""
    scenario_file(GET_PATH)
    result = run_molotov(
        "-w", "1", "-r", "5", "--report", "r.json", "loadtest.py",
        TARGET_URL=hostile.url, HOSTILE_PATH="/random-status",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert hostile.hits["/random-status"] == 5
    doc = report(tmp_path)
    [error] = doc["errors"]
    assert (error["kind"], error["count"]) == ("protocol", 5)
    host, _, invalid = error["message"].partition(", ")
    assert host == hostile.url.removeprefix("http://") and invalid.isidentifier(), error
    lines = result.stdout.splitlines()
    row = lines.index(f"  get_path: GET /random-status: protocol error ({error['message']}): 5")
    sample = lines[row + 1]
    assert sample.startswith("    received: ") and len(sample) <= 4 + 140, sample
    assert sample.isprintable() and sample.isascii(), sample


def test_a_status_outside_100_599_is_counted(scenario_file, run_molotov, hostile, tmp_path):
    scenario_file(GET_PATH)
    result = run_molotov(
        "-w", "1", "-r", "4", "--report", "r.json", "--threshold", "status_other<1",
        "loadtest.py", TARGET_URL=hostile.url, HOSTILE_PATH="/status-999",
    )  # fmt: skip
    doc = report(tmp_path)
    assert doc["status_classes"]["other"] == 4 == hostile.hits["/status-999"]
    assert "other=4" in result.stdout
    assert sum(row["status_classes"]["other"] for row in doc["series"]) == 4
    # Not an HTTP success either: counted as an HTTP failure, and the gate fails. (The server
    # closes each connection after its answer: the attempts aiohttp sends again on the closed
    # kept-alive one count too, as retried resets.)
    assert doc["totals"]["requests"] == 4 + doc["totals"]["retried"]
    assert result.returncode == 99
    assert "threshold(s) failed: status_other<1" in result.stderr


def test_a_request_aiohttp_retries_counts_each_attempt(
    scenario_file, run_molotov, hostile, tmp_path
):
    """The server reads each request and closes without an answer: aiohttp sends a GET again
    at once. Both attempts reached the server, both count, and the retries are said."""
    scenario_file(GET_PATH)
    result = run_molotov(
        "-w", "1", "-r", "5", "--report", "r.json", "loadtest.py",
        TARGET_URL=hostile.url, HOSTILE_PATH="/reset",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr  # failed steps: no failure of the run
    doc = report(tmp_path)
    assert hostile.hits["/reset"] == 10
    assert doc["totals"]["requests"] == 10
    assert doc["totals"]["retried"] == 5
    assert doc["request_errors"]["connection reset"] == 10
    assert doc["by_request"]["GET /reset"]["requests"] == 10
    assert "Request errors: connection reset=10 (5 retried)" in result.stdout


def test_a_request_aiohttp_retries_on_a_stale_connection_counts_every_attempt(
    scenario_file, run_molotov, hostile, tmp_path
):
    scenario_file(
        """
        @molotov.scenario()
        async def stale(session):
            async with session.get(URL + "/stale") as resp:
                await resp.read()
            # The server closes the kept-alive connection meanwhile: the next request meets
            # a closed socket, and aiohttp sends it again on a new connection.
            await asyncio.sleep(0.15)
        """
    )
    result = run_molotov(
        "-w", "1", "-r", "8", "--report", "r.json", "loadtest.py", TARGET_URL=hostile.url
    )
    assert result.returncode == 0, result.stderr
    doc = report(tmp_path)
    assert closing(result.stdout) == (8, 0)
    assert hostile.hits["/stale"] == 8
    # Each attempt on a connection the server had closed is a request, a reset, a retry.
    retried = doc["totals"]["retried"]
    assert doc["totals"]["requests"] == 8 + retried
    assert doc["totals"]["request_errors"] == doc["request_errors"]["connection reset"] == retried


def test_http_failures_the_scenarios_do_not_check_can_gate_a_run(
    scenario_file, run_molotov, target, tmp_path
):
    scenario_file(
        """
        @molotov.scenario()
        async def unchecked(session):
            step = molotov.get_context(session).step
            async with session.get(URL + ("/status/500" if step % 4 == 0 else "/")) as resp:
                await resp.read()
        """
    )
    result = run_molotov(
        "-w", "1", "-r", "20", "--report", "r.json", "--threshold", "failure_rate<1%",
        "--threshold", "http_failure_rate<1%", "--threshold", "status_5xx<1",
        "--threshold", "status_4xx<1", "loadtest.py",
    )  # fmt: skip
    assert closing(result.stdout) == (20, 0)
    assert result.returncode == 99
    assert "threshold(s) failed: http_failure_rate<1%, status_5xx<1" in result.stderr
    assert "HTTP failures: 25.00%" in result.stdout
    assert "4xx/5xx responses" not in result.stdout  # no hint: a threshold is there
    assert report(tmp_path)["status_classes"]["5xx"] == 5


@contextmanager
def black_hole() -> Iterator[int]:
    """A port whose listener's accept queue is full: new connection attempts get no answer."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        time.sleep(0.2)
        yield port
    finally:
        for sock in [*fillers, listener]:
            sock.close()


def test_connect_timeouts_mean_an_unreachable_target(scenario_file, run_molotov, tmp_path):
    with black_hole() as port:
        scenario_file(
            """
            @molotov.setup()
            async def setup(worker_id, args):
                return {"timeout": aiohttp.ClientTimeout(sock_connect=0.3)}


            @molotov.scenario()
            async def blackholed(session):
                async with session.get(URL + "/") as resp:
                    await resp.read()
            """
        )
        result = run_molotov(
            "-w", "2", "-r", "2", "--report", "r.json", "loadtest.py",
            TARGET_URL=f"http://127.0.0.1:{port}",
        )  # fmt: skip
    assert result.returncode == 1, result.stdout
    assert f"cannot connect to 127.0.0.1:{port}" in result.stderr
    doc = report(tmp_path)
    assert doc["totals"]["connection_failures"] == 4
    assert doc["request_errors"]["connection error"] == 4


@pytest.mark.parametrize(
    "bound",
    [("-d", "1", "--graceful-stop", "0.3"), ("-r", "1", "--step-timeout", "0.5")],
    ids=["cut-by-the-stop", "cut-by-step-timeout"],
)
def test_connects_cut_short_mean_an_unreachable_target(scenario_file, run_molotov, tmp_path, bound):
    """No connect timeout of the session's: the stop, or --step-timeout, cuts the connects
    that never got an answer; they are connection errors all the same, and the run says the
    target was unreachable (exit 1), as with a refused port."""
    with black_hole() as port:
        scenario_file(
            """
            @molotov.scenario()
            async def blackholed(session):
                async with session.get(URL + "/") as resp:
                    await resp.read()
            """
        )
        result = run_molotov(
            "-w", "2", *bound, "--report", "r.json", "loadtest.py",
            TARGET_URL=f"http://127.0.0.1:{port}",
        )  # fmt: skip
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert f"cannot connect to 127.0.0.1:{port}" in result.stderr
    doc = report(tmp_path)
    assert doc["totals"]["steps"] == doc["totals"]["failures"] == 2
    assert doc["totals"]["connection_failures"] == 2
    assert doc["request_errors"]["connection error"] == doc["totals"]["requests"] == 2
    assert doc["request_errors"]["timeout"] == 0


def test_an_endless_body_is_cut_after_the_graceful_stop(
    scenario_file, run_molotov, hostile, tmp_path
):
    scenario_file(
        """
        @molotov.scenario()
        async def endless(session):
            async with session.get(URL + "/endless") as resp:
                await resp.read()
        """
    )
    started = time.monotonic()
    result = run_molotov(
        "-w", "2", "-d", "1", "--graceful-stop", "0.5", "--report", "r.json", "loadtest.py",
        TARGET_URL=hostile.url,
    )  # fmt: skip
    assert time.monotonic() - started < 20
    assert result.returncode == 0, result.stderr
    assert "Steps still running 0.5s after the stop (--graceful-stop): cancelling them" in (
        result.stdout
    )
    doc = report(tmp_path)
    assert doc["stop_reason"] == "duration"
    assert doc["totals"]["requests"] == hostile.hits["/endless"] == 2
