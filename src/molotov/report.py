"""The end-of-run summary, built from the last snapshot.

Molotov's three closing lines always come last, so scripts that parse them keep working.
"""

from __future__ import annotations

from molotov import __version__
from molotov.console import error_line
from molotov.histogram import Histogram, format_percentiles, format_us
from molotov.snapshot import Snapshot

SUMMARY_PERCENTILES = (50, 90, 95, 99, 99.9)


def hello_line() -> str:
    return f"**** Molotov v{__version__}. Happy breaking! ****"


def closing_lines(snapshot: Snapshot) -> list[str]:
    return [
        hello_line(),
        f"SUCCESSES: {snapshot.successes} | FAILURES: {snapshot.failures}",
        "*** Bye ***",
    ]


def _durations(histogram: Histogram) -> str:
    if not histogram.count:
        return "no step finished"
    return (
        f"{format_percentiles(histogram, SUMMARY_PERCENTILES)} "
        f"max={format_us(histogram.max_us)} mean={format_us(histogram.mean_us)}"
    )


def summary_lines(snapshot: Snapshot, elapsed: float) -> list[str]:
    """Duration, rates, scenario-duration percentiles overall and per scenario, errors."""
    rate = snapshot.steps / elapsed if elapsed > 0 else 0.0
    lines = [
        f"Duration: {elapsed:.2f}s | Steps: {snapshot.steps} | Steps/s: {rate:.1f} "
        f"| Workers started: {snapshot.workers_started}",
        f"Scenario durations: {_durations(snapshot.durations)}",
    ]
    for stats in snapshot.scenarios:
        if not stats.steps:
            lines.append(f"  {stats.name}: not run")
            continue
        failed = 100.0 * stats.failures / stats.steps
        lines.append(
            f"  {stats.name}: {stats.successes} ok, {stats.failures} failed ({failed:.1f}%) "
            f"{_durations(stats.durations)}"
        )
    errors = snapshot.top_errors()
    if errors:
        lines.append("Errors:")
        lines += [f"  {error_line(error)}" for error in errors]
        if snapshot.errors_dropped:
            lines.append(f"  {snapshot.errors_dropped} x more errors of other kinds, not listed")
    return lines
