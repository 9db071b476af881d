"""What a HAR recording becomes: pages to replay, their requests, and what is left out.

Decisions, each with its reason:

- **Pages.** Entries are grouped by ``pageref``, then each group is cut again at every
  top-level navigation, because Playwright makes one page per tab where Chrome and Firefox
  make one per navigation, and mitmproxy none at all. A navigation is an entry whose
  ``_resourceType`` is ``document`` (in the main frame, when ``_frameref`` says which), or,
  in recordings without resource types, one that asked for ``text/html`` first in its
  ``Accept`` header, as browsers do for navigations only. A navigation that follows a
  redirect stays on the page of the redirect (a form POST, its 302 and the next page).
- **Hosts.** The recorded host is the one of the first navigation that was not redirected
  (``http://`` to ``https://`` redirects are common); others are left out unless named by
  ``--include-host`` (``HOST`` any port, ``HOST:PORT`` that one). Each included origin gets
  a constant in the generated file, overridable by an environment variable.
- **Left out always**: non-HTTP URLs (``data:``, ``blob:``...), CORS preflights (a browser
  thing), WebSockets and event streams (not request/response); **unless asked**
  (``--include-assets``): static assets (style sheets, scripts, images, fonts, media), by
  ``_resourceType``, else by response type or file extension, because a CDN or the browser's
  cache serves them in real life.
- **Headers.** Hop-by-hop headers and those the client computes (``Host``,
  ``Content-Length``, ``Accept-Encoding``: aiohttp asks for what it can decode) are dropped,
  and so is browser noise (``User-Agent``, client hints, fetch metadata, cache validators: a
  replay must not get 304s for a browser cache it does not have). ``Referer`` and ``Origin``
  follow the origin constants. Cookies and credential headers (``Authorization``, any name
  with ``token``, ``auth``, ``api-key``, ``secret``, ``session``, ``csrf``, ``xsrf``) never
  reach the file: ``setup()`` reads them from environment variables.
- **Redirects** are not followed by the replay (``allow_redirects=False``): the recording
  has each hop as an entry of its own.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from molotov.scaffold import pysource
from molotov.scaffold.har import Entry, Recording
from molotov.scaffold.harpages import RecordedPage, host_matches, is_navigation, origin_of, pages

MAIN_CONSTANT = "TARGET_URL"  # as in the demo and the scaffold
THINK_TIME_MIN = 0.01  # shorter gaps are the browser's own work, not a person's

ASSET_TYPES = frozenset({"stylesheet", "script", "image", "font", "media", "texttrack", "manifest"})
STREAM_TYPES = frozenset({"websocket", "eventsource"})
ASSET_MEDIA = re.compile(
    r"text/css|(text|application)/(x-)?(java|ecma)script|image/.*|font/.*|audio/.*|video/.*"
    r"|application/(x-)?font-.*|application/vnd\.ms-fontobject|text/vtt"
)
ASSET_EXTENSIONS = re.compile(
    r"\.(css|js|mjs|map|png|jpe?g|gif|svg|ico|webp|avif|bmp|woff2?|ttf|otf|eot"
    r"|mp3|mp4|webm|ogg|wav|vtt)$",
    re.IGNORECASE,
)
DROPPED_HEADERS = frozenset(
    {
        # hop-by-hop, and what the client computes itself
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "accept-encoding",
        # browser noise
        "user-agent",
        "upgrade-insecure-requests",
        "dnt",
        "sec-gpc",
        "priority",
        "purpose",
        "sec-purpose",
        "x-client-data",
        "cache-control",
        "pragma",
        "if-none-match",
        "if-modified-since",
        # replaced by setup()
        "cookie",
    }
)
DROPPED_PREFIXES = (":", "sec-ch-", "sec-fetch-")
LINK_HEADERS = frozenset({"referer", "origin"})
CREDENTIAL = re.compile(
    r"authorization|token|auth|api-?key|secret|session|csrf|xsrf", re.IGNORECASE
)
LEFT_OUT = {
    "asset": "static assets (--include-assets)",
    "host": "requests to other hosts (--include-host)",
    "scheme": "non-HTTP URLs",
    "preflight": "CORS preflights",
    "stream": "WebSocket and event streams",
}


class PlanError(Exception):
    """Nothing to replay, or an option that names nothing of the recording (exit code 1)."""


@dataclass(frozen=True)
class Origin:
    url: str  # scheme://host[:port]
    constant: str  # the generated constant, and the environment variable that overrides it


@dataclass(frozen=True)
class Link:
    """A URL as generated code spells it: an included origin's constant, then the rest."""

    origin: Origin | None  # None: ``rest`` is the whole URL, to a host left out
    rest: str


@dataclass(frozen=True)
class Call:
    method: str
    url: Link
    headers: tuple[tuple[str, str | Link], ...]
    body: str | bytes | None
    status: int  # as recorded; 0 when it got no response
    pause: float  # seconds to sleep before it (--think-time)


@dataclass(frozen=True)
class Scenario:
    name: str
    number: int
    calls: tuple[Call, ...]
    delay: float  # seconds to sleep after it, until the next page started (--think-time)


@dataclass(frozen=True)
class Secret:
    """A cookie or a header that the generated ``setup()`` reads from a variable."""

    name: str
    variable: str


@dataclass(frozen=True)
class Plan:
    creator: str
    origins: tuple[Origin, ...]  # the recorded host's first
    scenarios: tuple[Scenario, ...]
    cookies: tuple[Secret, ...]
    credentials: tuple[Secret, ...]
    left_out: tuple[tuple[str, int], ...]  # (what, how many), in LEFT_OUT's order
    other_hosts: tuple[str, ...]  # the hosts left out

    @property
    def requests(self) -> int:
        return sum(len(scenario.calls) for scenario in self.scenarios)


def _main_origin(recording: Recording) -> tuple[str, str]:
    """(scheme, netloc) of the recorded host: the first navigation that was not redirected."""
    web = [e for e in recording.entries if origin_of(e.url)[0] in ("http", "https")]
    if not web:
        raise PlanError("the recording has no HTTP request")
    navigations = [e for e in web if is_navigation(e, None)]
    settled = [e for e in navigations if not 300 <= e.status < 400]
    scheme, netloc, _ = origin_of((settled or navigations or web)[0].url)
    return scheme, netloc


def _left_out_reason(entry: Entry, scheme: str) -> str | None:
    """Why an entry is never replayed, or None."""
    if entry.resource_type in STREAM_TYPES or entry.response_type == "text/event-stream":
        return "stream"
    if scheme not in ("http", "https"):
        return "scheme"
    if entry.resource_type == "preflight" or (
        entry.method == "OPTIONS" and entry.header("access-control-request-method")
    ):
        return "preflight"
    return None


def _is_asset(entry: Entry, rest: str) -> bool:
    if entry.method not in ("GET", "HEAD"):
        return False
    if entry.resource_type:
        return entry.resource_type in ASSET_TYPES
    path = rest.split("?", 1)[0]
    return bool(ASSET_MEDIA.fullmatch(entry.response_type) or ASSET_EXTENSIONS.search(path))


class _Origins:
    """The included origins, each named once, the recorded host's first."""

    def __init__(self, main: str, taken: set[str]) -> None:
        self.taken = taken
        self.by_url = {main: Origin(main, MAIN_CONSTANT)}

    def get(self, url: str) -> Origin:
        if url not in self.by_url:
            name = pysource.constant(url.split("://", 1)[1], "url", lead="HOST")
            self.by_url[url] = Origin(url, pysource.unique(name, self.taken))
        return self.by_url[url]

    def link(self, url: str, included: bool) -> Link:
        scheme, netloc, rest = origin_of(url)
        origin = f"{scheme}://{netloc}"
        if not included:
            return Link(None, url)
        return Link(self.get(origin), rest)


class _Secrets:
    """Cookies or credential headers seen in the replayed requests, each with a variable."""

    def __init__(self, prefix: str, taken: set[str], by_case: bool) -> None:
        self.prefix = prefix
        self.taken = taken
        self.by_case = by_case
        self.by_name: dict[str, Secret] = {}

    def add(self, name: str) -> None:
        key = name if self.by_case else name.lower()
        if key not in self.by_name:
            variable = pysource.unique(pysource.constant(self.prefix, name), self.taken)
            self.by_name[key] = Secret(name, variable)

    def all(self) -> tuple[Secret, ...]:
        return tuple(self.by_name.values())


def _headers(
    entry: Entry, origins: _Origins, included: set[str], credentials: _Secrets
) -> tuple[tuple[str, str | Link], ...]:
    kept: dict[str, tuple[str, str | Link]] = {}
    for name, value in entry.headers:
        lower = name.lower()
        if lower in DROPPED_HEADERS or lower.startswith(DROPPED_PREFIXES):
            continue
        if CREDENTIAL.search(lower):
            credentials.add(name)
            continue
        if lower in LINK_HEADERS and value.startswith(("http://", "https://")):
            link = origins.link(value, origin_of(value)[1] in included)
            if lower == "origin" and link.origin is not None:
                link = Link(link.origin, "")  # a bare origin: "http://host", not ".../"
            kept[lower] = (name, link)
            continue
        kept[lower] = (name, value)  # the last of repeated headers, as aiohttp would send it
    if entry.body is not None and entry.body_type and "content-type" not in kept:
        kept["content-type"] = ("Content-Type", entry.body_type)
    return tuple(kept.values())


def _gap(before: Entry, after: Entry) -> float:
    gap = after.started - (before.started + before.elapsed)
    return gap if gap >= THINK_TIME_MIN else 0.0


def _included(recording: Recording, main: str, include_hosts: Sequence[str]) -> set[str]:
    """The hosts (``host[:port]``) to replay: the recorded one and those asked for."""
    netlocs = {origin_of(entry.url)[1] for entry in recording.entries}
    for wanted in include_hosts:
        if not any(host_matches(netloc, wanted) for netloc in netlocs):
            hosts = ", ".join(sorted(n for n in netlocs if n))
            raise PlanError(
                f"--include-host {wanted!r}: no request of the recording went there "
                f"(hosts: {hosts})"
            )
    wanted_hosts = {n for n in netlocs if any(host_matches(n, w) for w in include_hosts)}
    return {main} | wanted_hosts


def _kept_pages(
    recording: Recording, included: set[str], include_assets: bool
) -> tuple[list[tuple[RecordedPage, list[Entry]]], Counter[str], set[str]]:
    """The pages with the entries to replay; how many were left out, by reason; other hosts."""
    kept_pages: list[tuple[RecordedPage, list[Entry]]] = []
    left_out: Counter[str] = Counter()
    others: set[str] = set()
    for page in pages(recording):
        kept: list[Entry] = []
        for entry in page.entries:
            scheme, netloc, rest = origin_of(entry.url)
            reason = _left_out_reason(entry, scheme)
            if reason is None and netloc not in included:
                reason = "host"
                others.add(netloc)
            if reason is None and not include_assets and _is_asset(entry, rest):
                reason = "asset"
            if reason is None:
                kept.append(entry)
            else:
                left_out[reason] += 1
        if kept:
            kept_pages.append((page, kept))
    return kept_pages, left_out, others


def plan(
    recording: Recording,
    include_hosts: Sequence[str] = (),
    include_assets: bool = False,
    think_time: bool = False,
) -> Plan:
    """Decide what of ``recording`` the generated load test replays."""
    main_scheme, main_netloc = _main_origin(recording)
    included = _included(recording, main_netloc, include_hosts)
    kept_pages, left_out, others = _kept_pages(recording, included, include_assets)
    if not kept_pages:
        what = ", ".join(f"{LEFT_OUT[why]}: {count}" for why, count in left_out.items())
        raise PlanError(f"nothing to replay, all was left out: {what}")

    taken = {MAIN_CONSTANT}  # one namespace: the constants and variables of the file
    origins = _Origins(f"{main_scheme}://{main_netloc}", taken)
    cookies = _Secrets("COOKIE", taken, by_case=True)
    credentials = _Secrets("HEADER", taken, by_case=False)  # header names have no case
    width = len(str(len(kept_pages)))
    scenarios: list[Scenario] = []
    names: set[str] = set()
    for number, (page, kept) in enumerate(kept_pages, 1):
        calls = []
        for index, entry in enumerate(kept):
            for cookie in entry.cookies or _cookie_names(entry.header("cookie")):
                cookies.add(cookie)
            calls.append(
                Call(
                    method=entry.method,
                    url=origins.link(entry.url, True),
                    headers=_headers(entry, origins, included, credentials),
                    body=entry.body if entry.body not in ("", b"") else None,
                    status=entry.status,
                    pause=_gap(kept[index - 1], entry) if think_time and index else 0.0,
                )
            )
        path = origin_of((page.navigation or kept[0]).url)[2].split("?", 1)[0]
        prefix = f"page_{number:0{width}d}"
        name = pysource.identifier(path if pysource.words(path) else "home", prefix)
        following = kept_pages[number][1] if number < len(kept_pages) else None
        scenarios.append(
            Scenario(
                name=pysource.unique(name, names),
                number=number,
                calls=tuple(calls),
                delay=_gap(kept[-1], following[0]) if think_time and following else 0.0,
            )
        )
    return Plan(
        creator=recording.creator,
        origins=tuple(origins.by_url.values()),
        scenarios=tuple(scenarios),
        cookies=cookies.all(),
        credentials=credentials.all(),
        left_out=tuple((LEFT_OUT[why], left_out[why]) for why in LEFT_OUT if left_out[why]),
        other_hosts=tuple(sorted(others)),
    )


def _cookie_names(header: str) -> Iterable[str]:
    """Cookie names of a ``Cookie`` header, for recordings without ``request.cookies``."""
    for part in header.split(";"):
        name = part.split("=", 1)[0].strip()
        if name:
            yield name
