"""``moloreport``: merge the JSON reports of several runs, print their summary, judge them.

It writes the merged run's ``--report``, ``--csv`` and ``--html`` as ``molotov`` does.

Counters and histogram buckets add, time series add on the same wall-clock second, so the
merge of N reports has exactly the numbers one run doing all their work would have had.
Reports of both workload models, and a merge the reader would refuse, are one line and exit 1
(:class:`~molotov.reports.jsonmerge.MergeError`).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from molotov.config.parsers import job_completion_index
from molotov.reports import jsonload, jsonmerge, jsonreport
from molotov.reports.outputs import write_reports
from molotov.reports.summary import OpenModel, closing_lines, summary_lines
from molotov.reports.thresholds import (
    EXIT_THRESHOLDS,
    ThresholdError,
    evaluate,
    gates_http_failures,
    parse_thresholds,
    result_lines,
)
from molotov.stdio import survive_closed_pipes

app = typer.Typer(
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
)


@app.command(
    help="Merge the molotov JSON reports REPORT... (written by --report), print the merged "
    "summary, apply thresholds."
)
def moloreport(
    # Described in the command's help: typer would show an argument's Python type beside it.
    reports: Annotated[list[str], typer.Argument(metavar="REPORT", hidden=True)],
    threshold: Annotated[
        list[str] | None,
        typer.Option(
            "--threshold",
            metavar="EXPR",
            help="A pass/fail gate, as for molotov (repeatable; a failed one exits 99).",
        ),
    ] = None,
    report: Annotated[
        str | None,
        typer.Option("--report", metavar="FILE", help="Write the merged report there."),
    ] = None,
    html: Annotated[
        str | None,
        typer.Option("--html", metavar="FILE", help="Write the merged run's HTML report there."),
    ] = None,
    csv: Annotated[
        str | None,
        typer.Option(
            "--csv",
            metavar="PREFIX",
            help="Write PREFIX_stats.csv, _failures.csv, _scenarios.csv, _history.csv of a merge.",
        ),
    ] = None,
) -> None:
    try:
        runs = [jsonload.load(path) for path in reports]
        merged = jsonmerge.merge_readable(runs, reports)
    except (jsonload.ReportError, jsonmerge.MergeError) as exc:
        sys.stderr.write(f"{exc}\n")
        raise typer.Exit(1) from None
    names = [s.name for s in merged.snapshot.scenarios]
    try:
        thresholds = parse_thresholds(threshold or (), names)
    except ThresholdError as exc:
        sys.stderr.write(f"{exc}\n")
        raise typer.Exit(2) from None
    verdicts = evaluate(thresholds, merged.snapshot, merged.load_seconds)
    lines = [f"Merged {merged.merged_from} report(s)"]
    open_model = OpenModel.of_runs([run.options for run in runs])
    gated = gates_http_failures(thresholds)
    lines += summary_lines(
        merged.snapshot, merged.load_seconds, open_model, merged.drain, http_gated=gated
    )
    lines += result_lines(verdicts) + closing_lines(merged.snapshot)
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()  # the verdict on stderr comes after it, also in `2>&1`
    failed = [v.failure_text() for v in verdicts if not v.passed]
    code = EXIT_THRESHOLDS if failed else 0
    problems = []
    if (report, html, csv) != (None, None, None):
        doc = jsonreport.document(merged, verdicts)
        index = job_completion_index()
        problems = write_reports(doc, code, index=index, report=report, csv=csv, html=html)
    if problems:
        code = 1  # a report that could not be written wins over a failed threshold, as in molotov
    if failed:
        problems.append(f"threshold(s) failed: {', '.join(failed)}")  # the verdict, last
    sys.stderr.write("".join(problem + "\n" for problem in problems))
    raise typer.Exit(code)


def main() -> None:
    survive_closed_pipes()  # `moloreport ... | head` is not an error
    typer.main.get_command(app).main(prog_name="moloreport", standalone_mode=True)
