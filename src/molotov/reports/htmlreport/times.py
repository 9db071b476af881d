"""Times and durations as a reader reads them: ``2026-12-06 19:18:25 UTC``, ``1m 30s``.

The report document's times are ISO 8601 with microseconds (``2026-12-06T19:18:25.683287Z``):
exact, and what a script reads, but not what a person scans. The page shows them to the second
and keeps the exact text in the element's ``title`` (and a ``<time>``'s ``datetime``).
"""

from __future__ import annotations

import html
from datetime import UTC, datetime

UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def span(seconds: float) -> str:
    """A duration: to a tenth of a second under a minute (``3.0s``), else whole units from the
    largest down to seconds (``1m 30s``, ``1h 0m 5s``)."""
    if seconds < 59.95:
        return f"{max(seconds, 0.0):.1f}s"
    rest = round(seconds)
    parts: list[str] = []
    for unit, size in UNITS:
        n, rest = divmod(rest, size)
        if n or parts:
            parts.append(f"{n}{unit}")
    return " ".join(parts)


def parse(iso: object) -> datetime | None:
    """An ISO 8601 time of the report (None: not one, a report edited by hand)."""
    try:
        when = datetime.fromisoformat(str(iso))
    except ValueError:
        return None
    # The report's times are UTC ("Z"); one without an offset is taken as UTC too.
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def moment(iso: object) -> str:
    """A ``<time>`` element of an ISO 8601 time, shown to the second in UTC; the text as it
    is when it is not such a time."""
    text = html.escape(str(iso or "?"), quote=True)
    when = parse(iso)
    if when is None:
        return text
    shown = when.strftime("%Y-%m-%d %H:%M:%S UTC")
    return f'<time datetime="{text}" title="{text}">{shown}</time>'
