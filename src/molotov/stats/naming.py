"""The names of requests: the rows of the per-request tables, and their StatsD names.

A request's default name is ``METHOD path`` with the path's dynamic segments grouped, so that
``GET /items/1`` and ``GET /items/2`` are one row, ``GET /items/{id}``. The rule, applied to
each segment between slashes of the URL's path (the query string and fragment are dropped):

* all decimal digits (``42``),
* a UUID (``8-4-4-4-12`` hex digits, any case),
* 16 or more hex digits (hashes, object ids)

become ``{id}``. Anything else stays: ``/v2/items`` keeps ``v2``, ``/users/alice`` keeps
``alice`` (name such requests explicitly with :func:`molotov.named` when they vary). Locust
names a request by its raw URL, which makes one row per item on a real API; a numeric id is
almost never what tells two endpoints apart.
"""

from __future__ import annotations

import re
import socket

OTHER = "other"  # the row of the requests past the bound of distinct names
NAME_BYTES = 200  # a longer name is cut (at a character boundary)
_DYNAMIC = re.compile(
    r"\d+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[0-9a-fA-F]{16,}"
)

HOSTNAME = socket.gethostname()
_LINE_BREAKERS = str.maketrans({":": "_", "|": "_", "@": "_", "\n": "_"})


def group_path(path: str) -> str:
    """``/items/42/parts/9f1c...`` -> ``/items/{id}/parts/{id}`` (see the module's rule)."""
    if not path:
        return "/"
    return "/".join(
        "{id}" if segment and _DYNAMIC.fullmatch(segment) else segment
        for segment in path.split("/")
    )


def default_name(method: str, path: str) -> str:
    """``GET /items/{id}``: a request's row when the scenario did not name it."""
    return f"{method} {group_path(path)}"


def method_and_path(name: str) -> tuple[str, str] | None:
    """``("GET", "/items/{id}")`` of a default name; None for an explicit one (``search``)."""
    method, _, path = name.partition(" ")
    return (method, path) if path.startswith("/") and method.isupper() else None


def clip_name(name: str) -> str:
    """A name as the bus stores it: at most :data:`NAME_BYTES` bytes of UTF-8."""
    data = name.encode("utf-8", "replace")
    if len(data) <= NAME_BYTES:
        return name
    return data[:NAME_BYTES].decode("utf-8", "ignore")


def statsd_name(name: str, host: str) -> str:
    """Molotov 2.x's per-request metric, ``molotov.<hostname>.<METHOD>.<urlhost>.<urlpath>``.

    ``name`` is the request's row name: a default one (``METHOD path``) keeps 2.x's shape, now
    with dynamic segments grouped; an explicit one is ``molotov.<hostname>.<name>``. Only the
    characters that would break a StatsD line (``:``, ``|``, ``@``, newlines) are replaced;
    slashes stay, as Molotov 2.x sent them.
    """
    default = method_and_path(name)
    if host and default is not None:
        method, path = default
        metric = f"molotov.{HOSTNAME}.{method}.{host}.{path}"
    else:
        metric = f"molotov.{HOSTNAME}.{name}"
    return metric.translate(_LINE_BREAKERS)
