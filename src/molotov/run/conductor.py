"""From a :class:`RunConfig` to an exit code: load, check, run, summarise.

Exit codes: 0 the run ended and no gate failed (whatever the number of failures); 1 a gate
failed (``--fail``, ``-x``), the run could not start or never reached its target, a
pre-run check failed, or a report could not be written; 2 (from the CLI) the command line
could not be parsed; 99 a threshold failed (and nothing else did: 1 wins over 99).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from molotov import api
from molotov.config.errors import ConfigError
from molotov.config.load import process_workers
from molotov.config.runconfig import RunConfig
from molotov.live.console import make_console
from molotov.live.dashboard import Dashboard
from molotov.reports import jsonreport
from molotov.reports.jsonreport import RunReport
from molotov.reports.outputs import write_reports
from molotov.reports.summary import OpenModel, closing_lines, summary_lines
from molotov.reports.thresholds import (
    EXIT_THRESHOLDS,
    Threshold,
    ThresholdError,
    ThresholdResult,
    evaluate,
    gates_http_failures,
    parse_thresholds,
    result_lines,
)
from molotov.run.errors import RunError
from molotov.run.limits import raise_descriptor_limit
from molotov.run.loader import LoadError, load_module
from molotov.run.signals import Holder, start_resource_tracker
from molotov.run.supervisor import (
    Runner,
    RunResult,
    dead_process_messages,
    fork_available,
    lost_processes,
)
from molotov.stats.snapshot import ErrorKind
from molotov.worker import fixtures
from molotov.worker.errors import CONNECT_KINDS, unreachable_targets

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def failure_code(code: int) -> int:
    """The exit code once something failed: 1, unless a code that says more already applies
    (a cluster run's partial result, say); a failed threshold (99) says less than 1."""
    return EXIT_FAILED if code in (EXIT_OK, EXIT_THRESHOLDS) else code


def _out(config: RunConfig, text: str) -> None:
    if not config.quiet:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def load_registry(config: RunConfig) -> tuple[api.Registry, str]:
    """Import the extensions and the scenario module into a fresh registry, and check it.

    Also returns where the scenarios came from: the absolute path of the module's file (a
    relative ``scenario`` of molotov.json is looked for in the working directory first, so
    the banner says which file that was), or its name when it has no file."""
    registry = api.reset()
    loaded: set[str] = set()
    source = config.scenario
    try:
        for target, what in [
            *((e, "--use-extension") for e in config.use_extension),
            (config.scenario, ""),
        ]:
            # `--use-extension a.py loadtest.py` (argparse style) may name the scenario too:
            # a module imported twice would register its fixtures twice.
            key = os.path.realpath(target) if os.path.isfile(target) else target
            if key not in loaded:
                loaded.add(key)
                if what:
                    _out(config, f"Loading extension {target!r}")  # Molotov 2.x's notice
                file = getattr(load_module(target, what), "__file__", None)
                if not what and file:
                    source = os.path.abspath(file)
    except LoadError as exc:
        raise RunError(str(exc), exc.detail) from None
    if not registry.scenarios:
        raise RunError(
            f"No scenario was found in {config.scenario!r}: decorate an async function with "
            "@scenario() (a weight of 0 leaves a scenario out)"
        )
    if config.single_mode and config.single_mode not in registry.scenarios:
        available = ", ".join(sorted(registry.scenarios))
        raise RunError(f"Can't find {config.single_mode!r} in the scenarios ({available})")
    return registry, source


def _banner(config: RunConfig, registry: api.Registry, source: str) -> str:
    bounds = []
    if config.run_length:
        bounds.append(f"for {config.run_length:g}s")
    if config.open_model and config.arrival_total:
        bounds.append(f"{config.arrival_total} arrival(s) in all")
    elif config.max_runs:
        bounds.append(f"{config.max_runs} run(s) per worker")
    if config.single_run:
        bounds.append("each scenario once per worker")
    until = ", ".join(bounds) or "until stopped (Ctrl-C)"
    workers = f"{config.processes} process(es) x {config.workers} worker(s)"
    if config.open_model:
        pool = (
            f"{config.workers}"
            if config.pool_limit == config.workers
            else (f"{config.workers} to {config.pool_limit}")
        )
        rate = f"{config.rate:g}/s" if not config.stages else "the stages' rate"
        workers = (
            f"{rate} arrivals ({config.arrivals}) on {config.processes} process(es) x "
            f"{pool} worker(s)"
        )
    elif config.stages:
        workers = f"{config.processes} process(es), workers following the stages"
    scenarios = f"{len(registry.scenarios)} scenario(s) from {source!r}"
    return f"Molotov: {scenarios}, {workers}, {until}"


def _open_model_notices(config: RunConfig, registry: api.Registry) -> list[str]:
    """What the open model leaves aside of a scenario file, said rather than ignored."""
    if not config.open_model:
        return []
    return [
        f"Note: scenario {s.name!r} has delay={s.delay:g}: the open model does not sleep "
        "between steps (arrivals set the pace)"
        for s in registry.sorted_scenarios()
        if s.delay > 0
    ]


@contextmanager
def global_fixtures(config: RunConfig, registry: api.Registry) -> Iterator[list[RunResult]]:
    """``global_setup`` before; ``global_teardown`` after, unless the worker process ran it."""
    try:
        fixtures.global_setup(registry, config.as_args())
    except fixtures.GlobalSetupError as exc:
        raise RunError(str(exc), exc.detail) from None
    results: list[RunResult] = []
    try:
        yield results
    finally:
        if not (results and results[0].global_teardown_done):
            fixtures.global_teardown(registry, config.verbose)


def _verdict(config: RunConfig, result: RunResult) -> tuple[int, list[str]]:
    """The exit code of a finished run and the lines that explain a non-zero one."""
    snapshot = result.snapshot
    problems = dead_process_messages(result)
    if config.fail is not None and snapshot.failures >= config.fail:
        problems.append(f"--fail {config.fail}: {snapshot.failures} failure(s)")
    if config.exception and snapshot.failures:
        problems.append("-x: stopped at the first failure")
    started = snapshot.workers_started
    setup_failures = snapshot.setup_failures + snapshot.session_setup_failures
    if started and setup_failures >= started and not snapshot.steps:
        first = next(
            (
                e.message
                for e in snapshot.errors
                if e.kind in (ErrorKind.SETUP, ErrorKind.SESSION_SETUP)
            ),
            "",
        )
        problems.append(f"every worker failed to set up: {first}")
    if (
        snapshot.failures
        and not snapshot.successes
        and (snapshot.connection_failures == snapshot.failures)
    ):
        messages = [e.message for e in snapshot.errors if e.kind in CONNECT_KINDS]
        problems += unreachable_targets(messages) or ["cannot connect to the target"]
    return (EXIT_FAILED if problems else EXIT_OK), problems


def print_summary(config: RunConfig, result: RunResult, verdicts: list[ThresholdResult]) -> None:
    snapshot = result.snapshot
    open_model = OpenModel.of_runs([dataclasses.asdict(config)])
    gated = gates_http_failures(v.threshold for v in verdicts)
    lines = summary_lines(snapshot, result.load_seconds, open_model, result.drain, http_gated=gated)
    for line in lines + result_lines(verdicts):
        _out(config, line)
    if result.sizing is not None:
        sizing = result.sizing
        if sizing.reached:
            for line in (
                "",
                "Sizing is over!",
                "",
                f"Error Ratio {sizing.ratio:.2f} % obtained with {sizing.workers} workers.",
                "",
                f"OVERALL: SUCCESSES: {snapshot.successes} | FAILURES: {snapshot.failures}",
                f"LAST MINUTE: SUCCESSES: {sizing.minute_successes} "
                f"| FAILURES: {sizing.minute_failures}",
            ):
                _out(config, line)
        else:
            _out(config, "Sizing was not finished. (interrupted)")
    for line in closing_lines(snapshot):
        _out(config, line)


def execute(config: RunConfig, dashboard: Dashboard | None = None) -> int:
    """Run a load test as configured; return the process exit code. ``dashboard``: the
    ``--dashboard`` that follows the run (its final page is the report's).

    From the start of the run, stop signals are held until the process exits: the run's
    results are written, and then its exit code is the process's, whatever comes late (a
    third SIGTERM while the interpreter shuts down killed it with 143 instead of 0).
    """
    try:
        config.check()
        if not fork_available():
            # Workers are forked so they inherit the loaded scenarios; see DESIGN.md.
            raise RunError(
                f"molotov runs its workers in forked processes, and {sys.platform} has no fork()"
            )
        registry, source = load_registry(config)
        try:
            thresholds = parse_thresholds(
                config.threshold, list(registry.scenarios), open_model=config.open_model
            )
        except ThresholdError as exc:
            _err(str(exc))
            return EXIT_USAGE
        console = make_console(
            config.quiet, config.console, config.verbose, open_model=config.open_model
        )
        with global_fixtures(config, registry) as results:
            console.start(_banner(config, registry, source))
            descriptors = raise_descriptor_limit(process_workers(config))
            for notice in [*_open_model_notices(config, registry), descriptors]:
                if notice:
                    console.print(notice)
            # The runner handles stop signals during the run; after it, they are held off
            # until the process exits (global_teardown, summary, report, exit code).
            start_resource_tracker()
            Holder().hold()
            try:
                result = Runner(config, registry, console, dashboard=dashboard).run()
                results.append(result)
            finally:
                console.stop()
    except (ConfigError, RunError) as exc:
        _err(str(exc))
        detail = getattr(exc, "detail", "")
        if config.verbose and detail:
            _err(detail.rstrip())
        return EXIT_FAILED
    except KeyboardInterrupt:
        # Only possible before the workers start (the run itself handles Ctrl-C).
        _err("Interrupted before the run started")
        return EXIT_FAILED
    code, problems, verdicts = judge(config, result, thresholds)
    print_summary(config, result, verdicts)
    doc = None
    if (config.report, config.html, config.csv) != (None, None, None) or dashboard is not None:
        doc = jsonreport.document(report_of(config, result), verdicts)
    return conclude(config, doc, code, problems, dashboard)


def judge(
    config: RunConfig, result: RunResult, thresholds: list[Threshold]
) -> tuple[int, list[str], list[ThresholdResult]]:
    """The verdict on a finished run (or a cluster's merge): exit code, what explains a
    non-zero one, and each threshold's result."""
    code, problems = _verdict(config, result)
    verdicts = evaluate(thresholds, result.snapshot, result.load_seconds)
    failed = [v.failure_text() for v in verdicts if not v.passed]
    if failed:
        problems.append(f"threshold(s) failed: {', '.join(failed)}")
        code = code or EXIT_THRESHOLDS  # a run that broke (1) is no measurement to gate on
    return code, problems, verdicts


def report_of(config: RunConfig, result: RunResult) -> RunReport:
    """The report of a finished run (the JSON document's values)."""
    return RunReport(
        snapshot=result.snapshot,
        started_at=result.started_at,
        ended_at=result.ended_at,
        duration=result.elapsed,
        drain=result.drain,
        options=dataclasses.asdict(config),
        series=tuple(result.series),
        stop_reason=result.stop_reason.name.lower(),
        lost_processes=tuple(lost_processes(result)),
    )


def conclude(
    config: RunConfig,
    doc: dict[str, Any] | None,
    code: int,
    problems: list[str],
    dashboard: Dashboard | None = None,
) -> int:
    """The end of a run (or of a cluster's merge) once its summary is printed: the report
    files of ``doc`` (None: none asked for) and the dashboard's final page, then the lines
    that explain the exit code, last, after any file's error; only ``--report -``'s line
    comes later, the very last line of stdout (for ``kubectl logs | tail -1``). The exit
    code: ``code``, or :func:`failure_code`'s when a file could not be written. ``code`` is
    also the verdict the HTML page shows."""
    to_stdout = config.report == "-"
    if doc is not None:
        unwritten = write_reports(
            doc,
            code,
            index=config.generator_index,
            report=None if to_stdout else config.report,
            csv=config.csv,
            html=config.html,
        )
        if dashboard is not None:
            dashboard.finish(doc, code)  # once the files are there: the same page as --html's
        if unwritten:
            code = failure_code(code)
        problems = [*unwritten, *problems]
    for problem in problems:
        _err(problem)
    if doc is not None and to_stdout:
        sys.stdout.write(jsonreport.dumps_line(doc) + "\n")
        sys.stdout.flush()
    return code
