"""The floor: the bare aiohttp loop that any aiohttp-based load generator costs at least.

One ``aiohttp.ClientSession`` with aiohttp's defaults (its pool of 100 connections is never
exhausted by the default 100 coroutines), W coroutines each looping
``async with session.get(url) as resp: await resp.read()`` and nothing else: no stats, no
scenario choice, no clock. Runs on uvloop unless ``--no-uvloop``, until killed (SIGTERM or
SIGINT), for ``--duration`` seconds, or for ``--max-runs`` requests per coroutine; prints the
number of requests it made on stderr when it stops (the benchmark reads the target's count,
not this one)::

    python benchmarks/floor.py http://127.0.0.1:PORT/ [-w 100] [-d SECONDS] [-r N] [--no-uvloop]

Variants, to measure what a session option costs or saves on its own (``bench.py --variants``):

* ``--session-per-worker``: molotov's layout, one session per coroutine, each with a
  ``TCPConnector(limit=0)``;
* ``--no-timeout``: ``ClientTimeout(total=None, sock_connect=30)``: no total timeout, so no
  timer armed and cancelled per request (aiohttp's default is ``total=300, sock_connect=30``);
* ``--dummy-cookie-jar``: ``aiohttp.DummyCookieJar()`` (no cookie filtering per request);
* ``--trace-config``: a ``TraceConfig`` whose ``on_request_start``/``on_request_end`` hooks
  read the clock, the obvious way to record every request;
* ``--middleware``: a client middleware (aiohttp >= 3.12) that reads the clock around the
  handler and counts the response, the least a middleware can do to record every request;
* ``--response-class``: the same recording from a ``ClientResponse`` subclass whose ``start``
  (awaited until the response headers arrive) counts the response, the clock read by a
  ``ClientRequest`` subclass as it sends the request.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from types import SimpleNamespace
from typing import Any

import aiohttp


def session_options(options: argparse.Namespace) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if options.session_per_worker:
        kwargs["connector"] = aiohttp.TCPConnector(limit=0)
    if options.no_timeout:
        kwargs["timeout"] = aiohttp.ClientTimeout(total=None, sock_connect=30)
    if options.dummy_cookie_jar:
        kwargs["cookie_jar"] = aiohttp.DummyCookieJar()
    if options.trace_config:
        trace = aiohttp.TraceConfig()
        durations: list[int] = []

        async def on_start(session: Any, ctx: SimpleNamespace, params: Any) -> None:
            ctx.started = time.perf_counter_ns()

        async def on_end(session: Any, ctx: SimpleNamespace, params: Any) -> None:
            durations.append(time.perf_counter_ns() - ctx.started)
            if len(durations) > 10_000:
                durations.clear()

        trace.on_request_start.append(on_start)
        trace.on_request_end.append(on_end)
        kwargs["trace_configs"] = [trace]
    if options.middleware:
        kwargs["middlewares"] = (_middleware(),)
    if options.response_class:
        kwargs["request_class"], kwargs["response_class"] = _recording_classes()
    return kwargs


class _Totals:
    requests = 0
    latency_ns = 0


def _middleware() -> Any:
    clock = time.perf_counter_ns

    async def middleware(request: aiohttp.ClientRequest, handler: Any) -> aiohttp.ClientResponse:
        started = clock()
        response = await handler(request)
        _Totals.requests += 1
        _Totals.latency_ns += clock() - started
        return response

    return middleware


def _recording_classes() -> tuple[type[aiohttp.ClientRequest], type[aiohttp.ClientResponse]]:
    clock = time.perf_counter_ns

    class Request(aiohttp.ClientRequest):
        async def send(self, conn: Any) -> aiohttp.ClientResponse:
            started = clock()
            response = await super().send(conn)
            response.started_ns = started  # type: ignore[attr-defined]
            return response

    class Response(aiohttp.ClientResponse):
        started_ns = 0

        async def start(self, connection: Any) -> aiohttp.ClientResponse:
            response = await super().start(connection)
            _Totals.requests += 1
            _Totals.latency_ns += clock() - self.started_ns
            return response

    return Request, Response


async def run(options: argparse.Namespace) -> int:
    url, max_runs = options.url, options.max_runs
    done = 0
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal done
        runs = 0
        while not stop.is_set() and (max_runs is None or runs < max_runs):
            async with session.get(url) as resp:
                await resp.read()
            runs += 1
            done += 1

    count = 1 if not options.session_per_worker else options.workers
    sessions = [aiohttp.ClientSession(**session_options(options)) for _ in range(count)]
    try:
        tasks = [asyncio.create_task(worker(sessions[i % count])) for i in range(options.workers)]
        everything = asyncio.gather(*tasks)
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait(
            {everything, stopped}, timeout=options.duration, return_when=asyncio.FIRST_COMPLETED
        )
        stop.set()
        await everything
        await stopped
    finally:
        for session in sessions:
            await session.close()
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("url")
    parser.add_argument("-w", "--workers", type=int, default=100, help="concurrent coroutines")
    parser.add_argument("-d", "--duration", type=float, default=None, help="seconds (unlimited)")
    parser.add_argument("-r", "--max-runs", type=int, default=None, help="requests per coroutine")
    parser.add_argument("--no-uvloop", action="store_true", help="plain asyncio event loop")
    parser.add_argument("--session-per-worker", action="store_true")
    parser.add_argument("--no-timeout", action="store_true")
    parser.add_argument("--dummy-cookie-jar", action="store_true")
    parser.add_argument("--trace-config", action="store_true")
    parser.add_argument("--middleware", action="store_true")
    parser.add_argument("--response-class", action="store_true")
    options = parser.parse_args()
    if options.no_uvloop:
        done = asyncio.run(run(options))
    else:
        import uvloop

        done = uvloop.run(run(options))
    sys.stderr.write(f"floor: {done} requests\n")
    if _Totals.requests:
        mean = _Totals.latency_ns / _Totals.requests / 1e6
        sys.stderr.write(f"floor: {_Totals.requests} recorded, mean latency {mean:.2f} ms\n")


if __name__ == "__main__":
    main()
