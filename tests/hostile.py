"""A hostile HTTP server for tests: raw sockets on 127.0.0.1 answering with broken HTTP.

It reads each request's head and answers by its path (``GET /PATH``), counting what it got:

* ``/garbage-status``: ``HTTP/1.1 OK-ish`` as a status line;
* ``/garbage``: bytes that are not HTTP at all;
* ``/random-status``: a status line of random bytes, different each time;
* ``/reset``: the request read, then the connection closed without an answer;
* ``/bad-length``, ``/negative-length``, ``/double-length``: ``Content-Length: abc``,
  ``-5``, or two different ones;
* ``/broken-chunk``: a chunked body whose chunk size is not hexadecimal;
* ``/short-body``: a 200 whose body ends 8 bytes before its ``Content-Length`` (the headers
  arrived: a response, then a broken body);
* ``/huge-header``: a 200 KB header line;
* ``/status-999``: a well-formed response with status 999;
* ``/stale``: a normal keep-alive response, after which the server closes the connection
  without saying so (the next request on it meets a closed socket; aiohttp retries it);
* ``/endless``: a 200 whose chunked body never ends (a chunk every 10 ms);
* anything else: a plain ``200 OK``.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field

from threaded import serving

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
ANSWERS = {
    "/garbage-status": b"HTTP/1.1 OK-ish\r\nContent-Length: 2\r\n\r\nok",
    "/garbage": b"\x00\xff\xfe not http at all \x01\x02\r\n\r\n",
    "/bad-length": b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nok",
    "/negative-length": b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nok",
    "/double-length": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 7\r\n\r\nok",
    "/broken-chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n",
    "/short-body": b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok",
    "/huge-header": b"HTTP/1.1 200 OK\r\nX-Huge: "
    + b"a" * 200_000
    + b"\r\nContent-Length: 2\r\n\r\nok",
    "/status-999": b"HTTP/1.1 999 Whatever\r\nContent-Length: 2\r\n\r\nok",
}


@dataclass
class Hostile:
    url: str = ""
    hits: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.hits.values())


async def _handle(server: Hostile, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode().split("?")[0]
            server.hits[path] += 1
            if path == "/reset":
                break  # the request was read: no answer, the connection closed
            if path == "/random-status":
                # A different garbage status line each time (never a line break).
                noise = bytes(b for b in os.urandom(24) if b not in b"\r\n")
                writer.write(b"HTTP/1.1 " + noise + b"\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
                break
            if path == "/endless":
                writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                while True:
                    writer.write(b"400\r\n" + b"x" * 1024 + b"\r\n")
                    await writer.drain()
                    await asyncio.sleep(0.01)
            writer.write(ANSWERS.get(path, OK))
            await writer.drain()
            if path == "/stale":
                # Give the client time to put the connection back in its pool, then close.
                await asyncio.sleep(0.05)
                break
            if path in ANSWERS:
                break
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


@contextmanager
def hostile_server() -> Iterator[Hostile]:
    server = Hostile()

    @asynccontextmanager
    async def listening() -> AsyncIterator[None]:
        listener = await asyncio.start_server(
            lambda r, w: _handle(server, r, w), "127.0.0.1", 0, limit=1 << 20
        )
        server.url = f"http://127.0.0.1:{listener.sockets[0].getsockname()[1]}"
        async with listener:
            yield

    with serving(listening, "the hostile server"):
        yield server
