"""Cluster runs: what following agents costs the coordinator, and the start spread.

Run by ``nox -s bench_cluster`` (``-- --agents 100 --seconds 30 --repeat 5``; ``--quick`` for
a smoke run). Real agent processes (``molotov --agent``) on loopback addresses 127.0.0.2, ...
Two parts (issue 14's section 6):

* **polling**: N idle agents, polled once a second for ``--seconds`` with the coordinator's
  own code (:func:`molotov.cluster.follow.poll_all` and the live sum,
  :func:`molotov.cluster.merge.live_totals`) in this process: the CPU per poll (this process's
  CPU time / polls; a poll reads every agent) and the bytes per agent-second on the wire (what
  the agents wrote to their sockets, from ``/proc/PID/io``, headers included);
* **start spread**: ``--repeat`` runs of the real coordinator (``python -m molotov ...
  --agents``) on 4 fresh agents against a target on 127.0.0.1 that notes each request's
  arrival and sender: the spread of the agents' first requests there; and the bytes per
  agent-second of those busy agents (their snapshots, plus the final report).

Medians are reported. The issue's targets: under half a core for 100 agents at one poll a
second (so under 500 ms of CPU per poll), under 16 KB per agent-second, 20 ms on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import aiohttp
from aiohttp import web

from molotov.cluster.follow import AgentView, poll_all
from molotov.cluster.merge import live_totals
from molotov.cluster.transport import HttpTransport

TOKEN = "bench-token"
SCENARIO = """
import os
from molotov import scenario

URL = os.environ["TARGET_URL"]
AGENT = os.environ["AGENT"]


@scenario()
async def hit(session):
    async with session.get(URL, headers={"X-Agent": AGENT}) as resp:
        assert resp.status == 200
"""


def start_agents(
    count: int, scenario: Path, target: str = ""
) -> list[tuple[subprocess.Popen[str], str]]:
    """``count`` agents (a few at a time: each start imports molotov); (process, URL) each."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOLOTOV_")}
    env |= {"MOLOTOV_AGENT_TOKEN": TOKEN, "TARGET_URL": target}
    agents = []
    for index in range(count):
        address = f"127.0.{index // 250}.{index % 250 + 2}"
        argv = [sys.executable, "-m", "molotov", "--agent", "--listen", f"{address}:0"]
        argv += ["--agent-deadman", "120", str(scenario)]
        proc = subprocess.Popen(
            argv,
            env=env | {"AGENT": str(index)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        agents.append(proc)
    result = []
    for proc in agents:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        found = re.search(r"http://\S+", line)
        if not found:
            raise SystemExit(f"an agent did not start: {line!r}")
        result.append((proc, found[0]))
    return result


def stop(agents: list[tuple[subprocess.Popen[str], str]]) -> None:
    for proc, _ in agents:
        proc.kill()
    for proc, _ in agents:
        proc.wait()


class WireCount:
    """Bytes of the agents' answers as they come in: status line, headers and body."""

    def __init__(self) -> None:
        self.bytes = 0
        self.trace = aiohttp.TraceConfig()
        self.trace.on_request_end.append(self._ended)

    async def _ended(
        self, session: object, context: object, params: aiohttp.TraceRequestEndParams
    ) -> None:
        response = params.response
        headers = sum(len(k) + len(v) + 4 for k, v in response.raw_headers)
        self.bytes += len("HTTP/1.1 200 OK\r\n\r\n") + headers + (response.content_length or 0)


async def poll_cost(urls: list[str], seconds: float) -> tuple[float, int, int]:
    """Poll every agent once a second: (CPU seconds of this process, polls, bytes in)."""
    count = WireCount()
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0), trace_configs=[count.trace]
    ) as session:
        views = [AgentView(i, HttpTransport(url, TOKEN, session)) for i, url in enumerate(urls)]
        await poll_all(views)  # connections open, first answers in
        cpu, wire = time.process_time(), count.bytes
        polls = 0
        tick = time.monotonic()
        end = tick + seconds
        while time.monotonic() < end:
            await poll_all(views)
            live_totals(views)
            polls += 1
            tick += 1.0
            await asyncio.sleep(max(0.0, tick - time.monotonic()))
        cpu, wire = time.process_time() - cpu, count.bytes - wire
        assert all(view.snapshot is not None and not view.lost for view in views)
    return cpu, polls, wire


def polling(count: int, seconds: float, scenario: Path) -> None:
    started = time.monotonic()
    agents = start_agents(count, scenario)
    print(f"{count} idle agents up in {time.monotonic() - started:.1f}s")
    try:
        began = time.monotonic()
        cpu, polls, wire = asyncio.run(poll_cost([url for _, url in agents], seconds))
        took = time.monotonic() - began
    finally:
        stop(agents)
    print(
        f"polling {count} idle agents: {polls} polls in {took:.1f}s, CPU per poll "
        f"{cpu / polls * 1000:.1f} ms ({cpu / took * 100:.1f} % of a core); "
        f"{wire / polls / count:.0f} bytes per agent-second"
    )


def busy_snapshot(url: str) -> int:
    """The size of one snapshot of a busy agent (uncompressed: no Accept-Encoding)."""
    request = urllib.request.Request(url + "/v1/snapshot", headers={"X-Molotov-Token": TOKEN})
    with urllib.request.urlopen(request, timeout=5) as response:
        return len(response.read())


class Target:
    """An aiohttp target in a thread: (time.time(), X-Agent) of every request."""

    def __init__(self) -> None:
        self.stamps: list[tuple[float, str]] = []
        self.url = ""
        ready = threading.Event()

        async def ok(request: web.Request) -> web.Response:
            self.stamps.append((time.time(), request.headers.get("X-Agent", "")))
            return web.Response(text="ok")

        async def main() -> None:
            app = web.Application()
            app.router.add_get("/", ok)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            self.url = f"http://127.0.0.1:{runner.addresses[0][1]}/"
            ready.set()
            await asyncio.Event().wait()

        threading.Thread(target=asyncio.run, args=(main(),), daemon=True).start()
        ready.wait(10)


def spread(repeat: int, scenario: Path) -> None:
    target = Target()
    spreads: list[float] = []
    sizes: list[int] = []
    for _ in range(repeat):
        target.stamps.clear()
        agents = start_agents(4, scenario, target.url)
        try:
            env = {k: v for k, v in os.environ.items() if not k.startswith("MOLOTOV_")}
            env |= {"MOLOTOV_AGENT_TOKEN": TOKEN, "TARGET_URL": target.url, "AGENT": "-"}
            argv = [
                sys.executable,
                "-m",
                "molotov",
                str(scenario),
                "-q",
                "-d",
                "3",
                "--delay",
                "0.01",
            ]
            argv += ["--agents", ",".join(url for _, url in agents)]
            coordinator = subprocess.Popen(argv, env=env)
            time.sleep(4)  # the agents start ~1 s in (their start instant), run 3 s
            sizes.append(busy_snapshot(agents[0][1]))
            code = coordinator.wait(120)
        finally:
            stop(agents)
        if code:
            raise SystemExit(f"the coordinator exited {code}")
        firsts: dict[str, float] = {}
        for at, agent in target.stamps:
            firsts[agent] = min(at, firsts.get(agent, at))
        spreads.append((max(firsts.values()) - min(firsts.values())) * 1000)
        print(f"  start spread of 4 agents: {spreads[-1]:.1f} ms")
    print(
        f"start spread of 4 loopback agents: median {statistics.median(spreads):.1f} ms "
        f"(max {max(spreads):.1f}) over {repeat} runs; a busy agent's snapshot: "
        f"{statistics.median(sizes):.0f} bytes (one a second)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="10 agents, 5 s, 2 runs")
    args = parser.parse_args()
    if args.quick:
        args.agents, args.seconds, args.repeat = 10, 5, 2
    with tempfile.TemporaryDirectory() as folder:
        scenario = Path(folder) / "loadtest.py"
        scenario.write_text(SCENARIO)
        polling(args.agents, args.seconds, scenario)
        spread(args.repeat, scenario)


if __name__ == "__main__":
    main()
