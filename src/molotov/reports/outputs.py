"""The report files of a run or of a merge, written from its one JSON report document.

``--report`` (JSON), ``--csv`` and ``--html`` all render the same document, built once, so
the three always agree, and ``molotov`` and ``moloreport`` write them the same way:
``{hostname}``/``{index}`` expand in each path, and each file is written atomically.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from molotov.config.parsers import expand_placeholders
from molotov.reports import csvreport, htmlreport, jsonreport


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
