"""The page's per-request text: the requests table, status codes, checks, errors by place.

Read from the report's ``by_request``, ``status_codes``, ``checks`` and ``errors`` (a report of
an older molotov lacks some: the section then says so). The requests table lists every name of
the report, busiest first as the report orders them; each row's bar spans p50 to p99 on one log
scale shared by all rows, so a slow name stands out at a glance. Errors are grouped by the
scenario and the request they happened in, the group with the most first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from molotov.reports.htmlreport.downsample import Downsampled, joined_note
from molotov.reports.htmlreport.sections import (
    cell,
    chart_slots,
    count,
    esc,
    ms,
    percent,
    rate,
    section,
    table,
)
from molotov.reports.summary import format_bytes

REQUEST_HEADERS = (
    "request",
    "requests",
    "fail %",
    "/s",
    "p50",
    "p95",
    "p99",
    "max",
    "bytes",
    "p50 → p99",
)
FLOOR_MS = 0.001  # a microsecond: where the log scale of the bars starts at the lowest


class _Scale:
    """Where a duration falls on the bars' log scale, in % of the bar column's width."""

    def __init__(self, latencies: Sequence[Mapping[str, Any]]) -> None:
        measured = [block for block in latencies if block.get("count")]
        self.low = min((_positive(b.get("p50_ms")) for b in measured), default=FLOOR_MS)
        self.high = max((_positive(b.get("p99_ms")) for b in measured), default=FLOOR_MS)
        self._span = math.log10(self.high / self.low) or 1.0

    def at(self, value_ms: Any) -> float:
        return round(100 * math.log10(_positive(value_ms) / self.low) / self._span, 2)


def _positive(value_ms: Any) -> float:
    return max(float(value_ms or 0), FLOOR_MS)


def _bar(latency: Mapping[str, Any], scale: _Scale) -> str:
    """A bar from p50 to p99 with a tick at p95 (nothing when the name has no latency)."""
    if not latency.get("count"):
        return cell("", None)
    p50, p95, p99 = (latency.get(f"{name}_ms") for name in ("p50", "p95", "p99"))
    left, right = scale.at(p50), scale.at(p99)
    what = f"p50 {ms(p50)}, p95 {ms(p95)}, p99 {ms(p99)}"
    return cell(
        f'<div class="bar" title="{esc(what)}"><span class="range" '
        f'style="left:{left}%;width:{right - left}%"></span>'
        f'<span class="tick" style="left:{scale.at(p95)}%"></span></div>',
        p99,
    )


def _request_row(name: str, stats: Mapping[str, Any], scale: _Scale) -> str:
    latency = stats.get("latency") or {}
    failure_rate = float(stats.get("failure_rate") or 0)
    shown_rate = percent(failure_rate)
    cells = [
        f'<th scope="row">{esc(name)}</th>',
        cell(count(stats.get("requests")), int(stats.get("requests") or 0)),
        cell(
            f'<span class="fail">{shown_rate}</span>' if failure_rate else shown_rate, failure_rate
        ),
        cell(esc(rate(stats.get("requests_per_s"))), stats.get("requests_per_s") or 0),
    ]
    for key in ("p50_ms", "p95_ms", "p99_ms", "max_ms"):
        value = latency.get(key) if latency.get("count") else None
        cells.append(cell(esc(ms(value)), value))
    size = int(stats.get("response_bytes") or 0)
    cells += [cell(esc(format_bytes(size)), size), _bar(latency, scale)]
    return f'<tr data-request="{esc(name)}">{"".join(cells)}</tr>'


def requests(doc: Mapping[str, Any]) -> str:
    """Every request name of the report, a sortable row each, busiest first."""
    named: Mapping[str, Mapping[str, Any]] = doc.get("by_request") or {}
    if not named:
        return section(
            "requests", "Requests", "<p class=muted>No request names in this report.</p>"
        )
    scale = _Scale([stats.get("latency") or {} for stats in named.values()])
    rows = [_request_row(name, stats, scale) for name, stats in named.items()]
    note = (
        f'<p class="muted">{count(len(named))} request names, busiest first; click a column to '
        f"sort. A bar spans p50 to p99, its tick is p95, on one log scale for every row: "
        f"{esc(ms(scale.low))} to {esc(ms(scale.high))}.</p>"
    )
    listed = table(REQUEST_HEADERS, rows, "sortable requests", descending=1)
    return section("requests", "Requests", f'{note}<div class="scroll">{listed}</div>')


def latency_charts(charts: Sequence[Mapping[str, Any]], sampled: Downsampled) -> str:
    """The frames of the per-request latency charts (:func:`.charts.request_charts`)."""
    k = sampled.k
    points = "each second" if k == 1 else f"of every {k} seconds (their buckets merged)"
    note = (
        f"p50, p95 and p99 {points} of the busiest request names that the report has per "
        "second, on a log scale: a name's slow seconds show next to its fast ones. "
        + joined_note(sampled)
        + "The run's end, after the dashed line (the stop and the drain), is left out of the "
        "y range."
    )
    return chart_slots("request-latency", "Latency by request, over time", charts, note)


def _code_label(code: str) -> str:
    if code == "0":
        return "other codes"  # codes past the table's room, counted together
    try:
        return f"{code} {HTTPStatus(int(code)).phrase}"
    except ValueError:
        return code


def status_codes(doc: Mapping[str, Any]) -> str:
    codes: Mapping[str, Any] = doc.get("status_codes") or {}
    answered = sum(int(n or 0) for n in codes.values())
    if not answered:
        return section("status-codes", "Status codes", "<p class=muted>No responses.</p>")
    rows = [
        f'<tr data-code="{esc(code)}"><th scope="row">{esc(_code_label(code))}</th>'
        + cell(count(n), int(n or 0))
        + cell(percent(int(n or 0) / answered), int(n or 0) / answered)
        + "</tr>"
        for code, n in sorted(codes.items(), key=lambda item: int(item[0]))
    ]
    listed = table(("status code", "responses", "share"), rows, "sortable status-codes")
    return section("status-codes", "Status codes", listed)


def _check_row(item: Mapping[str, Any]) -> str:
    passes, failures = int(item.get("passes") or 0), int(item.get("failures") or 0)
    share = passes / (passes + failures) if passes + failures else 1.0
    shown = percent(share)
    return (
        f'<tr data-check="{esc(item.get("name"))}" data-request="{esc(item.get("request"))}">'
        f'<th scope="row">{esc(item.get("name"))}</th>'
        + cell(esc(item.get("request") or "—"))
        + cell(count(passes), passes)
        + cell(count(failures), failures)
        + cell(f'<span class="fail">{shown}</span>' if failures else shown, share)
        + "</tr>"
    )


def checks(doc: Mapping[str, Any]) -> str:
    """The checks (``molotov.check``): the overall pass rate, then each (check, request)."""
    block: Mapping[str, Any] = doc.get("checks") or {}
    passed, failed = int(block.get("passed") or 0), int(block.get("failed") or 0)
    if not passed + failed:
        return section("checks", "Checks", "<p class=muted>No checks (molotov.check).</p>")
    rate_ = float(block.get("rate") or 0)
    dropped = int(block.get("dropped") or 0)
    more = f", {count(dropped)} past the table's room (in the rate, not listed)" if dropped else ""
    summary = (
        f'<p data-key="checks">{count(passed)} passed, {count(failed)} failed: '
        f'<b class="{"fail" if failed else "pass"}" data-key="checks_rate">{percent(rate_)}</b> '
        f"passed{more}.</p>"
    )
    rows = [_check_row(item) for item in block.get("items") or ()]
    headers = ("check", "request", "passes", "failures", "pass %")
    return section(
        "checks", "Checks", summary + table(headers, rows, "sortable checks", numeric_from=2)
    )


def status_codes_and_checks(doc: Mapping[str, Any]) -> str:
    return f'<div class="side">{status_codes(doc)}{checks(doc)}</div>'


def _group_label(scenario: str, request: str) -> str:
    where = esc(scenario) if scenario else "<i>no scenario</i> (a fixture or a pick)"
    return where + " · " + (esc(request) if request else "<i>not raised by a request</i>")


def errors(doc: Mapping[str, Any]) -> str:
    """The report's errors, grouped by (scenario, request), the most frequent group first."""
    listed: Sequence[Mapping[str, Any]] = doc.get("errors") or []
    if not listed:
        return section("errors", "Errors", "<p class=muted>No errors.</p>")
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for error in listed:
        where = (str(error.get("scenario") or ""), str(error.get("request") or ""))
        groups.setdefault(where, []).append(error)
    ordered = sorted(groups.items(), key=lambda g: -sum(int(e.get("count") or 0) for e in g[1]))
    bodies = []
    for (scenario, request), items in ordered:
        total = sum(int(e.get("count") or 0) for e in items)
        head = (
            f'<tr class="group"><th scope="rowgroup" colspan="2">'
            f"{_group_label(scenario, request)}</th>{cell(count(total), total)}</tr>"
        )
        rows = "".join(
            '<tr class="error">'
            + cell(esc(e.get("kind")))
            + cell(f"<code>{esc(e.get('message'))}</code>")
            + cell(count(e.get("count")), e.get("count"))
            + "</tr>"
            for e in items
        )
        bodies.append(
            f'<tbody data-scenario="{esc(scenario)}" data-request="{esc(request)}">'
            f"{head}{rows}</tbody>"
        )
    dropped = int(doc.get("errors_dropped") or 0)
    more = (
        f"<p class=muted>More errors of other kinds, not listed: {count(dropped)}.</p>"
        if dropped
        else ""
    )
    head = '<thead><tr><th scope="col">kind</th><th scope="col">message</th>'
    head += '<th scope="col" class=num>count</th></tr></thead>'
    note = "<p class=muted>Grouped by the scenario and the request they happened in.</p>"
    return section(
        "errors", "Errors", f'{note}<table class="errors">{head}{"".join(bodies)}</table>{more}'
    )
