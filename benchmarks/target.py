"""The benchmark target: a minimal keep-alive HTTP/1.1 server that counts the requests it serves.

An ``asyncio.Protocol`` on uvloop answering every request with one canned ``200`` response
(a small body with ``Content-Length``), so that it costs a few microseconds per request and is
never what limits a load generator. It handles keep-alive (many requests one after the other on
a connection), not pipelining tricks nor request bodies: the benchmark clients only send GETs.

The benchmark never trusts a client's own count: it asks the target, on its control endpoints,
which are not counted:

* ``GET /__count``: the body is ``COUNT FIRST_NS``: requests served so far, and the
  ``time.monotonic_ns()`` at which the first request after the last ``/__arm`` arrived (0 if
  none has yet); CLOCK_MONOTONIC is the same clock in every process of the machine;
* ``GET /__arm``: forget the first-request time (the next counted request sets it);
* ``GET /__stall?s=SECONDS``: from now on for that long, hold every counted response back
  (the server has stalled: a GC pause, a lock, a failover), then send them all.

Run it as a subprocess: it prints ``PORT`` on a line of its own once it listens, and runs until
it gets SIGTERM or SIGINT::

    python benchmarks/target.py [--host 127.0.0.1] [--port 0] [--no-uvloop]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time

BODY = b"Hello, World!\n"
RESPONSE = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: text/plain\r\n"
    b"Content-Length: " + str(len(BODY)).encode() + b"\r\n"
    b"\r\n" + BODY
)
CONTROL_PREFIX = b"GET /__"


class Stats:
    count = 0
    first_ns = 0
    stalled_until = 0.0  # loop time until which responses are held back


def _control_response(head: bytes) -> bytes:
    path, _, query = head.split(b" ", 2)[1].partition(b"?")
    if path == b"/__stall":
        seconds = float(query.partition(b"=")[2] or b"1")
        Stats.stalled_until = asyncio.get_running_loop().time() + seconds
        body = b"stalled"
    elif path == b"/__arm":
        Stats.first_ns = 0
        body = b"armed"
    elif path == b"/__count":
        body = f"{Stats.count} {Stats.first_ns}".encode()
    else:
        return b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


class CountingProtocol(asyncio.Protocol):
    __slots__ = ("_buffer", "_transport")

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        out = []
        counted = False
        start = 0
        while True:
            end = buffer.find(b"\r\n\r\n", start)
            if end < 0:
                break
            if buffer.startswith(CONTROL_PREFIX, start):
                out.append(_control_response(buffer[start:end]))
            else:
                if not Stats.first_ns:
                    Stats.first_ns = time.monotonic_ns()
                Stats.count += 1
                counted = True
                out.append(RESPONSE)
            start = end + 4
        self._buffer = buffer[start:]
        if out and self._transport is not None:
            data = out[0] if len(out) == 1 else b"".join(out)
            loop = asyncio.get_running_loop()
            if counted and loop.time() < Stats.stalled_until:
                loop.call_at(Stats.stalled_until, self._write, data)
            else:
                self._transport.write(data)

    def _write(self, data: bytes) -> None:
        if self._transport is not None:
            self._transport.write(data)


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(CountingProtocol, host, port, backlog=4096)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    sockname = server.sockets[0].getsockname()
    sys.stdout.write(f"{sockname[1]}\n")
    sys.stdout.flush()
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: a free port (printed)")
    parser.add_argument("--no-uvloop", action="store_true", help="plain asyncio event loop")
    options = parser.parse_args()
    if options.no_uvloop:
        asyncio.run(serve(options.host, options.port))
    else:
        import uvloop

        uvloop.run(serve(options.host, options.port))


if __name__ == "__main__":
    main()
