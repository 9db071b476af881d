"""Reading HAR 1.2 recordings (HTTP Archive) into checked, typed entries.

The exporters differ in ways that matter here, and all are read the same:

- Chrome's DevTools and Playwright's ``record_har_path`` write ``_resourceType`` (``document``,
  ``script``, ``fetch``...) on each entry; Playwright also ``_frameref``. Chrome and Firefox make
  one page per navigation, Playwright one per browser tab.
- Firefox writes no ``_resourceType``; its times carry a zone offset (``+01:00``).
- mitmproxy writes ``"pages": []`` and no ``pageref``, entries in the order their responses
  ended, and ``postData`` for every POST/PUT/PATCH, empty bodies included.
- HTTP/2 recordings have pseudo-headers (``:authority``, ``:path``...) among the headers.

Only what a replay needs is kept, and anything it relies on is checked: a file larger than
:data:`~molotov.config.jsonfile.HAR_LIMIT`, not JSON (read as molotov's other JSON files:
UTF-8, or UTF-16/32), not a HAR, or with an entry without its method, URL or start time is
a :class:`HarError`, one line that says where.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from molotov.config.jsonfile import HAR_LIMIT, FileTooLarge, JSONFileError, read_json


class HarError(Exception):
    """A HAR file that cannot be read or understood (one line, exit code 1)."""


@dataclass(frozen=True)
class Entry:
    """One recorded request, with the little of its response that a replay needs."""

    number: int  # its place in the file, from 1, for messages
    started: float  # epoch seconds
    elapsed: float  # seconds, until its response ended (0 when unknown)
    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    cookies: tuple[str, ...]  # names of the cookies it sent
    body: str | bytes | None
    body_type: str  # postData.mimeType, "" when not given
    status: int  # 0 when it got no response
    response_type: str  # the response's media type, lowercased, without parameters
    redirect: str  # the response's redirectURL (or Location), "" when none
    resource_type: str  # Chrome's and Playwright's _resourceType, lowercased, or ""
    page: str | None  # pageref
    frame: str | None  # Playwright's _frameref

    def header(self, name: str) -> str:
        """The value of the first header called ``name`` (any case), or ``""``."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), "")


@dataclass(frozen=True)
class Page:
    id: str
    started: float


@dataclass(frozen=True)
class Recording:
    creator: str  # "Playwright 1.65.1", or "" when not said
    pages: tuple[Page, ...]  # by start time
    entries: tuple[Entry, ...]  # by start time (stable: equal times keep the file's order)


def load(path: str | Path) -> Recording:
    """Read and check the HAR file at ``path`` (at most :data:`HAR_LIMIT` bytes)."""
    name = repr(str(path))
    try:
        document = read_json(path, HAR_LIMIT, "a HAR file")
    except OSError as exc:
        raise HarError(f"Cannot read the HAR file {name}: {exc.strerror or exc}") from None
    except FileTooLarge as exc:
        raise HarError(str(exc)) from None
    except JSONFileError as exc:
        raise HarError(f"{name} is not a HAR file: {exc}") from None
    return parse(document, name)


def parse(document: Any, name: str) -> Recording:
    """Check a decoded HAR document; ``name`` says which file in error messages."""
    log = document.get("log") if isinstance(document, dict) else None
    if not isinstance(log, dict):
        raise HarError(f"{name} is not a HAR file: no 'log' object")
    entries = log.get("entries")
    if not isinstance(entries, list):
        raise HarError(f"{name} is not a HAR file: no 'log.entries' list")
    creator = log.get("creator")
    pages = log.get("pages", [])
    pages = [] if pages is None else pages
    if not isinstance(pages, list):
        raise HarError(f"{name}: 'log.pages' must be a list")
    return Recording(
        creator=_creator(creator),
        pages=tuple(sorted((_page(p, i, name) for i, p in enumerate(pages, 1)), key=_start)),
        entries=tuple(sorted((_entry(e, i, name) for i, e in enumerate(entries, 1)), key=_start)),
    )


def _start(item: Page | Entry) -> float:
    return item.started


def _creator(creator: Any) -> str:
    if not isinstance(creator, dict):
        return ""
    parts = [creator.get("name"), creator.get("version")]
    return " ".join(part for part in parts if isinstance(part, str) and part)


def _page(page: Any, number: int, name: str) -> Page:
    where = f"{name}: page {number}"
    if not isinstance(page, dict) or not isinstance(page.get("id"), str):
        raise HarError(f"{where}: no 'id'")
    return Page(page["id"], _time(page.get("startedDateTime"), where))


# ISO 8601 as the exporters write it: "Z" or an offset, 0 to 9 decimals of a second.
_ISO = re.compile(
    r"(\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d)?)(?:[.,](\d+))?(Z|[+-]\d\d:?\d\d)?", re.IGNORECASE
)


def _time(value: Any, where: str) -> float:
    """Epoch seconds of a HAR time (``datetime.fromisoformat`` of Python 3.10 reads fewer)."""
    found = _ISO.fullmatch(value.strip()) if isinstance(value, str) else None
    if found is None:
        raise HarError(f"{where}: 'startedDateTime' must be an ISO 8601 time, got {value!r}")
    stamp, fraction, zone = found.groups()
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        raise HarError(f"{where}: 'startedDateTime' is not a date: {value!r}") from None
    if zone and zone.upper() != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    else:
        offset = 0  # a time without a zone is taken as UTC, as "Z"
    seconds = moment.replace(tzinfo=UTC).timestamp() - offset
    return seconds + (float("0." + fraction) if fraction else 0.0)


def _text(container: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = container.get(key, default)
    if value is None:
        raise HarError(f"{where}: no {key!r}")
    if not isinstance(value, str):
        raise HarError(f"{where}: {key!r} must be a string, got {value!r}")
    return value


def _pairs(container: dict[str, Any], key: str, where: str) -> tuple[tuple[str, str], ...]:
    """A list of ``{"name", "value"}`` objects (headers, cookies, params) as pairs."""
    items = container.get(key) or []
    if not isinstance(items, list) or not all(
        isinstance(item, dict)
        and isinstance(item.get("name"), str)
        and isinstance(item.get("value", ""), str)
        for item in items
    ):
        raise HarError(f"{where}: {key!r} must be a list of {{'name', 'value'}} objects")
    return tuple((item["name"], item.get("value", "")) for item in items)


def _body(request: dict[str, Any], where: str) -> tuple[str | bytes | None, str]:
    """The request body and its media type, from ``postData``."""
    post = request.get("postData")
    if post is None:
        return None, ""
    where = f"{where}: postData"
    if not isinstance(post, dict):
        raise HarError(f"{where} must be an object")
    mime = _text(post, "mimeType", where, "")
    if "text" in post:
        text = _text(post, "text", where)
        if str(post.get("encoding", "")).lower() == "base64":  # binary bodies (Playwright)
            try:
                return base64.b64decode(text, validate=True), mime
            except binascii.Error:
                raise HarError(f"{where}: 'text' is not valid base64") from None
        return text, mime
    # HAR 1.2 allows a form body as params instead of text.
    return urlencode(_pairs(post, "params", where)), mime


def _media_type(value: Any) -> str:
    return value.split(";", 1)[0].strip().lower() if isinstance(value, str) else ""


def _entry(entry: Any, number: int, name: str) -> Entry:
    where = f"{name}: entry {number}"
    if not isinstance(entry, dict):
        raise HarError(f"{where} must be an object")
    request = entry.get("request")
    if not isinstance(request, dict):
        raise HarError(f"{where}: no 'request' object")
    where_request = f"{where}: request"
    method = _text(request, "method", where_request)
    url = _text(request, "url", where_request)
    if not method or not url:
        raise HarError(f"{where_request}: empty 'method' or 'url'")
    try:
        urlsplit(url).port  # noqa: B018 (it raises on a malformed host or port)
    except ValueError as exc:
        raise HarError(f"{where_request}: 'url' {url!r} is not a URL ({exc})") from None
    headers = _pairs(request, "headers", where_request)
    cookies = [cookie for cookie, _ in _pairs(request, "cookies", where_request)]
    body, body_type = _body(request, where_request)
    response = entry.get("response")
    response = response if isinstance(response, dict) else {}
    status = response.get("status")
    content = response.get("content")
    redirect = response.get("redirectURL")
    if not isinstance(redirect, str) or not redirect:
        headers_back = _pairs(response, "headers", f"{where}: response")
        redirect = next((v for k, v in headers_back if k.lower() == "location"), "")
    elapsed = entry.get("time")
    resource_type = entry.get("_resourceType")
    page = entry.get("pageref")
    frame = entry.get("_frameref")
    return Entry(
        number=number,
        started=_time(entry.get("startedDateTime"), where),
        elapsed=elapsed / 1000 if isinstance(elapsed, (int, float)) and elapsed > 0 else 0.0,
        method=method.upper(),
        url=url,
        headers=headers,
        cookies=tuple(dict.fromkeys(cookies)),
        body=body,
        body_type=body_type,
        status=status if isinstance(status, int) and status > 0 else 0,
        response_type=_media_type(content.get("mimeType") if isinstance(content, dict) else ""),
        redirect=redirect,
        resource_type=resource_type.lower() if isinstance(resource_type, str) else "",
        page=page if isinstance(page, str) and page else None,
        frame=frame if isinstance(frame, str) and frame else None,
    )
