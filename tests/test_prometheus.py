"""Prometheus remote write (``--prometheus-rw``), with real parts.

A real Prometheus (Debian's, started by the ``prometheus`` fixture with its remote-write
receiver on) takes what the real ``molotov`` command sends during a run against the suite's
target; its query API must then hold the JSON report's totals. A Prometheus that is down,
answers 500 or hangs is a closed port or a tiny aiohttp server on 127.0.0.1: the run must not
notice beyond one line said once and a tally at the end.
"""

from __future__ import annotations

import base64
import json
import math
import re
import socket
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cramjam
import pytest
from aiohttp import web

from agents import agents, coordinator, target
from molotov.live.promseries import BOUNDS, REQUEST_LABELS
from molotov.stats.histogram import bucket_of
from promserver import Prometheus
from support import Result, Target, molotov_env, run_command
from threaded import serving

SCENARIOS = """
import os

import molotov

URL = os.environ["TARGET_URL"]
REFUSED = os.environ["REFUSED_URL"]


@molotov.scenario(weight=3)
async def pages(session):
    for path in ("/", "/status/404", "/items/7", "/items/8"):
        async with session.get(URL + path) as resp:
            await resp.read()


@molotov.scenario(weight=1)
async def broken(session):
    async with session.get(URL + "/status/500") as resp:
        assert resp.status == 200, "server error"


@molotov.scenario(weight=1)
async def refused(session):
    async with session.get(REFUSED) as resp:
        await resp.read()


@molotov.scenario(weight=1)
async def many(session):
    for i in range(25):
        with molotov.named(f"n{i:02}"):
            async with session.get(URL + "/") as resp:
                await resp.read()
"""

SIMPLE = """
import os

import molotov

URL = os.environ["TARGET_URL"]


@molotov.scenario()
async def hit(session):
    async with session.get(URL + "/") as resp:
        await resp.read()
"""

INSTALL = "pip install 'molotov[prometheus]'"


@contextmanager
def closed_port() -> Iterator[int]:
    """A port of 127.0.0.1 bound but not listening (connections are refused), held so that
    nothing else takes it meanwhile."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def molotov(tmp_path: Path, target: Target, *args: str, **env: str) -> Result:
    argv = [sys.executable, "-m", "molotov", "-c", *args]
    return run_command(argv, tmp_path, molotov_env(target.url, **env), 60)


def run_id(stdout: str) -> str:
    found = re.search(r"^Prometheus remote write to \S+ every \S+ \(run_id=(\w+)\)$", stdout, re.M)
    assert found, stdout
    return found[1]


def failure_lines(stdout: str) -> list[str]:
    return [
        line
        for line in stdout.splitlines()
        if re.match(r"Prometheus remote write to .* failed", line)
    ]


def tally(stdout: str) -> str:
    lines = [line for line in stdout.splitlines() if line.startswith("Prometheus remote write: ")]
    assert len(lines) == 1, stdout
    return lines[0]


def cumulative(buckets: list[list[int]]) -> dict[str, float]:
    """A report's histogram (``[[index, count], ...]``) on the remote-write bounds: the fine
    buckets below each bound's edge (its ``le`` is a fine bucket's bottom), summed."""
    result = {}
    for le in BOUNDS:
        edge = bucket_of(round(float(le) * 1e6))
        result[le] = float(sum(count for index, count in buckets if index < edge))
    result["+Inf"] = float(sum(count for _, count in buckets))
    return result


def test_prometheus_holds_the_reports_totals(
    prometheus: Prometheus, target: Target, tmp_path: Path
) -> None:
    """Requests by status and name, errors by kind, steps by scenario, the latency and step
    histograms (each coarse bucket a sum of the report's fine ones): what Prometheus holds
    after the run equals the report; the request names past the first 20 are ``other``."""
    (tmp_path / "loadtest.py").write_text(SCENARIOS)
    with closed_port() as port:
        done = molotov(
            tmp_path,
            target,
            *("-w", "2", "-d", "2", "--report", "r.json"),
            *("--prometheus-rw", prometheus.write_url, "--prometheus-rw-interval", "0.3s"),
            "loadtest.py",
            REFUSED_URL=f"http://127.0.0.1:{port}/",
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert failure_lines(done.stdout) == []
    doc = json.loads((tmp_path / "r.json").read_text())
    run = f'{{run_id="{run_id(done.stdout)}"}}'
    query = prometheus

    totals = doc["totals"]
    assert totals["requests"] == target.total + totals["request_errors"]
    assert totals["request_errors"] > 0
    assert query.one(f"sum(molotov_requests_total{run})") == totals["requests"]
    statuses = {code: float(n) for code, n in doc["status_codes"].items()}
    statuses["error"] = totals["request_errors"]
    assert query.by(f"sum by (status) (molotov_requests_total{run})", "status") == statuses
    by_class = query.by(f"sum by (class) (molotov_requests_total{run})", "class")
    assert by_class == {
        **{k: float(v) for k, v in doc["status_classes"].items() if v},
        "error": totals["request_errors"],
    }
    assert query.by(f"sum by (kind) (molotov_request_errors_total{run})", "kind") == {
        "refused": totals["request_errors"]
    }

    steps = {
        (labels["scenario"], labels["result"]): value
        for labels, value in query.query(f"molotov_steps_total{run}")
    }
    assert steps == {
        (name, result): float(stats[field])
        for name, stats in doc["scenarios"].items()
        for result, field in (("success", "successes"), ("failure", "failures"))
    }
    durations = query.by(f"molotov_step_duration_seconds_count{run}", "scenario")
    assert durations == {
        name: float(s["durations"]["count"]) for name, s in doc["scenarios"].items()
    }

    # The latency histogram: one per request label, summed here; requests that got no answer
    # have no latency.
    latency = doc["request_latency"]
    assert query.one(f"sum(molotov_request_latency_seconds_count{run})") == latency["count"]
    assert latency["count"] == totals["requests"] - totals["request_errors"]
    buckets = query.by(f"sum by (le) (molotov_request_latency_seconds_bucket{run})", "le")
    assert buckets == cumulative(latency["buckets"])
    total_s = query.one(f"sum(molotov_request_latency_seconds_sum{run})")
    assert total_s == pytest.approx(latency["sum_us"] / 1e6, rel=1e-9)
    # The README's p95: within the coarse bucket that holds the 95th percentile's rank.
    counts = list(cumulative(latency["buckets"]).values())  # by bound, +Inf last
    first = next(i for i, n in enumerate(counts) if n >= 0.95 * latency["count"])
    edges = [0.0, *map(float, BOUNDS), math.inf]
    selected = f"molotov_request_latency_seconds_bucket{run}"
    p95 = query.one(f"histogram_quantile(0.95, sum by (le) ({selected}))")
    assert edges[first] <= p95 <= edges[first + 1]
    p95 = query.one(f"histogram_quantile(0.95, sum by (le) (rate({selected}[1m])))")
    assert 0 < p95 <= float(BOUNDS[-1])
    assert query.one(f"sum(rate(molotov_requests_total{run}[1m]))") > 0

    # The first 20 names keep their label (the busiest when they came at once), the rest
    # are "other": the sums stay exact.
    names = query.by(f"sum by (request) (molotov_requests_total{run})", "request")
    assert len(names) == REQUEST_LABELS + 1 and "other" in names, names
    by_request = {name: float(stats["requests"]) for name, stats in doc["by_request"].items()}
    assert len(by_request) == 28
    assert {n: v for n, v in names.items() if n != "other"} == {
        n: by_request[n] for n in names if n != "other"
    }
    assert names["other"] == sum(v for n, v in by_request.items() if n not in names)

    # Sent every 0.3 s during the run, not only at the end.
    assert query.one(f"count_over_time(molotov_workers{run}[10m])") >= 3
    assert query.by(f"molotov_workers{run}", "index") == {"0": 0.0}


def test_the_open_model_sends_response_times_drops_and_its_target(
    prometheus: Prometheus, target: Target, tmp_path: Path
) -> None:
    (tmp_path / "loadtest.py").write_text(SIMPLE)
    done = molotov(
        tmp_path,
        target,
        *("--rate", "40", "-d", "1.5", "--report", "r.json"),
        *("--prometheus-rw", prometheus.write_url, "--prometheus-rw-interval", "0.3s"),
        "loadtest.py",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads((tmp_path / "r.json").read_text())
    run = f'{{run_id="{run_id(done.stdout)}"}}'
    times = doc["scenarios"]["hit"]["response_times"]
    assert prometheus.by(f"molotov_response_time_seconds_count{run}", "scenario") == {
        "hit": float(times["count"])
    }
    assert times["count"] == doc["totals"]["steps"] > 0
    le = prometheus.by(f"molotov_response_time_seconds_bucket{run}", "le")
    assert le == cumulative(times["buckets"])
    assert prometheus.one(f"molotov_dropped_arrivals_total{run}") == doc["totals"]["dropped"]
    # What the rate asks for, sent while the run went on.
    assert prometheus.one(f"molotov_target_arrivals_per_second{run}") == 40.0


@dataclass
class FakePrometheus:
    """An endpoint that counts POSTs and answers 500, or never answers (``hang``)."""

    url: str = ""
    hang: bool = False
    posts: int = 0
    headers: list[dict[str, str]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)


@contextmanager
def fake_prometheus(hang: bool = False) -> Iterator[FakePrometheus]:
    fake = FakePrometheus(hang=hang)

    async def write(request: web.Request) -> web.Response:
        fake.posts += 1
        fake.headers.append(dict(request.headers))
        fake.bodies.append(await request.read())
        if fake.hang:
            await asyncio_sleep_forever()
        return web.Response(status=500, text="out of order")

    @asynccontextmanager
    async def listening() -> AsyncIterator[None]:
        app = web.Application()
        app.router.add_post("/api/v1/write", write)
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        fake.url = f"http://127.0.0.1:{runner.addresses[0][1]}/api/v1/write"
        try:
            yield
        finally:
            await runner.cleanup()

    with serving(listening, "the fake Prometheus"):
        yield fake


async def asyncio_sleep_forever() -> None:
    import asyncio

    await asyncio.sleep(3600)


def test_a_prometheus_that_is_down_costs_the_run_nothing(target: Target, tmp_path: Path) -> None:
    (tmp_path / "loadtest.py").write_text(SIMPLE)
    with closed_port() as port:
        url = f"http://127.0.0.1:{port}/api/v1/write"
        done = molotov(
            tmp_path,
            target,
            *("-d", "1", "--report", "r.json", "--prometheus-rw", url),
            *("--prometheus-rw-interval", "0.2s", "loadtest.py"),
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert failure_lines(done.stdout) == [
        f"Prometheus remote write to {url} failed: connection refused; the run goes on "
        "(the next sends try again, failures are counted)"
    ]
    found = re.fullmatch(
        r"Prometheus remote write: 0 sent, (\d+) failed \(first failure: connection refused\)",
        tally(done.stdout),
    )
    assert found and int(found[1]) >= 2, done.stdout
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["totals"]["requests"] == target.total > 0


def test_a_prometheus_answering_500_is_counted_and_said_once(
    target: Target, tmp_path: Path
) -> None:
    """Every POST reached the endpoint with remote write's headers and a snappy body; each
    failed one is counted, the first said once. The options come from MOLOTOV_* variables;
    the URL's credentials are sent as basic auth, and never shown."""
    (tmp_path / "loadtest.py").write_text(SIMPLE)
    with fake_prometheus() as fake:
        done = molotov(
            tmp_path,
            target,
            *("-d", "1", "--report", "r.json", "loadtest.py"),
            MOLOTOV_PROMETHEUS_RW=fake.url.replace("://", "://load:s3cret@"),
            MOLOTOV_PROMETHEUS_RW_INTERVAL="0.2s",
        )
        posts = fake.posts
    assert "s3cret" not in done.stdout + done.stderr
    assert f"Prometheus remote write to {fake.url} every 0.2s" in done.stdout
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(failure_lines(done.stdout)) == 1, done.stdout
    assert "failed: HTTP 500 Internal Server Error;" in failure_lines(done.stdout)[0]
    assert tally(done.stdout) == (
        f"Prometheus remote write: 0 sent, {posts} failed "
        "(first failure: HTTP 500 Internal Server Error)"
    )
    assert posts >= 3
    for headers, body in zip(fake.headers, fake.bodies, strict=True):
        assert headers["Content-Encoding"] == "snappy"
        assert headers["Content-Type"] == "application/x-protobuf"
        assert headers["X-Prometheus-Remote-Write-Version"] == "0.1.0"
        assert headers["User-Agent"].startswith("molotov/")
        assert headers["Authorization"] == "Basic " + base64.b64encode(b"load:s3cret").decode()
        assert b"molotov_requests_total" in bytes(cramjam.snappy.decompress_raw(body))
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["totals"]["requests"] == target.total > 0


def test_a_prometheus_that_hangs_is_dropped_and_the_end_waits_a_bounded_time(
    target: Target, tmp_path: Path
) -> None:
    """The first POST never gets an answer: later snapshots queue up, the oldest dropped
    past the queue's bound; the end gives up after its flush timeout, and says so."""
    (tmp_path / "loadtest.py").write_text(SIMPLE)
    with fake_prometheus(hang=True) as fake:
        done = molotov(
            tmp_path,
            target,
            *("-d", "1.5", "--report", "r.json", "--prometheus-rw", fake.url),
            *("--prometheus-rw-interval", "0.1s", "loadtest.py"),
        )
        posts = fake.posts
    assert done.returncode == 0, done.stdout + done.stderr
    assert posts >= 1
    # (A POST times out after 5 s: one may have by the end, on a slow machine.)
    found = re.match(
        r"Prometheus remote write: 0 sent, \d+ failed, (\d+) dropped \(queue full\), "
        r"(\d+) not sent within 3s at the end",
        tally(done.stdout),
    )
    assert found, done.stdout
    assert int(found[1]) >= 1 and int(found[2]) >= 1
    assert json.loads((tmp_path / "r.json").read_text())["totals"]["requests"] == target.total


def test_without_the_extra_one_line_names_the_pip_command(target: Target, tmp_path: Path) -> None:
    """cramjam shadowed by a module that fails to import, as a missing package does."""
    (tmp_path / "loadtest.py").write_text(SIMPLE)
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "cramjam.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'cramjam'\", name='cramjam')\n"
    )
    done = molotov(
        tmp_path,
        target,
        *("-d", "1", "--prometheus-rw", "http://127.0.0.1:9/api/v1/write", "loadtest.py"),
        PYTHONPATH=str(shadow),
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"--prometheus-rw needs the prometheus extra (cramjam is missing): {INSTALL}"
    ]
    assert target.total == 0


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("localhost:9090/api/v1/write", "the scheme must be http:// or https://"),
        ("http:///api/v1/write", "no host"),
        ("http://localhost:x/api/v1/write", "Port could not be cast to integer value"),
    ],
)
def test_a_bad_url_is_a_usage_error(target: Target, tmp_path: Path, url: str, why: str) -> None:
    (tmp_path / "loadtest.py").write_text(SIMPLE)
    done = molotov(tmp_path, target, "--prometheus-rw", url, "loadtest.py")
    assert done.returncode == 2
    assert why in done.stderr and "Traceback" not in done.stderr
    assert target.total == 0


def test_a_cluster_run_sends_from_the_coordinator_only(
    prometheus: Prometheus, tmp_path: Path
) -> None:
    """Two agents, one coordinator: the merged numbers go to Prometheus under the
    coordinator's run id alone (agents never send), equal to the merged report."""
    scenario = tmp_path / "loadtest.py"
    scenario.write_text(
        textwrap.dedent(
            """\
            import os

            from molotov import scenario

            URL = os.environ["TARGET_URL"]


            @scenario()
            async def hit(session):
                async with session.get(URL) as resp:
                    assert resp.status == 200
            """
        )
    )
    before = set(prometheus.by("group by (run_id) (molotov_workers)", "run_id"))
    with target() as hits, agents(2, scenario, target=hits.url) as fleet:
        run = coordinator(
            scenario,
            [a.url for a in fleet],
            *("-w", "2", "-d", "1.5", "--report", "r.json"),
            *("--prometheus-rw", prometheus.write_url, "--prometheus-rw-interval", "0.3s"),
            target=hits.url,
        )
        assert run.wait(60) == 0, run.text
        assert [a.proc.wait(20) for a in fleet] == [0, 0]
    sent = run_id("\n".join(run.out))
    after = set(prometheus.by("group by (run_id) (molotov_workers)", "run_id"))
    assert after - before == {sent}
    doc = json.loads((tmp_path / "r.json").read_text())
    selector = f'{{run_id="{sent}"}}'
    assert prometheus.one(f"sum(molotov_requests_total{selector})") == len(hits.stamps)
    assert doc["totals"]["requests"] == len(hits.stamps) > 0
    assert prometheus.by(f"molotov_steps_total{selector}", "result") == {
        "success": float(doc["successes"]),
        "failure": 0.0,
    }
    assert prometheus.one(f"count_over_time(molotov_workers{selector}[10m])") >= 2


def test_an_agent_refuses_the_option(tmp_path: Path) -> None:
    """The coordinator sends the cluster's numbers: an agent given --prometheus-rw says so."""
    (tmp_path / "loadtest.py").write_text(SIMPLE)
    argv = [sys.executable, "-m", "molotov", "--agent", "--listen", "127.0.0.2:0"]
    argv += ["--prometheus-rw", "http://127.0.0.1:9/api/v1/write", "loadtest.py"]
    env = molotov_env("http://127.0.0.1:9", MOLOTOV_AGENT_TOKEN="test-token-0123456789")
    done = run_command(argv, tmp_path, env, 30)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "--prometheus-rw is the coordinator's: it sends the cluster's numbers (give it to the "
        "molotov --agents or --pods command, not to an agent)"
    ]
