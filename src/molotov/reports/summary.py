"""The end-of-run summary, built from the last snapshot.

Molotov's three closing lines always come last, so scripts that parse them keep working.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from molotov._version import __version__
from molotov.reports.requesttables import checks_headline, request_tables
from molotov.reports.tables import ms, table
from molotov.stats.histogram import Histogram, format_percentiles, format_us
from molotov.stats.snapshot import REQUEST_ERROR_KINDS, ErrorKind, Snapshot

SUMMARY_PERCENTILES = (50, 90, 95, 99, 99.9)
LATENCY_PERCENTILES = (50, 95, 99)


def hello_line() -> str:
    return f"**** Molotov v{__version__}. Happy breaking! ****"


def closing_lines(snapshot: Snapshot) -> list[str]:
    return [
        hello_line(),
        f"SUCCESSES: {snapshot.successes} | FAILURES: {snapshot.failures}",
        "*** Bye ***",
    ]


def format_bytes(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000:
            return f"{size:.0f}{unit}" if unit == "B" else f"{size:.1f}{unit}"
        size /= 1000
    return f"{size:.1f}TB"


def statuses_text(snapshot: Snapshot) -> str:
    """``2xx=30 4xx=10``, or ``none``."""
    return " ".join(f"{k}={v}" for k, v in snapshot.status_classes().items()) or "none"


def request_errors_text(snapshot: Snapshot) -> str:
    """``connection refused=3 timeout=1``, or ``none``."""
    counts = zip(REQUEST_ERROR_KINDS, snapshot.request_errors_by_kind, strict=True)
    return " ".join(f"{kind.label}={n}" for kind, n in counts if n) or "none"


def durations_text(histogram: Histogram, percents: tuple[float, ...] = SUMMARY_PERCENTILES) -> str:
    if not histogram.count:
        return "none"
    return f"{format_percentiles(histogram, percents)} max={format_us(histogram.max_us)}"


TABLE_PERCENTILES = (50, 90, 95, 99, 99.9)
# The step errors that say the target did not answer (see OpenModel._dropped_words).
_UNANSWERED = frozenset(
    {ErrorKind.CUT, ErrorKind.TIMEOUT, ErrorKind.CONNECTION, ErrorKind.REFUSED, ErrorKind.RESET}
)
SAMPLE_WIDTH = 140  # an invalid answer's sample, under its error line
DRAIN_WORTH_SAYING = 0.005  # seconds: below, the summary shows no drain
HTTP_FAILURES_WORTH_SAYING = 0.01  # a share of 4xx/5xx responses worth a hint


def summary_lines(
    snapshot: Snapshot,
    elapsed: float,
    open_model: OpenModel | None = None,
    drain: float = 0.0,
    http_gated: bool = False,
) -> list[str]:
    """Rates, responses and checks; tables of steps and of times (overall and per scenario),
    of requests by name, status codes and checks; in the open model, the arrivals and what
    was dropped; then the errors.

    ``elapsed`` is the seconds of load (start to stop), what every rate is per; ``drain`` the
    seconds after the stop while in-flight steps ended, said apart. ``http_gated``: a
    threshold already judges the HTTP failures (no hint suggests one)."""

    def rate(count: int) -> str:
        return f"{count / elapsed:.1f}/s" if elapsed > 0 else "-"

    steps = snapshot.steps
    width = terminal_width()
    lines = fold(
        [
            f"Duration: {elapsed:.2f}s{_drain_words(drain)}",
            f"Steps: {steps} ({rate(steps)})",
            f"Requests: {snapshot.requests} ({rate(snapshot.requests)})",
            f"Workers started: {snapshot.workers_started}",
        ],
        width,
    )
    lines += fold(
        [
            f"Responses: {statuses_text(snapshot)}",
            f"Request errors: {request_errors_text(snapshot)}{_retried_words(snapshot)}",
            f"Received: {format_bytes(snapshot.response_bytes)}",
            f"HTTP failures: {100 * snapshot.http_failure_rate:.2f}%",
        ],
        width,
    )
    lines += checks_headline(snapshot)
    if not http_gated:
        lines += _http_failure_words(snapshot)
    lines += _steps_table(snapshot, elapsed)
    lines += _times_table(snapshot, open_model is not None)
    lines += [*request_tables(snapshot, elapsed), ""]
    if open_model is not None:
        lines += open_model.lines(snapshot, elapsed, width)
    errors = snapshot.top_errors()
    if errors:
        lines.append("Errors:")
        for error in errors:
            lines.append(f"  {error.line()}")
            if error.kind is ErrorKind.PROTOCOL and error.traceback:
                # The first invalid answer (with -v, the last line of its traceback).
                lines.append(f"    {error.traceback.strip().splitlines()[-1][:SAMPLE_WIDTH]}")
        if snapshot.errors_dropped:
            lines.append(f"  more errors of other kinds, not listed: {snapshot.errors_dropped}")
    return lines


def _retried_words(snapshot: Snapshot) -> str:
    """`` (3 retried)``: the failed attempts aiohttp sent again, when there were some."""
    return f" ({snapshot.retried} retried)" if snapshot.retried else ""


def _drain_words(drain: float) -> str:
    """`` (+0.35s drain)``: the time after the stop, when there was some worth saying."""
    return f" (+{drain:.2f}s drain)" if drain >= DRAIN_WORTH_SAYING else ""


def _http_failure_words(snapshot: Snapshot) -> list[str]:
    """Say it when responses were 4xx/5xx and no step failed: the scenarios check nothing,
    and a threshold would. (Request errors are not counted: an unreachable target says so.)"""
    _, _, _, client, server, other = snapshot.statuses
    share = (client + server + other) / snapshot.requests if snapshot.requests else 0.0
    if snapshot.failures or share < HTTP_FAILURES_WORTH_SAYING:
        return []
    # At most 80 characters: one line on any terminal.
    return [
        f"{100 * share:.1f}% 4xx/5xx responses, no failed step: "
        "add --threshold 'http_failure_rate<1%'"
    ]


def terminal_width() -> int:
    """The terminal's columns ($COLUMNS first); 0 when no terminal says: lines are then not
    folded, so a script reading a pipe finds each item on its usual line."""
    return shutil.get_terminal_size((0, 0)).columns


def fold(parts: Sequence[str], width: int) -> list[str]:
    """``a | b | c`` on as few lines of ``width`` columns (0: one line) as it takes, broken
    between two parts, never inside one: a terminal would cut ``Workers st|arted``."""
    lines = [parts[0]]
    for part in parts[1:]:
        joined = f"{lines[-1]} | {part}"
        if width and len(joined) > width:
            lines.append(f"  {part}")
        else:
            lines[-1] = joined
    return lines


def wrap(text: str, width: int) -> list[str]:
    """A sentence on lines of ``width`` columns (0: one line), broken between words."""
    if not width:
        return [text]
    return textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False)


def _steps_table(snapshot: Snapshot, elapsed: float) -> list[str]:
    def cells(steps: int, failures: int) -> list[str]:
        share = f"{100.0 * failures / steps:.1f}%" if steps else "-"
        per_second = f"{steps / elapsed:.1f}" if elapsed > 0 else "-"
        return [str(steps), str(failures), share, per_second]

    rows = [("  all", cells(snapshot.steps, snapshot.failures))]
    rows += [(f"  {s.name}", cells(s.steps, s.failures)) for s in snapshot.scenarios]
    return table("Steps", ["count", "failed", "fail%", "/s"], rows)


def _time_cells(histogram: Histogram) -> list[str]:
    if not histogram.count:
        return ["-"] * (len(TABLE_PERCENTILES) + 3)
    return [
        ms(histogram.min_us),
        *(ms(histogram.percentile_us(p)) for p in TABLE_PERCENTILES),
        ms(histogram.max_us),
        ms(histogram.mean_us),
    ]


def _times_table(snapshot: Snapshot, open_model: bool) -> list[str]:
    """Step durations (service times), request latency and, in the open model, response
    times and start lateness: min, percentiles, max and mean, in ms."""
    header = ["min", *(f"p{p:g}" for p in TABLE_PERCENTILES), "max", "mean"]
    rows = [("  step durations", _time_cells(snapshot.durations))]
    rows += [(f"    {s.name}", _time_cells(s.durations)) for s in snapshot.scenarios]
    if open_model:
        rows.append(("  response times", _time_cells(snapshot.response_times)))
        rows += [(f"    {s.name}", _time_cells(s.response_times)) for s in snapshot.scenarios]
        rows.append(("  start lateness", _time_cells(snapshot.start_lateness)))
    rows.append(("  request latency", _time_cells(snapshot.request_latency)))
    return table("Times (ms)", header, rows)


@dataclass(frozen=True)
class OpenModel:
    """What the summary says of an open-model run besides the snapshot."""

    target_rate: float | None  # arrivals/s asked for (None: it followed stages)
    pool_limit: int  # the most workers the run could have had, every process together

    @classmethod
    def of_runs(cls, runs: Sequence[Mapping[str, Any]]) -> OpenModel | None:
        """From the options of one run or of every run a report merges (None: closed)."""
        if not runs or any(options.get("rate") is None for options in runs):
            return None
        staged = any(options.get("stages") for options in runs)
        return cls(
            None if staged else sum(float(options["rate"]) for options in runs),
            sum(
                int(options.get("max_workers") or options["workers"]) * int(options["processes"])
                for options in runs
            ),
        )

    def lines(self, snapshot: Snapshot, elapsed: float, width: int = 0) -> list[str]:
        arrivals = snapshot.arrivals
        achieved = f"{snapshot.started / elapsed:.1f}/s" if elapsed > 0 else "-"
        asked = f" (target {self.target_rate:g}/s)" if self.target_rate is not None else ""
        parts = [
            f"Arrivals: {arrivals}",
            f"started: {snapshot.started} ({achieved}){asked}",
            f"dropped: {snapshot.dropped}",
            f"start lateness p99: {format_us(snapshot.start_lateness.percentile_us(99))}, "
            f"max: {format_us(snapshot.start_lateness.max_us)}",
        ]
        lines = fold(parts, width)
        if snapshot.dropped:
            lines += wrap(self._dropped_words(snapshot), width)
        return lines

    def _dropped_words(self, snapshot: Snapshot) -> str:
        """Say it in words which was the limit: a target that did not answer (most steps
        timed out, were cut off at the stop or could not connect), or the load generator."""
        text = f"{snapshot.dropped:,} arrivals dropped: "
        unanswered = sum(e.count for e in snapshot.errors if e.kind in _UNANSWERED)
        if snapshot.steps and 2 * unanswered >= snapshot.steps:
            return text + (
                f"the workers waited on a target that did not answer ({unanswered:,} of "
                f"{snapshot.steps:,} steps timed out, were cut off or could not connect): the "
                "target, not the load generator, was the limit"
            )
        if snapshot.workers_started >= self.pool_limit:
            return text + (
                f"all {self.pool_limit} workers busy; the load generator, not the target, was "
                "the limit: raise --max-workers"
            )
        return text + (
            f"the pool grew to {snapshot.workers_started} of up to {self.pool_limit} workers "
            "too slowly; raise -w to set up more workers before the start"
        )
