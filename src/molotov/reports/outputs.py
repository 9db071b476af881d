"""The report files of a run or of a merge, written from its one JSON report document.

``--report`` (JSON), ``--csv`` and ``--html`` all render the same document, built once, so
the three always agree, and ``molotov`` and ``moloreport`` write them the same way:
``{hostname}``/``{index}`` expand in each path, and each file is written atomically.
:func:`unwritable_outputs` checks the same paths before a run, so a typo does not cost the
run's report.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from molotov.config.parsers import expand_placeholders
from molotov.reports import csvreport, htmlreport, jsonreport
from molotov.reports.atomic import unwritable


def write_reports(
    doc: dict[str, Any],
    exit_code: int,
    *,
    index: int,
    report: str | None = None,
    csv: str | None = None,
    html: str | None = None,
) -> list[str]:
    """Write the files asked for; one message for each that could not be written.

    ``exit_code`` is the verdict the HTML page shows: the run's (or the merge's) exit code
    before any file is written; ``index`` is what ``{index}`` in a path stands for.
    """
    jobs: list[tuple[str, str, Callable[[str], None]]] = []
    if report is not None:
        jobs.append(("report", report, lambda path: jsonreport.write(path, doc)))
    if csv is not None:
        jobs.append(("CSV report", csv, lambda prefix: csvreport.write(prefix, doc)))
    if html is not None:
        jobs.append(("HTML report", html, lambda path: htmlreport.write(path, doc, exit_code)))
    problems = []
    for what, given, write in jobs:
        path = expand_placeholders(given, index)
        try:
            write(path)
        except OSError as exc:
            problems.append(f"Cannot write the {what} {path!r}: {exc.strerror or exc}")
    return problems


def unwritable_outputs(
    *,
    index: int,
    report: str | None = None,
    csv: str | None = None,
    html: str | None = None,
) -> list[str]:
    """One line for each output asked for that :func:`write_reports` could not write, found
    now without writing anything (``--report -`` is stdout: nothing to check); ``index`` as
    for :func:`write_reports`."""
    problems = []
    for flag, given in (("--report", report), ("--csv", csv), ("--html", html)):
        if given is None or (flag == "--report" and given == "-"):
            continue
        path = expand_placeholders(given, index)
        files = tuple(csvreport.paths(path).values()) if flag == "--csv" else (Path(path),)
        for file in files:
            why = unwritable(file)
            if why is not None:
                named = "" if file == Path(path) else f" ({str(file)!r})"
                problems.append(f"{flag} {path!r}: cannot write there{named}: {why}")
                break
    return problems
