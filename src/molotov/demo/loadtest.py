"""The demo's scenarios: a Molotov scenario file like the ones you will write.

``molotov --demo`` runs it against the built-in target; point it anywhere else with
``TARGET_URL=http://host:port molotov path/to/loadtest.py``.
"""

import os

from aiohttp import ClientSession

from molotov import scenario

TARGET = os.environ.get("TARGET_URL", "http://127.0.0.1:8080")


@scenario(weight=40)
async def home_page(session: ClientSession) -> None:
    async with session.get(TARGET + "/") as resp:
        assert resp.status == 200, resp.status


@scenario(weight=30)
async def list_items(session: ClientSession) -> None:
    async with session.get(TARGET + "/api/items") as resp:
        assert resp.status == 200, resp.status
        items = await resp.json()
        assert len(items) == 10


@scenario(weight=10)
async def create_item(session: ClientSession) -> None:
    async with session.post(TARGET + "/api/items", json={"name": "new"}) as resp:
        assert resp.status == 201, resp.status


@scenario(weight=10)
async def slow_page(session: ClientSession) -> None:
    async with session.get(TARGET + "/slow") as resp:
        assert resp.status == 200, resp.status


@scenario(weight=10)
async def flaky_page(session: ClientSession) -> None:
    # One answer in twenty is a 503: a failure, as any exception a scenario raises.
    async with session.get(TARGET + "/flaky") as resp:
        assert resp.status == 200, f"flaky page answered {resp.status}"
