"""The demo's target: a small aiohttp application on 127.0.0.1.

Run as ``python -m molotov.demo.server [--port N]``; it prints ``PORT <n>`` once listening
(port 0, the default, picks a free one) and serves until terminated.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import sys

from aiohttp import web


async def index(request: web.Request) -> web.Response:
    return web.Response(text="Hello from the molotov demo target\n")


async def items(request: web.Request) -> web.Response:
    return web.json_response([{"id": i, "name": f"item {i}"} for i in range(10)])


async def create_item(request: web.Request) -> web.Response:
    payload = await request.json()
    return web.json_response({"created": payload}, status=201)


async def slow(request: web.Request) -> web.Response:
    # A few milliseconds of "work", so latency percentiles have something to show.
    await asyncio.sleep(random.uniform(0.001, 0.02))
    return web.Response(text="done\n")


async def flaky(request: web.Request) -> web.Response:
    # Fails one time in twenty, so the demo shows how failures are reported.
    if random.random() < 0.05:
        return web.Response(status=503, text="try again\n")
    return web.Response(text="ok\n")


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_get("/api/items", items)
    app.router.add_post("/api/items", create_item)
    app.router.add_get("/slow", slow)
    app.router.add_get("/flaky", flaky)
    return app


async def serve(port: int) -> None:
    runner = web.AppRunner(make_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound = runner.addresses[0][1]
    print(f"PORT {bound}", flush=True)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        # `molotov --demo` starts it with SIGINT ignored: only the run decides when it stops.
        if signal.getsignal(sig) is not signal.SIG_IGN:
            loop.add_signal_handler(sig, stopped.set)
    await stopped.wait()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.port))


if __name__ == "__main__":
    main(sys.argv[1:])
