"""The dashboard's web server: aiohttp on an event loop of its own, in a daemon thread.

Why a thread: the run's parent is a synchronous loop (:mod:`molotov.run.supervisor`; a
cluster coordinator's poll is as busy), and the browsers must never slow it down. The run
hands its state over through :class:`~molotov.live.dashfeed.LiveFeed`; this thread renders
the page from it (:mod:`.dashpage`) and sends it:

* ``GET /``: the page, as it is now; once the run has its report, the final page, byte for
  byte what ``--html`` writes;
* ``GET /events``: server-sent events, ``page`` with the page's newer parts (the first at
  once: a browser that comes late sees the run so far), then one every
  :data:`UPDATE_INTERVAL` while the numbers change, the final report last; ``end`` when the
  dashboard stops without one;
* ``POST /stop`` with the page's token in ``X-Molotov-Token``: stop the run as Ctrl-C does.

The page is rendered once per change for every browser, only while one follows the stream,
and a render may use at most :data:`RENDER_SHARE` of this thread's time (the series' rows
go into its charts as they come, browser or not: :mod:`.dashpage`). A browser holds at
most one message waiting (a newer one replaces it: a slow browser skips updates, it never
queues them), and one that takes nothing for :data:`WRITE_TIMEOUT` is disconnected: its
browser reconnects when it can and gets the run so far.

Access: on a loopback address, only requests that name a loopback host (a page of another
site that resolves its name to 127.0.0.1 is refused); with ``--dashboard-public``, every
request carries the token (in the URL molotov prints). The token is compared in constant time.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hmac
import json
import threading
import time
from dataclasses import dataclass

from aiohttp import web

from molotov.config.parsers import is_loopback
from molotov.live.dashfeed import LiveFeed
from molotov.live.dashpage import LivePage
from molotov.reports import htmlreport
from molotov.reports.htmlreport import Page

# Seconds between two renders of the page, at least: a render is a few ms of the parent's
# CPU, whatever the number of browsers (benchmarks/README.md, "The live dashboard").
UPDATE_INTERVAL = 2.0
RENDER_SHARE = 0.05  # of this thread's time, at most, for rendering (a long run's page)
MAX_CLIENTS = 32  # browsers following the stream at once
WRITE_TIMEOUT = 10.0  # seconds a browser gets to take a message, else it is disconnected
KEEPALIVE = 15.0  # seconds between two comments on an idle stream (finds dead peers)
FLUSH_TIMEOUT = 5.0  # seconds the browsers get to receive the final report at the end
STARTUP_TIMEOUT = 30.0
TOKEN_HEADER = "X-Molotov-Token"
HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # No other site may frame the page (and its Stop button).
    "Content-Security-Policy": "frame-ancestors 'none'",
}
RETRY = b"retry: 2000\n\n"  # a browser that lost the stream tries again 2 s later
KEEPALIVE_COMMENT = b": still here\n\n"


@dataclass(frozen=True)
class Access:
    """Who may use the dashboard: ``public`` dashboards want ``token`` in every request."""

    token: str
    public: bool


def _event(name: str, data: str) -> bytes:
    """One server-sent event (``data`` is one line: JSON, or plain text)."""
    return f"event: {name}\ndata: {data}\n\n".encode()


class _Client:
    """A browser following the stream: at most one message waits for it."""

    def __init__(self) -> None:
        self.pending: bytes | None = None
        self.last = False  # the pending message is the stream's last
        self.wake = asyncio.Event()

    def offer(self, message: bytes, last: bool = False) -> None:
        self.pending, self.last = message, last
        self.wake.set()


class DashServer:
    """The dashboard on ``host:port`` (port 0: any free one), in a daemon thread."""

    def __init__(self, feed: LiveFeed, host: str, port: int, access: Access) -> None:
        self.feed = feed
        self._host, self._port = host, port
        self._access = access
        self._page = LivePage(feed)
        query = f"?token={access.token}" if access.public else ""
        self._live = {"events": f"events{query}", "stop": f"stop{query}", "token": access.token}
        self._clients: set[_Client] = set()
        self._version = -1  # the feed's version the page was rendered from
        self._part: Page | None = None
        self._message = b""
        self._final = False
        self._cost = 0.0  # seconds the last render took
        self._stopping = False
        self._dropped = 0
        self._broken = False  # a page failed to render (said once)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed: asyncio.Event | None = None
        self._started = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="molotov-dashboard", daemon=True)

    # -- the run's thread ------------------------------------------------------------------

    def start(self) -> int:
        """Listen; the port. Raises OSError when the address cannot be bound."""
        self._thread.start()
        self._started.wait(STARTUP_TIMEOUT)
        if self._failure is not None:
            raise self._failure
        return self._port

    def publish(self) -> None:
        """Send the page now (the final report has come)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._broadcast)

    def close(self) -> None:
        """Send what the browsers still miss (the final report, or ``end``), give them
        :data:`FLUSH_TIMEOUT` to take it, and stop."""
        loop = self._loop
        if loop is None or not self._thread.is_alive():
            return
        done = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
        with contextlib.suppress(concurrent.futures.TimeoutError):
            done.result(FLUSH_TIMEOUT + STARTUP_TIMEOUT)
        self._thread.join(STARTUP_TIMEOUT)

    # -- the dashboard's thread ------------------------------------------------------------

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported by start(), in the run's thread
            self._failure = exc
            self._started.set()

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_get("/", self._index)
        app.router.add_get("/events", self._events)
        app.router.add_post("/stop", self._stop)
        app.router.add_get("/favicon.ico", _no_icon)  # asked by every browser
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port).start()
            self._port = runner.addresses[0][1]
            self._loop = asyncio.get_running_loop()
            self._closed = asyncio.Event()
            updates = asyncio.ensure_future(self._updates())
            self._started.set()
            await self._closed.wait()
            updates.cancel()
        finally:
            await runner.cleanup()

    async def _shutdown(self) -> None:
        assert self._closed is not None
        try:
            self._broadcast()
            if not self._final:
                end = _event("end", "The dashboard has stopped: the run ended without a report.")
                for client in self._clients:
                    client.offer(end, last=True)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + FLUSH_TIMEOUT
            while self._clients and loop.time() < deadline:
                await asyncio.sleep(0.05)
        finally:
            self._closed.set()

    async def _updates(self) -> None:
        while True:
            await asyncio.sleep(max(UPDATE_INTERVAL, self._cost / RENDER_SHARE))
            # The rows go into the charts as they come, a slice at a time (the loop answers
            # in between), whether a browser looks or not: a late one waits for nothing.
            rows = self.feed.view().rows
            try:
                while not self._page.advance(rows):
                    await asyncio.sleep(0)
            except Exception as exc:  # a bug: said once, and the run goes on
                self._failed(exc)
            if self._clients:
                self._broadcast()

    def _failed(self, exc: Exception) -> None:
        if not self._broken:
            self._broken = True
            self.feed.notice(f"Dashboard: cannot draw the page ({exc!r}); the run goes on")

    def _refresh(self) -> None:
        """Render the page again if the run's state changed since (if it cannot be, the
        browsers keep the last page)."""
        view = self.feed.view()
        if view.version == self._version:
            return
        started = time.perf_counter()
        try:
            part = self._page.parts(view)
        except Exception as exc:
            self._failed(exc)
            return
        self._part = part
        self._final = view.final is not None
        data = {"title": part.title, "body": part.body, "data": part.data, "final": self._final}
        self._message = _event("page", json.dumps(data, separators=(",", ":"), allow_nan=False))
        self._version = view.version
        self._cost = time.perf_counter() - started

    def _broadcast(self) -> None:
        before = self._version
        self._refresh()
        if self._version != before:
            for client in self._clients:
                client.offer(self._message, self._final)

    def _denied(self, request: web.Request) -> web.Response | None:
        """Why ``request`` may not see the dashboard (None: it may)."""
        if self._access.public:
            given = request.query.get("token", "").encode()
            if not hmac.compare_digest(given, self._access.token.encode()):
                return _text(403, "This dashboard needs its token: open the URL molotov printed.")
            return None
        if not is_loopback(_host_of(request.host)):
            return _text(403, "This dashboard answers requests to its loopback address only.")
        return None

    async def _index(self, request: web.Request) -> web.Response:
        denied = self._denied(request)
        if denied is not None:
            return denied
        self._refresh()
        if self._part is None:
            return _text(503, "The dashboard cannot draw its page: see molotov's output.")
        # The final report's page is the --html file's: no stream, no Stop button.
        html = htmlreport.page(self._part, None if self._final else self._live)
        return web.Response(text=html, content_type="text/html", headers=HEADERS)

    async def _events(self, request: web.Request) -> web.StreamResponse:
        denied = self._denied(request)
        if denied is not None:
            return denied
        if len(self._clients) >= MAX_CLIENTS:
            return _text(503, f"This dashboard already serves {MAX_CLIENTS} browsers.")
        self._refresh()
        response = web.StreamResponse(headers={**HEADERS, "Content-Type": "text/event-stream"})
        await response.prepare(request)
        client = _Client()
        client.offer(RETRY + self._message, self._final)
        self._clients.add(client)
        try:
            await self._follow(client, request, response)
        finally:
            self._clients.discard(client)
        return response

    async def _follow(
        self, client: _Client, request: web.Request, response: web.StreamResponse
    ) -> None:
        """Send ``client`` its messages until the last one, or until it is gone."""
        while True:
            try:
                await asyncio.wait_for(client.wake.wait(), KEEPALIVE)
            except TimeoutError:
                client.offer(KEEPALIVE_COMMENT)
            client.wake.clear()
            message, last = client.pending, client.last
            client.pending = None
            if message is None:
                continue
            try:
                await asyncio.wait_for(response.write(message), WRITE_TIMEOUT)
            except TimeoutError:
                self._drop(request)
                return
            except ConnectionError:
                return
            if last:
                return

    def _drop(self, request: web.Request) -> None:
        """A browser that took nothing for WRITE_TIMEOUT: disconnected, said once."""
        if request.transport is not None:
            request.transport.abort()
        self._dropped += 1
        if self._dropped == 1:
            self.feed.notice(
                f"Dashboard: a browser that took nothing for {WRITE_TIMEOUT:g}s was "
                "disconnected (it gets the run so far when it reconnects)"
            )

    async def _stop(self, request: web.Request) -> web.Response:
        denied = self._denied(request)
        if denied is not None:
            return denied
        given = request.headers.get(TOKEN_HEADER, "").encode()
        if not hmac.compare_digest(given, self._access.token.encode()):
            return _text(403, f"Stopping the run needs the page's token in {TOKEN_HEADER}.")
        if self._stopping:
            return _text(202, "Stopping the run: already asked.")
        if not self.feed.ask_stop():
            return _text(409, "The run is already over.")
        self._stopping = True
        self.feed.notice("Dashboard: Stop pressed, stopping the run as Ctrl-C does")
        return _text(202, "Stopping the run, as Ctrl-C does: the final report follows.")


async def _no_icon(request: web.Request) -> web.Response:
    return web.Response(status=204, headers=HEADERS)


def _host_of(header: str) -> str:
    """The host of a ``Host`` header: ``127.0.0.1:8089`` is 127.0.0.1, ``[::1]:8089`` ::1."""
    if header.startswith("["):
        return header[1:].partition("]")[0]
    return header.rpartition(":")[0] if ":" in header else header


def _text(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text, headers=HEADERS)
