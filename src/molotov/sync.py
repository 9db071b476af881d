"""Synchronous HTTP helpers for fixtures that run outside the workers' event loops.

``request`` and ``json_request`` run one request on a private event loop in a helper thread,
so they work from ``global_setup`` and even from code already inside a running loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any

import aiohttp


async def _fetch(
    endpoint: str,
    verb: str,
    session_options: dict[str, Any] | None,
    parse_json: bool,
    options: dict[str, Any],
) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession(**(session_options or {})) as session,
        session.request(verb.upper(), endpoint, **options) as response,
    ):
        content = await (response.json(content_type=None) if parse_json else response.text())
        return {"content": content, "status": response.status, "headers": response.headers}


def _run(coro: Any) -> dict[str, Any]:
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        result: dict[str, Any] = pool.submit(asyncio.run, coro).result()
        return result


def request(
    endpoint: str, verb: str = "GET", session_options: dict[str, Any] | None = None, **options: Any
) -> dict[str, Any]:
    """Send one request and wait for it: ``{"content": text, "status": int, "headers": ...}``.

    ``options`` go to ``ClientSession.request`` (``json=``, ``data=``, ``headers=``, ...).
    """
    return _run(_fetch(endpoint, verb, session_options, False, options))


def json_request(
    endpoint: str, verb: str = "GET", session_options: dict[str, Any] | None = None, **options: Any
) -> dict[str, Any]:
    """Like :func:`request`, with ``content`` parsed from JSON."""
    return _run(_fetch(endpoint, verb, session_options, True, options))
