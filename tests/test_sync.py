"""molotov.request / json_request: one blocking request, against the real target server."""

from __future__ import annotations

import asyncio
import json
import threading

import aiohttp
import pytest

import molotov


def test_request_returns_content_status_headers(target):
    result = molotov.request(target.url + "/")
    assert set(result) == {"content", "status", "headers"}
    assert result["content"] == "ok"
    assert isinstance(result["content"], str)
    assert result["status"] == 200
    assert result["headers"]["Content-Type"].startswith("text/plain")
    # Headers are case-insensitive, as aiohttp's are.
    assert result["headers"]["content-type"] == result["headers"]["Content-Type"]
    assert target.hits["/"] == 1
    assert target.total == 1


def test_request_keeps_json_as_text(target):
    result = molotov.request(target.url + "/data")
    assert result["status"] == 200
    assert isinstance(result["content"], str)
    assert '"items"' in result["content"]


def test_json_request_parses_json(target):
    result = molotov.json_request(target.url + "/data")
    assert result["content"] == {"items": [1, 2, 3]}
    assert result["status"] == 200
    assert result["headers"]["Content-Type"].startswith("application/json")
    assert target.hits["/data"] == 1


@pytest.mark.parametrize("verb", ["POST", "post"])
def test_post_with_a_json_body(target, verb):
    body = {"name": "molotov", "n": [1, 2], "nested": {"ok": True}}
    result = molotov.json_request(target.url + "/echo", verb=verb, json=body)
    assert result["status"] == 200
    assert result["content"] == {"got": body, "method": "POST"}
    assert target.hits["/echo"] == 1


def test_request_post_returns_the_echo_as_text(target):
    result = molotov.request(target.url + "/echo", verb="POST", json={"a": 1})
    assert result["status"] == 200
    assert isinstance(result["content"], str)
    assert '"method": "POST"' in result["content"]


@pytest.mark.parametrize("code", [201, 204, 301, 404, 418, 500, 503])
def test_other_status_codes_are_returned_not_raised(target, code):
    result = molotov.request(target.url + f"/status/{code}", allow_redirects=False)
    assert result["status"] == code
    assert target.hits[f"/status/{code}"] == 1


def test_error_status_comes_with_its_body(target):
    # The body of /status/{code} is plain text; the status still comes back.
    result = molotov.request(target.url + "/status/404")
    assert result == {"content": "status", "status": 404, "headers": result["headers"]}


def test_session_options_reach_the_session(target):
    result = molotov.json_request("/data", session_options={"base_url": target.url})
    assert result["content"] == {"items": [1, 2, 3]}
    assert target.hits["/data"] == 1


def test_works_inside_a_running_event_loop(target):
    async def fixture_like():
        # A coroutine calling the blocking helpers, as an async setup might.
        assert asyncio.get_running_loop().is_running()
        first = molotov.json_request(target.url + "/data")
        second = molotov.request(target.url + "/")
        return first, second

    first, second = asyncio.run(fixture_like())
    assert first["content"] == {"items": [1, 2, 3]}
    assert second["content"] == "ok"
    assert target.hits["/data"] == 1
    assert target.hits["/"] == 1


def test_works_from_several_threads(target):
    results: list[dict] = []
    lock = threading.Lock()

    def call(i):
        result = molotov.json_request(target.url + "/echo", verb="POST", json={"i": i})
        with lock:
            results.append(result["content"])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(r["got"]["i"] for r in results) == [0, 1, 2, 3]
    assert target.hits["/echo"] == 4


def test_connection_errors_propagate():
    # Port 1 on 127.0.0.1: nothing listens there, the connection is refused.
    with pytest.raises(aiohttp.ClientConnectionError):
        molotov.request("http://127.0.0.1:1/")


def test_invalid_json_raises(target):
    with pytest.raises(json.JSONDecodeError):
        molotov.json_request(target.url + "/")
