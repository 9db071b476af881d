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
from molotov.reports.thresholds import ThresholdError, evaluate, parse_thresholds, result_lines
from molotov.stdio import survive_closed_pipes

app = typer.Typer(
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
)


@app.command(help="Merge molotov JSON reports, print the merged summary, apply thresholds.")
def moloreport(
    reports: Annotated[list[str], typer.Argument(help="Report files written by --report.")],
    threshold: Annotated[
        list[str] | None,
        typer.Option("--threshold", help="A pass/fail gate, as for molotov (repeatable)."),
    ] = None,
    report: Annotated[
        str | None, typer.Option("--report", help="Write the merged report there.")
    ] = None,
    html: Annotated[
        str | None, typer.Option("--html", help="Write the merged run's HTML report there.")
    ] = None,
    csv: Annotated[
        str | None,
        typer.Option(
            "--csv",
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
    verdicts = evaluate(thresholds, merged.snapshot, merged.duration)
    lines = [f"Merged {merged.merged_from} report(s)"]
    open_model = OpenModel.of_runs([run.options for run in runs])
    lines += summary_lines(merged.snapshot, merged.duration, open_model) + result_lines(verdicts)
    lines += closing_lines(merged.snapshot)
    sys.stdout.write("\n".join(lines) + "\n")
    failed = [v.threshold.text for v in verdicts if not v.passed]
    if (report, html, csv) != (None, None, None):
        doc = jsonreport.document(merged, verdicts)
        code = 1 if failed else 0
        index = job_completion_index()
        problems = write_reports(doc, code, index=index, report=report, csv=csv, html=html)
        if problems:
            sys.stderr.write("\n".join(problems) + "\n")
            raise typer.Exit(1)
    if failed:
        sys.stderr.write(f"threshold(s) failed: {', '.join(failed)}\n")
        raise typer.Exit(1)


def main() -> None:
    survive_closed_pipes()  # `moloreport ... | head` is not an error
    typer.main.get_command(app).main(prog_name="moloreport", standalone_mode=True)
