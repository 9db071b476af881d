"""A small web site for HAR recordings: two servers on 127.0.0.1 that log every request.

The main server has two HTML pages, static assets, a JSON API, a form POST that redirects,
a cookie, and ``/echo/...`` (any method) for recordings that tests write by hand; the other
one (another port, standing for another host) takes a beacon the first page sends.
``browse()`` drives headless Chromium through it with Playwright and records a HAR.
Used by tests/test_molostart_browser.py and tests/fixtures/record_har.py.
"""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from browser import chromium
from threaded import serving

ASSETS = {"/static/site.css", "/static/app.js", "/static/logo.png"}
# A real 1x1 PNG: Chromium fetches an image that does not decode a second time, unrecorded.
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
TOKEN = "Bearer recorded-token-123"  # what the page's script sends: must not be copied

HOME = """<!doctype html>
<html><head><title>Home</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/site.css"><script src="/static/app.js"></script>
</head><body><h1>Home</h1><img src="/static/logo.png" alt="logo">
<form method="post" action="/login">
<input name="user" value="ann"><input name="password" value="s3cret &amp; more">
<button id="login">Log in</button></form>
<script>
Promise.all([
  fetch("/api/items?limit=5&q=caf%C3%A9", {headers: {"Authorization": "%TOKEN%",
                                                       "X-Requested-With": "fetch"}}),
  fetch("/api/cart", {method: "POST", headers: {"Content-Type": "application/json"},
                      body: JSON.stringify({item: 42, note: "say \\"hi\\""})}),
  fetch("%OTHER%/collect?page=home", {method: "POST", body: "event=view"}),
]).then(() => { document.title = "Home (ready)"; });
</script></body></html>
"""
PRODUCTS = """<!doctype html>
<html><head><title>Products</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/site.css"></head>
<body><h1>Products</h1></body></html>
"""


@dataclass(frozen=True)
class Hit:
    server: str  # "main" or "other"
    method: str
    path: str
    query: tuple[tuple[str, str], ...]  # decoded
    body: bytes
    headers: dict[str, str]  # by lowercase name

    @property
    def request(self) -> tuple[str, str, str, tuple[tuple[str, str], ...], bytes]:
        """What a replay must repeat: server, method, path, query, body."""
        return self.server, self.method, self.path, self.query, self.body

    @property
    def is_asset(self) -> bool:
        return self.path in ASSETS


@dataclass
class Site:
    url: str = ""
    other_url: str = ""
    hits: list[Hit] = field(default_factory=list)

    def take(self) -> list[Hit]:
        """The hits so far; the log starts again empty."""
        hits, self.hits[:] = list(self.hits), []
        return hits


def _main_app(site: Site) -> web.Application:
    async def home(request: web.Request) -> web.Response:
        page = HOME.replace("%TOKEN%", TOKEN).replace("%OTHER%", site.other_url)
        response = web.Response(text=page, content_type="text/html")
        response.set_cookie("session", "recorded-cookie-456")
        return response

    async def asset(request: web.Request) -> web.Response:
        if request.path.endswith(".png"):
            return web.Response(body=PIXEL, content_type="image/png")
        kind = "text/css" if request.path.endswith(".css") else "application/javascript"
        return web.Response(text="/* asset */", content_type=kind)

    async def items(request: web.Request) -> web.Response:
        return web.json_response([{"id": i} for i in range(int(request.query["limit"]))])

    async def cart(request: web.Request) -> web.Response:
        return web.json_response({"added": await request.json()}, status=201)

    async def login(request: web.Request) -> web.Response:
        raise web.HTTPFound("/products?sort=name")

    async def products(request: web.Request) -> web.Response:
        return web.Response(text=PRODUCTS, content_type="text/html")

    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await request.read(), content_type="application/octet-stream")

    app = web.Application(middlewares=[_logger(site, "main")])
    app.router.add_get("/", home)
    for path in ASSETS:
        app.router.add_get(path, asset)
    app.router.add_get("/api/items", items)
    app.router.add_post("/api/cart", cart)
    app.router.add_post("/login", login)
    app.router.add_get("/products", products)
    app.router.add_route("*", "/echo/{tail:.*}", echo)  # any method: crafted recordings
    return app


def _other_app(site: Site) -> web.Application:
    async def collect(request: web.Request) -> web.Response:
        return web.Response(text="ok", headers={"Access-Control-Allow-Origin": "*"})

    app = web.Application(middlewares=[_logger(site, "other")])
    app.router.add_post("/collect", collect)
    return app


def _logger(site: Site, server: str):  # type: ignore[no-untyped-def]
    @web.middleware
    async def log(request: web.Request, handler):  # type: ignore[no-untyped-def]
        body = await request.read()
        site.hits.append(
            Hit(
                server=server,
                method=request.method,
                path=request.path,
                query=tuple(request.query.items()),
                body=body,
                headers={name.lower(): value for name, value in request.headers.items()},
            )
        )
        return await handler(request)

    return log


@contextmanager
def serve() -> Iterator[Site]:
    """Both servers, on free ports of 127.0.0.1, in a thread of this process."""
    site = Site()

    @asynccontextmanager
    async def listening() -> AsyncIterator[None]:
        runners = [web.AppRunner(_other_app(site)), web.AppRunner(_main_app(site))]
        for runner in runners:
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
        site.other_url = f"http://127.0.0.1:{runners[0].addresses[0][1]}"
        site.url = f"http://127.0.0.1:{runners[1].addresses[0][1]}"
        try:
            yield
        finally:
            for runner in runners:
                await runner.cleanup()

    with serving(listening, "the HAR site"):
        yield site


def browse(site: Site, har: Path) -> None:
    """Open the home page in headless Chromium, log in with the form, record a HAR."""
    # Chromium writes its profile under HOME.
    with chromium(env={**os.environ, "HOME": str(har.parent)}) as browser:
        context = browser.new_context(record_har_path=str(har))
        page = context.new_page()
        page.goto(site.url + "/")
        page.wait_for_function("document.title === 'Home (ready)'", timeout=20_000)
        with page.expect_navigation(url="**/products?sort=name", timeout=20_000):
            page.click("#login")
        page.wait_for_load_state("load")
        context.close()  # writes the HAR
