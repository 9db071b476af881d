"""molotov against the bare aiohttp loop: requests/s, client CPU per request, start-up, soak.

Run by ``nox -s bench`` (``nox -s bench -- --quick`` for a smoke run, ``-- --soak 600`` for
the memory soak). What it does:

* starts ``target.py`` (a counting keep-alive HTTP/1.1 server) pinned to one core, and runs
  every client pinned to another one (``taskset`` when available);
* for every row, starts the client, waits ``--warmup`` seconds, then measures a fixed window of
  ``--window`` seconds: the target's own request count (``GET /__count``, never the client's
  word), the CPU time (utime + stime from ``/proc/PID/stat``) of the client process and all its
  descendants, sampled at both ends of the window, and the tree's resident memory (summed over
  the processes, the largest of the samples taken every 0.25 s); start-up and shutdown stay out
  of the window;
* runs every row ``--repeat`` times, interleaved (A B C A B C ...), and prints the medians; the
  ratio to the floor is the median of the per-pass ratios (each row against the floor measured
  in the same pass), so the machine's load drift cancels out;
* then time to first request of ``molotov -w 1 -r 1`` (from process start to the target seeing
  the request), and the wall time of ``molotov --version`` and ``--help``.

``--soak SECONDS`` instead runs molotov at full rate for that long, samples every process's
RSS every 10 s, and reports each one's growth after the warm-up (``soak.py``).

This file is the command line and the sequence of the main table; the measuring pieces are
in ``harness/``, the open model's part in ``openmodel.py``, the soak in ``soak.py``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import openmodel
import remotewrite
import soak
import tickcost
from harness.ab import ab
from harness.clients import HERE, MOLOTOV26, SCENARIO, molotov26_ok, molotov_cmd
from harness.measure import Row, measure, med, per_pass_ratio
from harness.output import machine, molotov_source, print_table
from harness.processes import Pinning, cpu_seconds, process_tree, spawn
from harness.servers import Target, UdpSink
from harness.startup import heavy_imports, time_to_first_request, wall_times
from names import names_rss


def make_rows(
    options: argparse.Namespace, url: str, scenario: Path, sink: UdpSink, notes: list[str]
) -> list[Row]:
    safety = str(int(options.warmup + options.window + 60))  # a leaked client stops by itself
    mol = [*molotov_cmd(), "-d", safety]
    floor = [sys.executable, str(HERE / "floor.py"), url, "-d", safety]
    rows = [
        Row("molotov", "molotov -p 1 -w 100", [*mol, "-p", "1", "-w", "100", str(scenario)]),
        Row(
            "statsd",
            "molotov --statsd (UDP sink)",
            [
                *mol,
                "-p",
                "1",
                "-w",
                "100",
                "--statsd",
                "--statsd-address",
                f"udp://127.0.0.1:{sink.port}",
                str(scenario),
            ],
        ),
        Row("no-uvloop", "molotov --no-uvloop", [*mol, "-w", "100", "--no-uvloop", str(scenario)]),
        Row("p2", "molotov -p 2 -w 50 (one core)", [*mol, "-p", "2", "-w", "50", str(scenario)]),
        Row("floor", "floor: aiohttp + uvloop", [*floor, "-w", "100"]),
        Row("floor-asyncio", "floor: aiohttp + asyncio", [*floor, "-w", "100", "--no-uvloop"]),
    ]
    for position, src in enumerate(options.alt_src or (), start=1):
        path = Path(src).resolve()
        name = f"{path.parent.name}/{path.name}" if path.name == "src" else path.name
        rows.insert(
            position,
            Row(
                f"alt:{name}",
                f"molotov -p 1 -w 100 from {name}",
                [sys.executable, "-m", "molotov", "-d", safety, "-w", "100", str(scenario)],
                env={**os.environ, "PYTHONPATH": str(path)},
            ),
        )
    if options.variants:
        for flag in (
            "--session-per-worker",
            "--no-timeout",
            "--dummy-cookie-jar",
            "--trace-config",
            "--middleware",
            "--response-class",
        ):
            key = "floor" + flag[1:]
            rows.append(Row(key, f"floor {flag}", [*floor, "-w", "100", flag]))
    why_not = molotov26_ok(scenario)
    if why_not:
        notes.append(why_not)
    else:
        argv = [str(MOLOTOV26 / "bin" / "molotov"), "-w", "100", "-d", safety, "--uvloop"]
        rows.append(Row("molotov26", "Molotov 2.6 (PyPI) --uvloop", [*argv, str(scenario)]))
    if options.only:
        wanted = set(options.only.split(","))
        rows = [r for r in rows if r.key in wanted or r.key == "floor"]
    return rows


# -- the benchmark ---------------------------------------------------------------------------


def bench(options: argparse.Namespace) -> int:
    pinning = Pinning.choose()
    print(f"machine: {machine()}")
    print(f"molotov: {molotov_source()}")
    print(f"pinning: {pinning.how}")
    print(
        f"each row {options.repeat}x interleaved; warm-up {options.warmup:g}s, "
        f"window {options.window:g}s",
        flush=True,
    )
    notes: list[str] = []
    target = Target(pinning)
    sink = UdpSink()
    workdir = Path(tempfile.mkdtemp(prefix="molotov-bench-"))
    scenario = workdir / "bench_scenario.py"
    scenario.write_text(SCENARIO.format(url=target.url))
    try:
        rows = make_rows(options, target.url, scenario, sink, notes)
        for rep in range(options.repeat):
            for row in rows:
                if row.note and not row.samples:
                    continue  # failed once already: do not keep paying for it
                sample = measure(row, target, pinning, sink, options.warmup, options.window)
                if sample is not None:
                    row.samples.append(sample)
                done = (
                    f"{sample.rps:8.0f} req/s {sample.cpu_us:6.1f} us/req" if sample else "failed"
                )
                print(f"  pass {rep + 1} {row.label:34} {done}", flush=True)
        print()
        report_rows(rows, notes)
        if not options.no_startup:
            print()
            report_startup(target, pinning, scenario, options.startup_runs)
    finally:
        target.close()
        sink.close()
        shutil.rmtree(workdir, ignore_errors=True)
    for note in notes:
        print(f"note: {note}")
    return 0


def report_rows(rows: list[Row], notes: list[str]) -> None:
    by_key = {row.key: row for row in rows}
    lines = []
    for row in rows:
        s = row.samples
        if not s:
            notes.append(f"{row.label}: {row.note or 'no sample'}")
            continue
        ratio = med(per_pass_ratio(by_key, row.key, "floor", lambda x: x.cpu_us))
        cpu = [x.cpu_us for x in s]
        lines.append(
            [
                row.label,
                f"{med([x.rps for x in s]):,.0f}",
                f"{med(cpu):.1f}",
                f"{min(cpu):.0f}-{max(cpu):.0f}",
                f"{ratio:.2f}x",
                f"{med([x.client_util for x in s]) * 100:.0f}%",
                f"{med([x.target_util for x in s]) * 100:.0f}%",
                f"{max(x.rss for x in s) / 2**20:.0f}",
                str(max(x.processes for x in s)),
            ]
        )
    print_table(
        [
            "client (100 connections)",
            "req/s",
            "CPU us/req",
            "range",
            "vs floor",
            "client CPU",
            "target CPU",
            "peak RSS MiB",
            "procs",
        ],
        lines,
    )
    if "p2" in by_key and "molotov" in by_key:
        ratios = per_pass_ratio(by_key, "p2", "molotov", lambda x: x.rps)
        if ratios:
            print(
                f"-p 2 -w 50 vs -p 1 -w 100, both on one core: requests/s ratio "
                f"{med(ratios):.3f} (per pass: {', '.join(f'{r:.3f}' for r in ratios)}; "
                f"target >= 0.95)"
            )
            cpu = per_pass_ratio(by_key, "molotov", "p2", lambda x: x.cpu_us)
            print(
                f"  the same from CPU per request (-p 1 / -p 2, what a saturated core would "
                f"give, less sensitive to other load): {med(cpu):.3f} "
                f"(per pass: {', '.join(f'{r:.3f}' for r in cpu)})"
            )
    if "statsd" in by_key and by_key["statsd"].samples:
        got = med([x.statsd for x in by_key["statsd"].samples])
        print(f"--statsd row: the UDP sink got {got:.0f} datagrams per window (median)")
    if any(x.target_util > 0.9 for row in rows for x in row.samples):
        print("WARNING: the target used > 90% of its core in some window: it may be the limit")


def report_startup(target: Target, pinning: Pinning, scenario: Path, runs: int) -> None:
    mol = molotov_cmd()
    one = ["-w", "1", "-r", "1"]
    first, total = time_to_first_request(target, pinning, [*mol, *one, str(scenario)], runs)
    floor = [sys.executable, str(HERE / "floor.py"), target.url, *one]
    floor_first, floor_total = time_to_first_request(target, pinning, floor, runs)
    version = wall_times([*mol, "--version"], pinning, runs)
    helptext = wall_times([*mol, "--help"], pinning, runs)
    bare = wall_times([sys.executable, "-c", "pass"], pinning, runs)
    aiohttp_import = wall_times([sys.executable, "-c", "import aiohttp"], pinning, runs)

    def ms(values: list[float]) -> str:
        return f"{med(values) * 1000:.0f}" if values else "n/a"

    def imports(args: list[str]) -> str:
        return ", ".join(heavy_imports(args)) or "none"

    print_table(
        [f"start-up (median of {runs})", "first request ms", "exit ms", "heavy imports"],
        [
            ["molotov -w 1 -r 1", ms(first), ms(total), ""],
            ["floor.py -w 1 -r 1 (reference)", ms(floor_first), ms(floor_total), ""],
            ["molotov --version", "", ms(version), imports(["--version"])],
            ["molotov --help", "", ms(helptext), imports(["--help"])],
            ["python -c pass (reference)", "", ms(bare), ""],
            ["python -c 'import aiohttp' (reference)", "", ms(aiohttp_import), ""],
        ],
    )


# -- profile -------------------------------------------------------------------------------


def run_profile(options: argparse.Namespace) -> int:
    import hotpath

    if hotpath.py_spy() is None:
        print("--profile needs py-spy: pip install py-spy (nox -s bench -- --profile does)")
        return 1
    import molotov

    pinning = Pinning.choose()
    print(f"machine: {machine()}")
    print(f"pinning: {pinning.how}; py-spy on the target's core")
    target = Target(pinning)
    workdir = Path(tempfile.mkdtemp(prefix="molotov-profile-"))
    scenario = workdir / "bench_scenario.py"
    scenario.write_text(SCENARIO.format(url=target.url))
    roots = [Path(molotov.__file__).resolve().parent.parent]
    clients = {
        "molotov": [*molotov_cmd(), "-p", "1", "-w", "100", str(scenario)],
        "floor": [sys.executable, str(HERE / "floor.py"), target.url, "-w", "100"],
    }
    results = {}
    try:
        for name, argv in clients.items():
            print(f"  sampling {name} for {options.profile:g}s ...", flush=True)
            raw, us, rps = hotpath.profile_one(
                argv,
                lambda argv, core, **kw: spawn(argv, pinning, core, **kw),
                pinning.client,
                pinning.target,
                process_tree,
                cpu_seconds,
                lambda: target.count()[0],
                options.warmup,
                options.profile,
            )
            counts, total = hotpath.classify(raw, roots, scenario.name)
            results[name] = (counts, total, us, rps)
            shutil.rmtree(raw.parent, ignore_errors=True)
    finally:
        target.close()
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    hotpath.report(results, print_table)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="molotov benchmarks (see benchmarks/README.md)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before each window")
    parser.add_argument("--window", type=float, default=10.0, help="measured seconds per run")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs of each row")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: --warmup 1.5 --window 2.5 (noisier)"
    )
    parser.add_argument("--startup-runs", type=int, default=5, help="runs of each start-up test")
    parser.add_argument("--no-startup", action="store_true", help="skip the start-up tests")
    parser.add_argument(
        "--only",
        help="comma-separated row keys (molotov, statsd, no-uvloop, p2, floor-asyncio, "
        "molotov26, alt:NAME, floor-session-per-worker, ...); the floor always runs",
    )
    parser.add_argument(
        "--alt-src",
        metavar="DIR",
        action="append",
        help="add a row running molotov from another source tree (a src/ folder, put first on "
        "PYTHONPATH) with the same python, to measure a change side by side; repeatable",
    )
    parser.add_argument(
        "--variants",
        action="store_true",
        help="add floor rows with one session option each (see floor.py): what each costs",
    )
    parser.add_argument(
        "--profile",
        type=float,
        nargs="?",
        const=20.0,
        metavar="SECONDS",
        help="instead of the table: sample molotov and the floor with py-spy (20 s each) and "
        "show where a request's CPU goes",
    )
    parser.add_argument(
        "--ab",
        nargs=2,
        metavar=("A", "B"),
        help="instead of the table: run A and B at once on the client core (--repeat rounds) "
        "and compare their CPU per request; a client is molotov, floor, molotov26 or a src/ "
        "folder, optionally with extra arguments after a colon ('floor:--no-timeout'); "
        "{prometheus} in them is the remote-write URL of a Prometheus started for the run",
    )
    parser.add_argument(
        "--ab-sse",
        type=int,
        default=0,
        metavar="N",
        help="with --ab: B serves --dashboard, which N idle browsers (server-sent event "
        "streams) follow for the whole round",
    )
    parser.add_argument(
        "--scenario",
        choices=("one", "ten"),
        default="one",
        help="--ab's scenario: one GET of one URL, or one GET per step over 10 paths (10 "
        "request names)",
    )
    parser.add_argument(
        "--names-rss",
        action="store_true",
        help="instead of the table: RSS per worker process with 1 and with 300 request names",
    )
    parser.add_argument(
        "--rw-cost",
        action="store_true",
        help="instead of the table: what one Prometheus remote write costs the parent, up to "
        "200 scenarios x 300 request names (see remotewrite.py)",
    )
    parser.add_argument(
        "--tick-cost",
        action="store_true",
        help="instead of the table: the parent's tick (bus read, series, dashboard feed, "
        "console) at 200 scenarios x 300 request names, over --window seconds (tickcost.py)",
    )
    parser.add_argument(
        "--open", action="store_true", help="only the open model's part (see openmodel.py)"
    )
    parser.add_argument("--no-open", action="store_true", help="skip the open model's part")
    parser.add_argument("--soak", type=float, metavar="SECONDS", help="run the soak test instead")
    parser.add_argument("--soak-warmup", type=float, default=60.0, help="soak: seconds ignored")
    parser.add_argument("--soak-processes", type=int, default=1, help="soak: molotov -p")
    parser.add_argument(
        "--soak-rate", type=float, help="soak: arrivals/s (the open model; default: full rate)"
    )
    parser.add_argument(
        "--soak-scenario", choices=("one", "ten"), default="one", help="soak: one or ten names"
    )
    parser.add_argument("--soak-report", metavar="PATH", help="soak: keep molotov's report there")
    options = parser.parse_args(argv)
    if options.quick:
        options.warmup, options.window = 1.5, 2.5
    if options.soak:
        return soak.soak(options)
    if options.profile:
        return run_profile(options)
    if options.ab:
        return ab(options)
    if options.names_rss:
        return names_rss(options)
    if options.rw_cost:
        return remotewrite.main(options)
    if options.tick_cost:
        return tickcost.main(options)
    if options.open:
        return openmodel.main(options)
    code = bench(options)
    return code or (0 if options.no_open else openmodel.main(options))


if __name__ == "__main__":
    sys.exit(main())
