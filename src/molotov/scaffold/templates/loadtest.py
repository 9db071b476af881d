"""A molotov load test, written by molostart: edit it to test your service.

Run it once with ``molotov --config molotov.json smoke``, then under load with
``molotov --config molotov.json load`` (the two tests are in molotov.json), or with your
own options: ``molotov loadtest.py -w 20 -d 1m``. ``molotov --help`` lists them all.

Set TARGET_URL to test another host: ``TARGET_URL=https://staging.example.com molotov ...``.
Every function decorated with @scenario is a step that molotov runs again and again: an
exception (a failed assert, a connection error) makes that step a failure.
"""

import os
from argparse import Namespace
from typing import Any

from aiohttp import ClientSession
from molotov import events, scenario, setup

# The service under test: the environment variable TARGET_URL wins.
TARGET_URL = os.environ.get("TARGET_URL", "http://localhost:8080")


@setup()
async def init_worker(worker_id: int, args: Namespace) -> dict[str, Any]:
    """Runs once per worker before its first step; ``args`` holds the run's options.

    What it returns is given to the worker's aiohttp ClientSession: default headers (say,
    a token from the environment, never written in the file), cookies, timeouts...
    """
    headers = {"X-Load-Test": "molotov"}
    token = os.environ.get("API_TOKEN")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return {"headers": headers}


# weight: how often each scenario is picked, relative to the others (here 9 times in 10).
@scenario(weight=90)
async def home_page(session: ClientSession) -> None:
    """GET the home page: the session is an aiohttp ClientSession."""
    async with session.get(f"{TARGET_URL}/") as resp:
        # An HTTP error is not a failure unless the scenario checks for it: check.
        assert resp.status == 200, f"home page answered {resp.status}"
        await resp.text()


# delay: seconds to sleep after each success of this scenario, as a user reading a page.
@scenario(weight=10, delay=1.0)
async def home_page_with_query(session: ClientSession) -> None:
    """The same page with a query string; ``session.post(url, json={...})`` sends JSON."""
    async with session.get(f"{TARGET_URL}/", params={"from": "molotov"}) as resp:
        assert resp.status < 400, f"home page with a query answered {resp.status}"


@events()
async def report_server_errors(event: str, **info: Any) -> None:
    """Called on every event of a worker (scenario_start, response_received, ...).

    This one prints each 5xx response. Request events cost a little on every request:
    delete the hook when you do not need it.
    """
    if event == "response_received" and info["response"].status >= 500:
        request, response = info["request"], info["response"]
        print(f"server error: {request.method} {request.url} -> {response.status}")
