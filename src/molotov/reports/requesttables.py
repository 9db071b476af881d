"""The summary's per-request part: requests by name, responses by status code, and checks.

The tables fit :data:`SUMMARY_WIDTH` columns (a default terminal, a CI log): a long request
name wraps onto continuation lines rather than widening the table. Only the busiest
:data:`TOP_REQUESTS` names are listed; the reports (``--report``, ``--html``) have them all.
"""

from __future__ import annotations

from collections.abc import Sequence

from molotov.reports.tables import ms, table
from molotov.stats.naming import OTHER
from molotov.stats.snapshot import CheckStats, RequestStats, Snapshot

SUMMARY_WIDTH = 80
TOP_REQUESTS = 15
REQUEST_PERCENTILES = (50, 95, 99)
REQUESTS_TITLE = "Requests (ms)"
OTHER_NOTE = f"  '{OTHER}': names past --max-request-names (use molotov.named(...) or raise it)"
NO_REQUEST = "(before any request)"


def share(part: int, whole: int) -> str:
    """``12.5%`` of ``whole``; never ``100.0%`` unless all, nor ``0.0%`` unless none."""
    if not whole:
        return "-"
    percent = 100.0 * part / whole
    if part < whole:
        percent = min(percent, 99.9)
    if part > 0:
        percent = max(percent, 0.1)
    return f"{percent:.1f}%"


def checks_headline(snapshot: Snapshot) -> list[str]:
    """``Checks: 99.2% passed (1612 of 1625)`` when the scenarios checked anything."""
    total = snapshot.checks_passed + snapshot.checks_failed
    if not total:
        return []
    passed = snapshot.checks_passed
    return [f"Checks: {share(passed, total)} passed ({passed} of {total})"]


def request_tables(snapshot: Snapshot, elapsed: float) -> list[str]:
    """The requests table (and the word on ``other``), the status codes, the checks."""
    return _requests_table(snapshot, elapsed) + _status_table(snapshot) + _checks_table(snapshot)


def _request_cells(stats: RequestStats, elapsed: float) -> list[str]:
    failed = share(min(stats.failures, stats.requests), stats.requests)
    per_second = f"{stats.requests / elapsed:.1f}" if elapsed > 0 else "-"
    latency = stats.latency
    if latency is None or not latency.count:
        times = ["-"] * (len(REQUEST_PERCENTILES) + 1)
    else:
        times = [ms(latency.percentile_us(p)) for p in REQUEST_PERCENTILES] + [ms(latency.max_us)]
    return [str(stats.requests), failed, per_second, *times]


def _requests_table(snapshot: Snapshot, elapsed: float) -> list[str]:
    """The busiest names: count, failed share, rate, latency percentiles and max."""
    ranked = snapshot.requests_by_traffic()
    if not ranked:
        return []
    shown = ranked[:TOP_REQUESTS]
    header = ["count", "fail%", "/s", *(f"p{p:g}" for p in REQUEST_PERCENTILES), "max"]
    rows = [(f"  {stats.name}", _request_cells(stats, elapsed)) for stats in shown]
    lines = table(REQUESTS_TITLE, header, rows, SUMMARY_WIDTH)
    if len(ranked) > len(shown):
        more = len(ranked) - len(shown)
        lines.append(f"  ... {more} more request names in the report (--report, --html)")
    if any(stats.name == OTHER for stats in ranked):
        lines.append(OTHER_NOTE)
    return lines


def _status_table(snapshot: Snapshot) -> list[str]:
    """Responses by status code, and the requests that got none, as shares of all requests."""
    codes = snapshot.status_codes()
    if not codes and not snapshot.request_errors:
        return []
    requests = snapshot.requests
    rows: list[tuple[str, Sequence[str]]] = [
        (f"  {code}" if code else "  other codes", [str(n), share(n, requests)])
        for code, n in codes.items()
    ]
    if snapshot.request_errors:
        errors = snapshot.request_errors
        rows.append(("  no response", [str(errors), share(errors, requests)]))
    return table("Status codes", ["count", "share"], rows, SUMMARY_WIDTH)


def _checks_table(snapshot: Snapshot) -> list[str]:
    """Each check under the request it followed, busiest request first."""
    if not snapshot.checks:
        return []
    rank = {stats.name: i for i, stats in enumerate(snapshot.requests_by_traffic())}
    by_request: dict[str, list[CheckStats]] = {}
    for check in sorted(snapshot.checks, key=lambda c: (rank.get(c.request, len(rank)), c.request)):
        by_request.setdefault(check.request, []).append(check)
    rows: list[tuple[str, Sequence[str]]] = []
    for request, checks in by_request.items():
        rows.append((f"  {request or NO_REQUEST}", ()))
        rows += [
            (f"    {c.name}", [str(c.passes), str(c.failures), share(c.passes, c.count)])
            for c in checks
        ]
    lines = table("Checks", ["passes", "fails", "pass%"], rows, SUMMARY_WIDTH)
    if snapshot.checks_dropped:
        lines.append(f"  more checks, not listed: {snapshot.checks_dropped}")
    return lines
