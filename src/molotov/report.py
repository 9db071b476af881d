"""The end-of-run summary, built from the last snapshot.

Molotov's three closing lines always come last, so scripts that parse them keep working.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from molotov._version import __version__
from molotov.errors import REQUEST_ERROR_KINDS
from molotov.histogram import Histogram, format_percentiles, format_us
from molotov.snapshot import Snapshot

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


def summary_lines(
    snapshot: Snapshot, elapsed: float, open_model: OpenModel | None = None
) -> list[str]:
    """Rates, responses, latency and duration percentiles overall and per scenario, errors;
    with ``open_model``, the arrivals, their response times and what was dropped."""

    def rate(count: int) -> str:
        return f"{count / elapsed:.1f}/s" if elapsed > 0 else "-"

    steps = snapshot.steps
    lines = [
        f"Duration: {elapsed:.2f}s | Steps: {steps} ({rate(steps)}) "
        f"| Requests: {snapshot.requests} ({rate(snapshot.requests)}) "
        f"| Workers started: {snapshot.workers_started}",
        f"Responses: {statuses_text(snapshot)} | Request errors: {request_errors_text(snapshot)} "
        f"| Received: {format_bytes(snapshot.response_bytes)}",
        f"Request latency: {durations_text(snapshot.request_latency, LATENCY_PERCENTILES)}",
        f"Scenario durations: {_scenario_text(steps, snapshot.failures, snapshot.durations)}",
    ]
    for stats in snapshot.scenarios:
        lines.append(
            f"  {stats.name}: {_scenario_text(stats.steps, stats.failures, stats.durations)}"
        )
        if open_model is not None and stats.response_times.count:
            lines.append(f"    response times: {durations_text(stats.response_times)}")
    if open_model is not None:
        lines += open_model.lines(snapshot, elapsed)
    errors = snapshot.top_errors()
    if errors:
        lines.append("Errors:")
        lines += [f"  {error.line()}" for error in errors]
        if snapshot.errors_dropped:
            lines.append(f"  more errors of other kinds, not listed: {snapshot.errors_dropped}")
    return lines


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

    def lines(self, snapshot: Snapshot, elapsed: float) -> list[str]:
        arrivals = snapshot.arrivals
        achieved = f"{snapshot.started / elapsed:.1f}/s" if elapsed > 0 else "-"
        asked = f" (target {self.target_rate:g}/s)" if self.target_rate is not None else ""
        lateness = snapshot.start_lateness
        late = durations_text(lateness, (50, 99))
        lines = [
            f"Arrivals: {arrivals} | started: {snapshot.started} ({achieved}){asked} "
            f"| dropped: {snapshot.dropped}",
            f"Response times (from the scheduled start): {durations_text(snapshot.response_times)}",
            f"Start lateness: {late}",
        ]
        if snapshot.dropped:
            lines.append(self._dropped_words(snapshot))
        return lines

    def _dropped_words(self, snapshot: Snapshot) -> str:
        """Say it in words: the generator, not the target, was the limit."""
        text = f"{snapshot.dropped:,} arrivals dropped: "
        if snapshot.workers_started >= self.pool_limit:
            return text + (
                f"all {self.pool_limit} workers busy; the load generator, not the target, was "
                "the limit: raise --max-workers"
            )
        return text + (
            f"the pool grew to {snapshot.workers_started} of up to {self.pool_limit} workers "
            "too slowly; raise -w to set up more workers before the start"
        )


def _scenario_text(steps: int, failures: int, durations: Histogram) -> str:
    if not steps:
        return "not run"
    return f"count={steps} failures={100.0 * failures / steps:.1f}% {durations_text(durations)}"
