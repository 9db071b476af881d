"""``--html PATH``: one self-contained HTML page of a run, drawn from its JSON report document.

The page is built from the document that ``--report`` writes
(:func:`molotov.reports.jsonreport.document`) and the exit code, never from the run's internal
objects, so ``molotov`` and ``moloreport`` (the merged run of many reports) share this one
renderer. Its JavaScript and CSS are inlined,
uPlot among them (vendored in ``uplot/``, see its README), and a Content-Security-Policy
forbids every fetch: the file opens from a USB stick in an air-gapped room.

Tables and numbers are HTML written here (:mod:`.sections`; the per-request ones in
:mod:`.byrequest`); the charts are drawn in the page from a JSON data block of downsampled
columns (:mod:`.downsample`, :mod:`.charts`), so the page stays small and fast for a 24-hour run.

A dashboard (:mod:`molotov.live.dashboard`) serves this same page while its run goes on: its
:class:`Page` parts, rendered here from the document so far, replace the page's own as they
come (``live.js``), and at the end the final report's, the page ``--html`` writes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from string import Template
from typing import Any

from molotov.reports.atomic import write_text
from molotov.reports.htmlreport import byrequest, charts, sections
from molotov.reports.htmlreport.downsample import Downsampled, downsample, joined_note
from molotov.reports.htmlreport.times import moment, parse


@cache
def _asset(name: str) -> str:
    return files(__name__).joinpath(name).read_text(encoding="utf-8")


def _script_json(value: Any) -> str:
    """JSON that is safe inside a ``<script>`` element: no ``</script>``, no ``<!--``."""
    text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


TAIL_NOTE = (
    "Latency is on a log scale; after its dashed line is the run's end (the stop's second and "
    "the drain after it, the steps still in flight), drawn but left out of the y range: its "
    "stalls would flatten the rest."
)


def _resolution_note(sampled: Downsampled) -> str:
    k = sampled.k
    if k == 1:
        return (
            "One point per second of the run (the report's series, as recorded). "
            + joined_note(sampled)
            + TAIL_NOTE
        )
    return (
        f"Each point is {k} seconds of the run: the per-second rows of {k} consecutive seconds "
        "merged. Counts add, so a rate is the average over those seconds; histogram buckets "
        "add, so a percentile is exact for the interval; workers and targets are averaged. "
        + joined_note(sampled)
        + TAIL_NOTE
    )


def _header(doc: Mapping[str, Any]) -> str:
    options = doc.get("options") or {}
    what = options.get("scenario") or "run"
    merged = int(doc.get("merged_from") or 1)
    also = f" · {merged} reports merged" if merged > 1 else ""
    return (
        f"<header><h1>molotov report: {sections.esc(what)}</h1>"
        f'<p class="muted">{moment(doc.get("started_at"))} → '
        f"{moment(doc.get('ended_at'))}{sections.esc(also)}</p></header>"
    )


@dataclass(frozen=True)
class Page:
    """A page's parts: its title, the content of its ``<main>`` and the charts' data block.
    A dashboard sends these to its browsers whenever the run's numbers change."""

    title: str
    body: str
    data: dict[str, Any]
    version: str  # molotov's, in the page's generator tag


def parts(
    doc: Mapping[str, Any], exit_code: int | None, sampled: Downsampled | None = None
) -> Page:
    """The parts of the page of a report document and the exit code of its run (or merge);
    ``exit_code`` None: a live run's numbers so far, ``sampled`` its series (by default, the
    document's series, downsampled)."""
    if sampled is None:
        ended = parse(doc.get("ended_at"))
        sampled = downsample(
            doc.get("series") or [],
            names=charts.request_names(doc),
            end=ended.timestamp() if ended else None,
        )
    request_charts = charts.request_charts(doc, sampled)
    time_charts = charts.time_charts(doc, sampled)
    distributions = charts.distributions(doc)
    uplot = _asset("uplot/VERSION").strip()
    body = "".join(
        [
            _header(doc),
            sections.verdict(doc, exit_code),
            sections.run_info(doc),
            sections.headline(doc),
            sections.options(doc),
            byrequest.requests(doc),
            byrequest.latency_charts(request_charts, sampled),
            byrequest.status_codes_and_checks(doc),
            sections.chart_slots(
                "series", "Over time", time_charts, sections.esc(_resolution_note(sampled))
            ),
            sections.chart_slots(
                "distribution",
                "Latency distribution",
                distributions,
                "Share of the values in each bin (log scale, 20 bins per power of ten); the "
                "dashed lines are the report's percentiles, exact from its histogram.",
            ),
            sections.scenarios(doc),
            sections.responses(doc),
            byrequest.errors(doc),
            f"<footer>molotov {sections.esc(doc.get('tool_version'))} · charts by uPlot "
            f"{sections.esc(uplot)} (MIT), inlined: this page needs no network.</footer>",
        ]
    )
    data = {
        "t": sampled.t,
        "k": sampled.k,
        "requests": request_charts,
        "charts": time_charts,
        "distributions": distributions,
    }
    title = f"molotov report: {(doc.get('options') or {}).get('scenario', '')}"
    return Page(title, body, data, str(doc.get("tool_version")))


CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"


def page(part: Page, live: Mapping[str, Any] | None = None) -> str:
    """The whole page. ``live``: a dashboard's page, which updates itself from the dashboard's
    stream (``live["events"]``, the stream's URL; ``live["stop"]`` and ``live["token"]``, the
    Stop button's POST, when it has one): it may then connect to its own origin, nothing else."""
    banner = script = ""
    if live is not None:
        stop = (
            '<button type="button" id="live-stop">Stop the run</button>' if live.get("stop") else ""
        )
        banner = (
            f"<style>{_asset('live.css')}</style>"
            '<div id="live" role="status"><span class="dot"></span>'
            f'<span id="live-state">Live: connecting…</span>{stop}</div>\n'
        )
        script = (
            f'\n<script type="application/json" id="molotov-live">{_script_json(live)}</script>'
            f"\n<script>{_asset('live.js')}</script>"
        )
    return Template(_asset("page.html")).substitute(
        version=sections.esc(part.version),
        title=sections.esc(part.title),
        csp=CSP if live is None else CSP + "; connect-src 'self'",
        uplot_css=_asset("uplot/uPlot.min.css"),
        style=_asset("report.css"),
        banner=banner,
        body=part.body,
        data=_script_json(part.data),
        uplot_js=_asset("uplot/uPlot.iife.min.js"),
        script=_asset("report.js"),
        live=script,
    )


def render(doc: Mapping[str, Any], exit_code: int) -> str:
    """The HTML page of a report document and the exit code of its run (or merge)."""
    return page(parts(doc, exit_code))


def write(path: str | Path, doc: Mapping[str, Any], exit_code: int) -> None:
    """Write the page of ``doc`` to ``path`` atomically."""
    write_text(path, render(doc, exit_code))
