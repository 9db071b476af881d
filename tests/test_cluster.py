"""A Kubernetes Indexed Job, simulated here: N copies of the container's entrypoint.

Each copy is ``moloslave`` in its own process group with its own ``JOB_COMPLETION_INDEX``, all
given the same ``MOLOTOV_START_AT`` and ``MOLOTOV_STATSD_ADDRESS`` (as the manifest does), one
target server and one UDP StatsD listener. Their reports, collected from the last line of
their stdout as ``kubectl logs`` would, merge into exactly what the server saw.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from dulwich import porcelain

from support import molotov_env, statsd_listener, total

PODS = 3
START_DELAY = 8.0  # seconds from launch to --start-at: every pod must be waiting by then
SCENARIO = """
import os

from molotov import scenario

URL = os.environ["TARGET_URL"]
POD = os.environ["JOB_COMPLETION_INDEX"]


@scenario()
async def hit(session):
    async with session.get(URL + "/", headers={"X-Pod": POD}) as resp:
        assert resp.status == 200
"""
CONFIG = {
    "molotov": {
        "tests": {
            "cluster": {
                "scenario": "loadtest.py",
                "processes": 1,
                "workers": 2,
                "duration": 2,
                "delay": 0.01,
                "console": True,
                "statsd": True,
                "statsd_prefix": "lt.{index}",
                "statsd_interval": 0.5,
                "report": "-",
            }
        }
    }
}


class Arrivals:
    """A target that notes when each request arrived and from which pod."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, str]] = []
        self.url = ""

    def app(self) -> web.Application:
        async def hit(request: web.Request) -> web.Response:
            self.seen.append((time.time(), request.headers.get("X-Pod", "?")))
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_get("/", hit)
        return app


@pytest.fixture
def arrivals() -> Iterator[Arrivals]:
    target = Arrivals()
    ready = threading.Event()
    stop: list[asyncio.Event] = []
    loops: list[asyncio.AbstractEventLoop] = []

    async def serve() -> None:
        runner = web.AppRunner(target.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        target.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        stop.append(asyncio.Event())
        loops.append(asyncio.get_running_loop())
        ready.set()
        await stop[0].wait()
        await runner.cleanup()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    yield target
    loops[0].call_soon_threadsafe(stop[0].set)
    thread.join(10)


def _repository(path: Path) -> Path:
    path.mkdir()
    (path / "loadtest.py").write_text(textwrap.dedent(SCENARIO))
    (path / "molotov.json").write_text(json.dumps(CONFIG, indent=2))
    repo = porcelain.init(str(path))
    porcelain.add(repo, [str(path / "loadtest.py"), str(path / "molotov.json")])
    porcelain.commit(repo, message=b"the load test", author=b"t <t@t>", committer=b"t <t@t>")
    return path


def _moloslave() -> str:
    found = shutil.which("moloslave", path=os.path.dirname(sys.executable))
    assert found, "the moloslave console script is not installed next to this Python"
    return found


def test_an_indexed_job_of_three_pods(arrivals, tmp_path):
    repo = _repository(tmp_path / "repo")
    start_at = time.time() + START_DELAY
    pods = []
    with statsd_listener() as statsd:
        try:
            for index in range(PODS):
                env = molotov_env(
                    arrivals.url,
                    TEST_REPO=str(repo),
                    TEST_NAME="cluster",
                    JOB_COMPLETION_INDEX=str(index),
                    MOLOTOV_START_AT=f"{start_at:.3f}",
                    MOLOTOV_STATSD_ADDRESS=statsd.address,
                )
                pods.append(
                    subprocess.Popen(
                        [_moloslave()],
                        env=env,
                        cwd=tmp_path,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        text=True,
                        start_new_session=True,  # a process group of its own, as a pod would be
                    )
                )
            outputs = [pod.communicate(timeout=90) for pod in pods]
        finally:
            for pod in pods:
                if pod.poll() is None:
                    pod.kill()
        lines = statsd.lines()

    reports = []
    for index, (pod, (stdout, stderr)) in enumerate(zip(pods, outputs, strict=True)):
        assert pod.returncode == 0, (index, stdout, stderr)
        assert "Waiting" in stdout, stdout  # every pod was early and waited for the start
        last = stdout.rstrip("\n").splitlines()[-1]
        path = tmp_path / f"report-{index}.json"
        path.write_text(last)
        reports.append(json.loads(last))
        assert stdout.splitlines()[-2] == "*** Bye ***"

    # The merged report is exactly what the server saw.
    served = len(arrivals.seen)
    assert served > 0
    merged_path = tmp_path / "merged.json"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from molotov.reports.moloreport import main; main()",
            *[str(tmp_path / f"report-{i}.json") for i in range(PODS)],
            "--report",
            str(merged_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    merged = json.loads(merged_path.read_text())
    assert merged["merged_from"] == PODS
    assert merged["totals"]["requests"] == served
    assert merged["successes"] == served
    assert merged["failures"] == 0
    assert f"SUCCESSES: {served} | FAILURES: 0" in done.stdout

    # Each pod's report is what the server saw of that pod.
    by_pod = {str(i): 0 for i in range(PODS)}
    first: dict[str, float] = {}
    for when, pod in arrivals.seen:
        by_pod[pod] += 1
        first[pod] = min(first.get(pod, when), when)
    for index, report in enumerate(reports):
        assert report["totals"]["requests"] == by_pod[str(index)]

    # They started together: first requests within 100 ms of each other, at the start time.
    assert sorted(first) == [str(i) for i in range(PODS)]
    assert max(first.values()) - min(first.values()) < 0.1, first
    assert min(first.values()) >= start_at

    # StatsD totals match, pod by pod, under each pod's {index} prefix.
    for index in range(PODS):
        assert total(lines, f"lt.{index}.requests") == by_pod[str(index)]
        assert total(lines, f"lt.{index}.scenario.hit.success") == by_pod[str(index)]
