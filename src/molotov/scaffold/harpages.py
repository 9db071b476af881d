"""The pages of a HAR recording: its entries grouped as a person went through them.

Entries are grouped by ``pageref``, then each group is cut again at every top-level
navigation (see :mod:`molotov.scaffold.harplan` for why); the origin helpers here say which
host an entry went to, for the plan's host decisions.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from molotov.scaffold.har import Entry, Recording


def origin_of(url: str) -> tuple[str, str, str]:
    """(scheme, host[:port] lowercased, the rest: path and query) of an absolute URL."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2].lower()  # user:password@ never goes on
    rest = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme.lower(), netloc, rest


def host_port(netloc: str) -> tuple[str, int | None]:
    parts = urlsplit("//" + netloc)
    try:
        port = parts.port
    except ValueError:
        port = None
    return (parts.hostname or netloc).lower(), port


def host_matches(netloc: str, wanted: str) -> bool:
    """Whether ``--include-host wanted`` (``HOST`` or ``HOST:PORT``) names ``netloc``."""
    host, port = host_port(netloc)
    wanted_host, wanted_port = host_port(wanted.strip())
    return host == wanted_host and wanted_port in (None, port)


def is_navigation(entry: Entry, main_frame: str | None) -> bool:
    if entry.resource_type:
        in_main = main_frame is None or entry.frame in (None, main_frame)
        return entry.resource_type == "document" and in_main
    accept = entry.header("accept").split(",", 1)[0].strip().lower()
    return accept == "text/html"


@dataclass(frozen=True)
class RecordedPage:
    navigation: Entry | None  # the request that opened it, when there was one
    entries: tuple[Entry, ...]


def pages(recording: Recording) -> list[RecordedPage]:
    """The recording's entries, grouped into the pages a person went through, in order."""
    groups: dict[str | None, list[Entry]] = {page.id: [] for page in recording.pages}
    for entry in recording.entries:
        key = entry.page if entry.page in groups else None
        if key is None and recording.pages:
            # No pageref (Chrome's service-worker requests, say): the page open at the time.
            started = [page.id for page in recording.pages if page.started <= entry.started]
            key = started[-1] if started else recording.pages[0].id
        groups.setdefault(key, []).append(entry)
    result: list[RecordedPage] = []
    for group in groups.values():
        documents = [entry for entry in group if entry.resource_type == "document"]
        main_frame = documents[0].frame if documents else None
        current: list[Entry] = []
        navigation: Entry | None = None
        redirected = False
        for entry in group:
            if not is_navigation(entry, main_frame):
                current.append(entry)
                continue
            if navigation is not None and not redirected:
                result.append(RecordedPage(navigation, tuple(current)))
                current = []
            if navigation is None or not redirected:
                navigation = entry
            current.append(entry)
            redirected = 300 <= entry.status < 400
        if current:
            result.append(RecordedPage(navigation, tuple(current)))
    return result
