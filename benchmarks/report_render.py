"""The HTML report of a 24-hour run: how long it takes to render, and to open in a browser.

Run by ``nox -s bench_report`` (or ``python benchmarks/report_render.py`` where molotov and
Playwright are installed, and Debian's ``chromium``). It makes a synthetic open-model report
of ``--seconds`` (default 86,400: a day, one series row per second; tests/synthetic.py), then
``--repeat`` times, alternating:

* **render**: ``htmlreport.render(doc, 0)``, the page from the document, downsampling
  included (what ``molotov --html`` adds at the end of a run);
* **load**: a fresh page of headless Chromium opens the written file from disk and waits
  until every chart is drawn (``window.molotovCharts`` complete);

and prints the median of each, and of their sum, against the issue's target: under 2 s. The
CSV files of the same document are timed once, for the record.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from browser import chromium, missing
from molotov.reports import csvreport, htmlreport
from synthetic import synthetic_document

TARGET_S = 2.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=86_400, help="length of the run")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs (median shown)")
    args = parser.parse_args()
    reason = missing()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 1

    started = time.perf_counter()
    doc = synthetic_document(args.seconds)
    print(f"synthetic report: {len(doc['series']):,} series rows, made in "
          f"{time.perf_counter() - started:.1f} s")  # fmt: skip
    renders, loads = [], []
    with tempfile.TemporaryDirectory() as folder, chromium() as browser:
        page_file = Path(folder) / "report.html"
        for _ in range(args.repeat):
            started = time.perf_counter()
            page_text = htmlreport.render(doc, 0)
            renders.append(time.perf_counter() - started)
            page_file.write_text(page_text, encoding="utf-8")
            charts = page_text.count('class="chart"')
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            started = time.perf_counter()
            page.goto(page_file.as_uri(), wait_until="load")
            page.wait_for_function(f"(window.molotovCharts || []).length === {charts}")
            loads.append(time.perf_counter() - started)
            page.close()
        size = page_file.stat().st_size
        started = time.perf_counter()
        csvreport.write(Path(folder) / "run", doc)
        csv_s = time.perf_counter() - started

    render, load = statistics.median(renders), statistics.median(loads)
    total = statistics.median(r + lo for r, lo in zip(renders, loads, strict=True))
    print(f"page: {size / 1000:.0f} kB, {charts} charts")
    print(f"render (Python)   median {render:.3f} s   runs: {_list(renders)}")
    print(f"load (Chromium)   median {load:.3f} s   runs: {_list(loads)}")
    verdict = "under" if total < TARGET_S else "OVER"
    print(f"render + load     median {total:.3f} s   ({verdict} the {TARGET_S:g} s target)")
    print(f"CSV (4 files, {len(doc['series']):,} history rows): {csv_s:.2f} s")
    return 0


def _list(values: list[float]) -> str:
    return " ".join(f"{v:.3f}" for v in values)


if __name__ == "__main__":
    sys.exit(main())
