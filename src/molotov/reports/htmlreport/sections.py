"""The page's text: verdict, options and timing, headline numbers, tables, as HTML.

Everything comes from the JSON report document (and the exit code), read with ``dict.get`` for
the keys that older reports lack. Every value is escaped. Numbers a reader compares carry a
``data-key`` (headline tiles) or a ``data-value`` (sortable cells): the raw number, so the
page's sort works on values, not on their text.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from molotov.reports.htmlreport.times import moment, span
from molotov.reports.summary import format_bytes
from molotov.reports.thresholdmetrics import PERCENTILES
from molotov.reports.thresholds import ThresholdError, ThresholdResult, parse_threshold
from molotov.stats.histogram import format_us

RUNNING = "running"  # the stop reason of a dashboard's document while its run goes on
STOP_REASONS = {
    "duration": "the duration (-d) was reached",
    "signal": "stopped by a signal (Ctrl-C, SIGTERM)",
    "exception": "-x: stopped at the first failure",
    "fail": "--fail: the failure limit was reached",
    "sizing": "--sizing: the failure tolerance was reached",
    "finished": "every worker finished its runs (-r, --single-run)",
    "merged": "reports merged by moloreport",
}


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def count(n: Any) -> str:
    return f"{int(n or 0):,}"


def rate(per_s: Any) -> str:
    return f"{float(per_s or 0):,.1f}/s"


def ms(value: Any) -> str:
    """A duration given in ms, written as the console writes durations."""
    return "—" if value is None else format_us(float(value) * 1000)


def percent(fraction: Any) -> str:
    return f"{100 * float(fraction or 0):.2f}%"


def cell(text: str, value: object = None) -> str:
    sort = "" if value is None else f' data-value="{esc(value)}"'
    return f"<td{sort}>{text}</td>"


def table(
    headers: Sequence[str],
    rows: Iterable[str],
    cls: str = "",
    foot: str = "",
    numeric_from: int = 1,
    descending: int | None = None,
) -> str:
    """A table; columns from ``numeric_from`` on are numbers (right-aligned, sorted as such);
    ``descending``: the column its rows are already sorted by, largest first."""
    head = "".join(
        f'<th scope="col"{" class=num" if i >= numeric_from else ""}'
        f"{' aria-sort=descending' if i == descending else ''}>{esc(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = "".join(rows)
    tfoot = f"<tfoot>{foot}</tfoot>" if foot else ""
    return (
        f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody>{tfoot}</table>'
    )


def section(ident: str, title: str, content: str) -> str:
    return f'<section id="{ident}"><h2>{esc(title)}</h2>{content}</section>'


# -- verdict --------------------------------------------------------------------------------


def _observed(expression: str, observed: Any) -> str:
    """A threshold's observed value as the console's thresholds table writes it."""
    value = math.nan if observed is None else float(observed)
    try:
        return ThresholdResult(parse_threshold(expression), value, False).observed_text()
    except ThresholdError:  # not molotov's expression: the number as it is
        return f"{value:g}"


def _live_badge() -> str:
    return (
        '<p class="verdict live" data-key="verdict"><span class="badge">LIVE</span> '
        "the run goes on: its numbers so far, the final report at its end.</p>"
    )


def verdict(doc: Mapping[str, Any], exit_code: int | None) -> str:
    """The exit code and why the run stopped (None: a live run's numbers so far), then the
    thresholds and their results."""
    if exit_code is None:
        return section("verdict", "Verdict", _live_badge())
    passed = exit_code == 0
    reason = str(doc.get("stop_reason") or "")
    explained = STOP_REASONS.get(reason, reason or "unknown")
    badge = (
        f'<p class="verdict {"pass" if passed else "fail"}" data-key="verdict">'
        f'<span class="badge">{"PASS" if passed else "FAIL"}</span> '
        f'exit code <b data-key="exit_code">{exit_code}</b> · '
        f'stopped: <b data-key="stop_reason">{esc(reason or "?")}</b> ({esc(explained)})</p>'
    )
    thresholds = doc.get("thresholds") or []
    if not thresholds:
        return section(
            "verdict", "Verdict", badge + "<p class=muted>No thresholds (--threshold) set.</p>"
        )
    rows = []
    for result in thresholds:
        observed = result.get("observed")
        shown = _observed(str(result.get("expression") or ""), observed)
        if result.get("reason"):  # why there is no value: an unknown request name, ...
            shown = f"{shown} ({result['reason']})"
        ok = bool(result.get("passed"))
        rows.append(
            "<tr>"
            + cell(f"<code>{esc(result.get('expression'))}</code>")
            + cell(esc(shown), observed)
            + cell(
                f'<span class="{"pass" if ok else "fail"}">{"pass" if ok else "FAIL"}</span>',
                int(ok),
            )
            + "</tr>"
        )
    listed = table(("threshold", "observed", "result"), rows, "thresholds")
    return section("verdict", "Verdict", badge + listed)


# -- options and timing ---------------------------------------------------------------------


def _option_value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or "—"
    if isinstance(value, (dict, bool)):
        return json.dumps(value)
    return str(value)


def run_info(doc: Mapping[str, Any]) -> str:
    """When the run was, how long, how; its options are :func:`options`, folded."""
    seconds = float(doc.get("duration_s") or 0)
    timing = [
        ("started", moment(doc.get("started_at"))),
        ("updated" if doc.get("stop_reason") == RUNNING else "ended", moment(doc.get("ended_at"))),
        (
            "duration",
            f'<span data-key="duration" title="{seconds:.3f} s">{esc(span(seconds))}</span>',
        ),
        ("workload model", esc(doc.get("model") or "closed")),
        ("reports merged", esc(doc.get("merged_from", 1))),
        ("molotov", esc(doc.get("tool_version"))),
    ]
    dl = "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in timing)
    return section("run", "Run", f'<dl class="timing">{dl}</dl>')


def options(doc: Mapping[str, Any]) -> str:
    """Every option of the run (dozens), folded: the headline numbers come first."""
    named = doc.get("options") or {}
    listed = "".join(
        f"<dt>{esc(k)}</dt><dd>{esc(_option_value(v))}</dd>" for k, v in sorted(named.items())
    )
    return (
        f'<details id="options"><summary>Options: the run\'s {count(len(named))} options'
        f'</summary><dl class="options">{listed}</dl></details>'
    )


# -- headline numbers -----------------------------------------------------------------------


def _tile(key: str, label: str, value: str, detail: str = "") -> str:
    small = f"<small>{detail}</small>" if detail else ""
    return (
        f'<div class="tile" data-key="{esc(key)}"><span class="label">{esc(label)}</span>'
        f'<span class="value">{value}</span>{small}</div>'
    )


def _latency_tile(key: str, label: str, block: Mapping[str, Any] | None) -> str:
    if not block or not block.get("count"):
        return _tile(key, label, "—", "none measured")
    parts = "".join(
        f'<span data-key="{esc(key)}.{name}">{esc(ms(block.get(f"{name}_ms")))}'
        f"<small>{name}</small></span>"
        for name in ("p50", "p95", "p99")
    )
    return _tile(
        key, label, f'<span class="pcts">{parts}</span>', f"max {esc(ms(block.get('max_ms')))}"
    )


def headline(doc: Mapping[str, Any]) -> str:
    totals = doc.get("totals") or {}
    tiles = [
        _tile(
            "steps_per_s",
            "steps/s",
            esc(rate(totals.get("steps_per_s"))),
            f'<span data-key="steps">{count(totals.get("steps"))}</span> steps',
        ),
        _tile(
            "requests_per_s",
            "requests/s",
            esc(rate(totals.get("requests_per_s"))),
            f'<span data-key="requests">{count(totals.get("requests"))}</span> requests',
        ),
        _tile(
            "failure_rate",
            "failure rate",
            esc(percent(totals.get("failure_rate"))),
            f'<span data-key="failures">{count(totals.get("failures"))}</span> failed steps',
        ),
        _latency_tile("request_latency", "request latency", doc.get("request_latency")),
        _latency_tile("scenario_durations", "step durations", doc.get("scenario_durations")),
        _tile(
            "request_errors",
            "request errors",
            count(totals.get("request_errors")),
            "requests without a response",
        ),
        _tile("workers_started", "workers started", count(totals.get("workers_started"))),
        _tile(
            "response_bytes",
            "received",
            esc(format_bytes(float(totals.get("response_bytes") or 0))),
            "response bodies",
        ),
    ]
    if doc.get("model") == "open":
        tiles.append(
            _tile(
                "dropped",
                "dropped arrivals",
                count(totals.get("dropped")),
                f'of <span data-key="arrivals">{count(totals.get("arrivals"))}</span> arrivals',
            )
        )
    return section("headline", "Headline", f'<div class="tiles">{"".join(tiles)}</div>')


# -- charts ---------------------------------------------------------------------------------


def _marks(chart: Mapping[str, Any]) -> str:
    marks = chart.get("marks") or []
    if not marks:
        return ""
    text = " · ".join(
        f'<span data-mark="{esc(m["label"])}">{esc(m["label"])} {esc(ms(m["ms"]))}</span>'
        for m in marks
    )
    return f'<p class="marks">{text}</p>'


def _totals(chart: Mapping[str, Any]) -> str:
    """A chart's legend of totals (each with its series' colour), and its note."""
    totals = chart.get("totals") or []
    text = " · ".join(
        f'<span data-total="{esc(t["label"])}"><i class="swatch" style="background:var(--c'
        f'{i % 8 + 1})"></i>{esc(t["label"])} {count(t["count"])}</span>'
        for i, t in enumerate(totals)
    )
    note = f' <span class="muted">{esc(chart["note"])}</span>' if chart.get("note") else ""
    return f'<p class="legend">In all: {text}.{note}</p>' if totals else ""


def chart_slots(ident: str, title: str, charts: Sequence[Mapping[str, Any]], note: str) -> str:
    """Empty frames the page's script draws the charts into (in the order of ``charts``)."""
    if not charts:
        return section(ident, title, '<p class="muted">Nothing was measured.</p>')
    frames = "".join(
        f'<figure class="chart" data-chart="{esc(c["id"])}"><figcaption>{esc(c["title"])}'
        f'</figcaption><div class="plot"></div>{_marks(c)}{_totals(c)}</figure>'
        for c in charts
    )
    return section(ident, title, f'<p class="muted">{note}</p><div class="charts">{frames}</div>')


# -- tables ---------------------------------------------------------------------------------


def _scenario_row(name: str, stats: Mapping[str, Any], with_response: bool) -> str:
    durations = stats.get("durations") or {}
    steps = int(stats.get("successes") or 0) + int(stats.get("failures") or 0)
    failures = int(stats.get("failures") or 0)
    share = failures / steps if steps else 0.0
    cells = [
        f'<th scope="row">{esc(name)}</th>',
        cell(count(steps), steps),
        cell(count(failures), failures),
        cell(percent(share), share),
        cell(esc(rate(stats.get("steps_per_s"))), stats.get("steps_per_s") or 0),
    ]
    for key in [f"{p}_ms" for p in PERCENTILES] + ["max_ms", "mean_ms"]:
        cells.append(cell(esc(ms(durations.get(key))), durations.get(key)))
    if with_response:
        p99 = (stats.get("response_times") or {}).get("p99_ms")
        cells.append(cell(esc(ms(p99)), p99))
    return f'<tr data-scenario="{esc(name)}">{"".join(cells)}</tr>'


def scenarios(doc: Mapping[str, Any]) -> str:
    named = doc.get("scenarios") or {}
    headers = ["scenario", "steps", "failures", "failure %", "steps/s"]
    headers += [*PERCENTILES, "max", "mean"]
    # Response times (from the arrival) are the open model's: a closed run's are empty.
    with_response = doc.get("model") == "open"
    if with_response:
        headers.append("response p99")
    rows = [_scenario_row(name, stats, with_response) for name, stats in sorted(named.items())]
    totals = doc.get("totals") or {}
    everything = {
        "successes": totals.get("successes"),
        "failures": totals.get("failures"),
        "steps_per_s": totals.get("steps_per_s"),
        "durations": doc.get("scenario_durations"),
        "response_times": doc.get("scenario_response_times"),
    }
    foot = _scenario_row("all", everything, with_response)
    note = '<p class="muted">Click a column to sort. Durations are step durations.</p>'
    return section(
        "scenarios",
        "Scenarios",
        note + table(headers, rows, "sortable scenarios", foot),
    )


def responses(doc: Mapping[str, Any]) -> str:
    classes = doc.get("status_classes") or {}
    answered = sum(int(v or 0) for v in classes.values())
    status_rows = [
        "<tr>"
        + f'<th scope="row">{esc(label)}</th>'
        + cell(count(n), n)
        + cell(percent(int(n or 0) / answered if answered else 0), n)
        + "</tr>"
        for label, n in classes.items()
    ]
    kinds = doc.get("request_errors") or {}
    error_rows = [
        f'<tr><th scope="row">{esc(kind)}</th>' + cell(count(n), n) + "</tr>"
        for kind, n in kinds.items()
        if n
    ]
    errors_table = (
        table(("request error", "count"), error_rows, "request-errors")
        if error_rows
        else "<p class=muted>No request errors: every request got a response.</p>"
    )
    return section(
        "responses",
        "Responses",
        '<div class="side">'
        + table(("status class", "responses", "share"), status_rows, "statuses")
        + errors_table
        + "</div>",
    )
