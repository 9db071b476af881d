"""Bad input to the real ``molotov`` command: one readable line, a defined exit code, no traffic.

Exit codes: 2 when the command line cannot be parsed (click's usage error), 1 when the run
cannot start or never reached its target, 0 when the run ended (whatever its failures).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import molotov
from molotov.reports.thresholdmetrics import METRICS, STATUS_FAMILY
from support import Result, molotov_env
from support import proc_stat as _stat

# A scenario that would hit the target if it ever ran: the "no traffic" checks rely on it.
GOOD = """
    import os
    from molotov import scenario

    URL = os.environ["TARGET_URL"]

    @scenario()
    async def hello(session):
        async with session.get(URL + "/") as resp:
            assert resp.status == 200
"""


def stderr_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def assert_one_line_error(result: Result, code: int, *expected: str, started: bool = False) -> str:
    """Exactly one non-empty stderr line, containing every ``expected`` text; no traceback.

    A run refused before it ``started`` prints nothing at all on stdout.
    """
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    if not started:
        assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert "Traceback" not in result.stdout
    lines = stderr_lines(result)
    assert len(lines) == 1, result.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def assert_usage_error(result: Result, *expected: str) -> None:
    """click's usage error: exit 2, one ``Error:`` line naming the problem, no traceback."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    for text in expected:
        assert text in errors[0], errors[0]
    assert result.stdout == ""


def closing_counts(stdout: str) -> tuple[int, int]:
    found = re.findall(r"^SUCCESSES: (\d+) \| FAILURES: (\d+)$", stdout, re.MULTILINE)
    assert len(found) == 1, stdout
    return int(found[0][0]), int(found[0][1])


# -- exit 2: the command line cannot be parsed ------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--wokers", "3"], ["--wokers"]),
        (["-w", "0"], ["--workers"]),
        (["-w", "abc"], ["--workers"]),
        (["-p", "0"], ["--processes"]),
        (["-r", "0"], ["--max-runs"]),
        (["-d", "abc"], ["not a duration", "'abc'"]),
        (["--statsd-address", "foo"], ["statsd address 'foo'"]),
        (["--statsd", "--statsd-address", "udp://nohost"], ["udp://nohost"]),
        (["--statsd", "--statsd-address", "udp://host:notaport"], ["udp://host:notaport"]),
        (["-d", "0"], ["--duration", "must be positive (got 0)"]),
        (["-d", "-5"], ["--duration", "must be positive (got -5)"]),
        (["-d", "400d"], ["--duration", "must be at most 31536000 s (a year)"]),
        (["--ramp-up", "inf"], ["--ramp-up", "not a duration", "finite number of seconds"]),
        (["--delay", "inf"], ["--delay", "not a duration", "finite number of seconds"]),
        (
            ["--step-timeout", "inf"],
            ["--step-timeout", "not a duration", "finite number of seconds"],
        ),
        (["--ramp-up", "1e308"], ["--ramp-up", "must be at most 31536000 s (a year)"]),
        (["-p", str(10**23)], ["--processes", "must be at most 1024 (got 1e+23)"]),
        (["-w", "1000000"], ["--workers", "must be at most 100000"]),
        (["--console-update", "-1"], ["--console-update", "must be at least 0"]),
        (["--sizing-tolerance", "nan"], ["--sizing-tolerance", "must be a finite number"]),
        (["--start-at", "1e20"], ["--start-at", "between 1970 and a year from now"]),
    ],
    ids=[
        "typo-flag",
        "zero-workers",
        "text-workers",
        "zero-processes",
        "zero-max-runs",
        "bad-duration",
        "statsd-scheme",
        "statsd-no-port",
        "statsd-bad-port",
        "zero-duration",
        "negative-duration",
        "duration-over-a-year",
        "infinite-ramp-up",
        "infinite-delay",
        "infinite-step-timeout",
        "huge-ramp-up",
        "huge-processes",
        "huge-workers",
        "negative-console-update",
        "nan-tolerance",
        "far-start-at",
    ],
)
def test_unparseable_command_line_exits_2(run_molotov, write_scenario, target, args, expected):
    write_scenario(GOOD)
    result = run_molotov("-r", "1", *args)
    assert_usage_error(result, *expected)
    assert target.total == 0


# -- exit 1: the run cannot start ---------------------------------------------------------------


def test_missing_scenario_file(run_molotov, target):
    result = run_molotov("nope.py", "-r", "1")
    assert_one_line_error(result, 1, "Cannot import 'nope.py'")
    assert result.stdout == ""
    assert target.total == 0


def test_missing_dotted_module(run_molotov, target):
    result = run_molotov("no.such.module", "-r", "1")
    assert_one_line_error(result, 1, "Cannot import 'no.such.module'")
    assert target.total == 0


def test_default_loadtest_missing_in_cwd(run_molotov, target):
    result = run_molotov("-r", "1")
    assert_one_line_error(result, 1, "Cannot import 'loadtest.py'")
    assert target.total == 0


def test_file_without_scenario(run_molotov, write_scenario, target):
    write_scenario(
        """
        from molotov import scenario

        async def not_decorated(session):
            pass

        @scenario(weight=0)
        async def left_out(session):
            pass
        """
    )
    result = run_molotov("loadtest.py", "-r", "1")
    line = assert_one_line_error(result, 1, "loadtest.py")
    assert line.startswith("No scenario was found in 'loadtest.py': ")  # 2.x's words, then more
    assert target.total == 0


def test_quiet_and_verbose_together(run_molotov, write_scenario, target):
    write_scenario(GOOD)
    result = run_molotov("-q", "-v", "-r", "1")
    assert_one_line_error(result, 1, "-q", "-v")
    assert target.total == 0


def test_unknown_single_mode_scenario(run_molotov, write_scenario, target):
    write_scenario(GOOD)
    result = run_molotov("-s", "NAME", "-r", "1")
    assert_one_line_error(result, 1, "Can't find 'NAME'", "hello")
    assert target.total == 0


def test_single_mode_with_single_run(run_molotov, write_scenario, target):
    write_scenario(GOOD)
    result = run_molotov("-s", "hello", "--single-run")
    assert_one_line_error(result, 1, "--single-mode", "--single-run")
    assert target.total == 0


@pytest.mark.parametrize(
    ("extension", "why"),
    [("no_such_extension", "no such module"), ("missing_ext.py", "no such file")],
)
def test_extension_that_cannot_be_imported(run_molotov, write_scenario, target, extension, why):
    write_scenario(GOOD)
    result = run_molotov("loadtest.py", "-r", "1", "--use-extension", extension)
    # Molotov 2.x's notice on stdout, then its message (and why) on stderr.
    line = assert_one_line_error(result, 1, started=True)
    assert line == f"Cannot import {extension!r}: {why} (--use-extension)"
    assert result.stdout == f"Loading extension {extension!r}\n"
    assert target.total == 0


def test_extension_that_raises(run_molotov, write_scenario, target):
    write_scenario(GOOD)
    write_scenario("raise RuntimeError('extension boom')\n", name="ext.py")
    result = run_molotov("-r", "1", "--use-extension", "ext.py", "--", "loadtest.py")
    line = assert_one_line_error(result, 1, started=True)
    assert line.startswith("Cannot import 'ext.py': it raised RuntimeError: extension boom")
    assert result.stdout == "Loading extension 'ext.py'\n"
    assert target.total == 0


def test_extension_notice_is_quiet_with_q(run_molotov, write_scenario, target):
    write_scenario(GOOD)
    write_scenario("", name="ext.py")
    result = run_molotov("-q", "-r", "1", "--use-extension", "ext.py", "--", "loadtest.py")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert target.total == 1


# -- config files ---------------------------------------------------------------------------


def _write_config(tmp_path: Path, content: object) -> None:
    text = content if isinstance(content, str) else json.dumps(content)
    (tmp_path / "molotov.json").write_text(text)


def test_config_file_missing(run_molotov, write_scenario, target):
    write_scenario(GOOD)
    result = run_molotov("--config", "missing.json")
    assert_one_line_error(result, 1, "missing.json")
    assert target.total == 0


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", ["Can't parse", "molotov.json"]),
        ({"tests": {"test": {}}}, ["'molotov'"]),
        ({"molotov": {"env": {}}}, ["tests"]),
        ({"molotov": {"tests": {"test": {"wokers": 3}}}}, ["'wokers'", "unknown option"]),
        ({"molotov": {"tests": {"test": {"workers": "many"}}}}, ["'workers'", "'many'"]),
    ],
    ids=["bad-json", "no-molotov-key", "no-tests-key", "unknown-option", "bad-value"],
)
def test_bad_config_file(run_molotov, write_scenario, target, tmp_path, content, expected):
    write_scenario(GOOD)
    _write_config(tmp_path, content)
    result = run_molotov("--config", "molotov.json")
    assert_one_line_error(result, 1, *expected)
    assert target.total == 0


def test_bounds_from_the_environment_are_usage_errors_too(run_molotov, write_scenario, target):
    write_scenario(GOOD)
    result = run_molotov("-r", "1", MOLOTOV_PROCESSES=str(10**23))
    assert_usage_error(result, "--processes", "must be at most 1024")
    assert target.total == 0


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"molotov": {"tests": {"test": {"scenario": "\xff.py"}}}}', "not UTF-8 text"),
        (
            json.dumps({"molotov": {"tests": {"test": {"start_at": 1e20}}}}).encode(),
            "option 'start_at' of test 'test' must be between 1970 and a year from now",
        ),
        (
            json.dumps({"molotov": {"tests": {"test": {"ramp_up": 1e308}}}}).encode(),
            "option 'ramp_up' of test 'test' must be at most 31536000 s (a year) (got 1e+308)",
        ),
        (
            json.dumps({"molotov": {"tests": {"test": {"workres": 2}}}}).encode(),
            "unknown option 'workres' in test 'test' (did you mean 'workers'?)",
        ),
    ],
    ids=["deep", "invalid-utf8", "far-start-at", "huge-ramp-up", "typo"],
)
def test_config_file_refused_in_one_line(
    run_molotov, write_scenario, target, tmp_path, data, expected
):
    write_scenario(GOOD)
    (tmp_path / "molotov.json").write_bytes(data)
    result = run_molotov("--config", "molotov.json", timeout=30)
    line = assert_one_line_error(result, 1, expected)
    assert line.startswith(("Can't parse the config file 'molotov.json': ", "Bad config"))
    assert target.total == 0


def test_molotov_2_config_runs_unchanged(run_molotov, write_scenario, target, tmp_path):
    """Molotov's own configs: ``"console_update": 0``, ``env`` and ``requirements`` in a test,
    in UTF-16 with a BOM (as PowerShell writes files)."""
    write_scenario(GOOD)
    test = {
        "console": True,
        "max_runs": 3,
        "console_update": 0,
        "env": {"SERVER_URL": "http://aserver.net"},
        "requirements": "requirements.txt",
    }
    text = json.dumps({"molotov": {"tests": {"test": test}}})
    (tmp_path / "molotov.json").write_text(text, encoding="utf-16")
    result = run_molotov("--config", "molotov.json", "--report", "r.json")
    assert result.returncode == 0, result.stderr
    assert stderr_lines(result) == [
        "Warning: 'molotov.json', test 'test': ignoring 'env', 'requirements': not molotov "
        "options (Molotov 2.x ignored them too); moloslave reads 'env' and 'requirements' "
        "beside 'tests'"
    ]
    assert closing_counts(result.stdout) == (3, 0)
    assert json.loads((tmp_path / "r.json").read_text())["options"]["console_update"] == 0.05
    assert target.total == 3


def test_console_update_zero_on_the_command_line(run_molotov, write_scenario, target):
    write_scenario(GOOD)
    result = run_molotov("--console-update", "0", "-r", "2", "-c")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert closing_counts(result.stdout) == (2, 0)


def test_unknown_test_name_in_config(run_molotov, write_scenario, target, tmp_path):
    write_scenario(GOOD)
    _write_config(tmp_path, {"molotov": {"tests": {"smoke": {"max_runs": 1}}}})
    result = run_molotov("--config", "molotov.json", "NAME")
    assert_one_line_error(result, 1, "Can't find 'NAME' in the config", "smoke")
    assert target.total == 0


def test_known_test_name_in_config_runs(run_molotov, write_scenario, target, tmp_path):
    """The counterpart of the error above: the same config with the right name runs."""
    write_scenario(GOOD)
    _write_config(tmp_path, {"molotov": {"tests": {"smoke": {"max_runs": 2}}}})
    result = run_molotov("--config", "molotov.json", "smoke", "-c")
    assert result.returncode == 0, result.stderr
    assert closing_counts(result.stdout) == (2, 0)
    assert target.total == 2


# -- the scenario module and its fixtures -------------------------------------------------------


RAISES_AT_IMPORT = """
    from molotov import scenario

    @scenario()
    async def hello(session):
        pass

    def helper():
        raise RuntimeError("broken at import")

    helper()
"""


def test_scenario_module_raising_at_import(run_molotov, write_scenario, target):
    write_scenario(RAISES_AT_IMPORT)
    result = run_molotov("-r", "1")
    assert_one_line_error(result, 1, "loadtest.py", "RuntimeError", "broken at import")
    assert target.total == 0


def test_scenario_module_raising_at_import_verbose_shows_traceback(
    run_molotov, write_scenario, target
):
    write_scenario(RAISES_AT_IMPORT)
    result = run_molotov("-v", "-r", "1")
    assert result.returncode == 1
    assert "broken at import" in stderr_lines(result)[0]
    assert "Traceback" in result.stderr
    assert "in helper" in result.stderr
    assert target.total == 0


def test_scenario_module_with_import_error(run_molotov, write_scenario, target):
    """A module that exists but imports something missing names the missing piece."""
    write_scenario("import no_such_dependency_xyz\n")
    result = run_molotov("-r", "1")
    assert_one_line_error(result, 1, "loadtest.py", "no_such_dependency_xyz")
    assert target.total == 0


def test_global_setup_raising(run_molotov, write_scenario, target):
    write_scenario(
        GOOD
        + """
    from molotov import global_setup

    @global_setup()
    def init(args):
        raise ValueError("no credentials")
    """
    )
    result = run_molotov("-r", "1")
    assert_one_line_error(result, 1, "global_setup", "no credentials")
    assert target.total == 0

    verbose = run_molotov("-v", "-r", "1")
    assert verbose.returncode == 1
    assert "Traceback" in verbose.stderr
    assert target.total == 0


@pytest.mark.parametrize("fixture", ["setup", "setup_session"])
def test_every_setup_failing(run_molotov, write_scenario, target, fixture):
    args = "wid, args" if fixture == "setup" else "wid, session"
    write_scenario(
        GOOD
        + f"""
    from molotov import {fixture}

    @{fixture}()
    async def broken({args}):
        raise ValueError("cannot log in")
    """
    )
    result = run_molotov("-w", "2", "-p", "2", "-r", "3", "-c")
    line = assert_one_line_error(result, 1, f"{fixture}()", "cannot log in", started=True)
    assert "every worker failed to set up" in line
    assert closing_counts(result.stdout) == (0, 0)
    assert target.total == 0


def test_some_setup_failing_is_not_an_error(run_molotov, write_scenario, target):
    """Only when every worker fails to set up is the run a failure."""
    write_scenario(
        GOOD
        + """
    from molotov import setup

    @setup()
    async def half(wid, args):
        if wid == 0:
            raise ValueError("worker 0 cannot log in")
    """
    )
    result = run_molotov("-w", "2", "-r", "2", "-c")
    assert result.returncode == 0, result.stderr
    assert closing_counts(result.stdout) == (2, 0)
    assert target.total == 2


def test_unreachable_target(run_molotov, write_scenario, target):
    write_scenario(
        """
        from molotov import scenario

        @scenario()
        async def nowhere(session):
            async with session.get("http://127.0.0.1:1/") as resp:
                assert resp.status == 200
        """
    )
    result = run_molotov("-w", "2", "-p", "2", "-r", "3", "-c")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("cannot connect to 127.0.0.1:1") == 1, result.stderr
    assert stderr_lines(result) == ["cannot connect to 127.0.0.1:1"]
    assert closing_counts(result.stdout) == (0, 12)
    assert "*** Bye ***" in result.stdout
    assert target.total == 0


# -- failures that are not errors --------------------------------------------------------------


def test_scenario_raising_is_a_failure_with_exit_0(run_molotov, write_scenario, target):
    write_scenario(
        """
        from molotov import scenario

        @scenario()
        async def broken(session):
            raise ValueError("scenario says no")
        """
    )
    result = run_molotov("-w", "2", "-r", "2", "-c")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert closing_counts(result.stdout) == (0, 4)
    assert "ValueError: scenario says no" in result.stdout
    assert "Traceback" not in result.stdout
    assert target.total == 0


# -- version, help, console script ----------------------------------------------------------------


def test_version(run_molotov, target):
    result = run_molotov("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == molotov.__version__
    assert result.stderr == ""
    assert target.total == 0


def test_help_lists_the_molotov_flags(run_molotov, target):
    result = run_molotov("--help", COLUMNS="200")
    assert result.returncode == 0, result.stderr
    for flag in (
        "-w, --workers",
        "-p, --processes",
        "-d, --duration",
        "-r, --max-runs",
        "-q, --quiet",
        "-v, --verbose",
        "-x, --exception",
        "-c, --console",
        "-s, --single-mode",
        "--single-run",
        "--ramp-up",
        "--delay",
        "--sizing",
        "--statsd",
        "--use-extension",
        "--force-shutdown",
        "--config",
        "--demo",
        "--version",
    ):
        assert flag in result.stdout, flag
    short = run_molotov("-h", COLUMNS="200")
    assert short.returncode == 0
    assert short.stdout == result.stdout
    assert target.total == 0


# What typer shows of a value's Python type when a flag names no metavar of its own.
TYPER_TYPES = re.compile(r"<\w+(?:\[\w+\])?>")


def one_line_help(stdout: str) -> str:
    return " ".join(stdout.split())  # the help wraps: read it as one line of words


@pytest.mark.parametrize(
    ("flag", "metavar"),
    [
        ("-d, --duration", "DURATION"),
        ("--ramp-up", "DURATION"),
        ("--delay", "DURATION"),
        ("--step-timeout", "DURATION"),
        ("--threshold", "EXPR"),
        ("--report", "FILE"),
        ("--csv", "PREFIX"),
        ("--rate", "RATE"),
        ("-w, --workers", "N"),
        ("--use-extension", "EXTENSION"),
        ("--agents", "URL,URL..."),
    ],
)
def test_help_names_values_in_words_not_python_types(run_molotov, target, flag, metavar):
    help_text = one_line_help(run_molotov("--help", COLUMNS="200").stdout)
    assert TYPER_TYPES.findall(help_text) == []
    assert f"{flag} {metavar} " in help_text
    # Not `[scenario]` and an `Arguments:` section with `scenario <str>`: the help says it.
    assert help_text.startswith("Usage: molotov [OPTIONS] [SCENARIO] Load test an HTTP ")
    assert "SCENARIO: a file path or a dotted module name (default: loadtest.py)" in help_text


def test_help_of_threshold_names_every_metric(run_molotov, target):
    """The names come from the thresholds module's own tables: none can be left out."""
    help_text = one_line_help(run_molotov("--help", COLUMNS="200").stdout)
    threshold = help_text[help_text.index("--threshold EXPR") : help_text.index("--report FILE")]
    assert STATUS_FAMILY in threshold  # status_503, status_5xx, status_other, each with _rate
    for metric in METRICS:
        family, _, base = metric.partition("_")
        if family == "status":
            continue
        if family in ("http", "response") and base in METRICS:
            assert f"{family}_*" in threshold and f" {base} " in threshold, metric
        else:
            assert re.search(rf"[ (]{re.escape(metric)}[ ,.)]", threshold), metric
    assert "exits 99" in threshold


def test_moloreport_help_names_values_in_words(target):
    script = "from molotov.reports.moloreport import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", script, "--help"],
        env={**molotov_env(), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    help_text = one_line_help(done.stdout)
    assert TYPER_TYPES.findall(help_text) == [], help_text
    # typer marks a required argument with braces: the argument's name, not `{reports}`.
    assert help_text.startswith("Usage: moloreport [OPTIONS] {REPORT}... Merge the molotov")
    for named in ("--threshold EXPR", "--report FILE", "--html FILE", "--csv PREFIX"):
        assert named in help_text


def _console_script() -> Path:
    return Path(sys.executable).parent / "molotov"


def test_console_script_exists():
    script = _console_script()
    assert script.is_file()
    assert os.access(script, os.X_OK)


def test_console_script_behaves_like_python_m(run_molotov, write_scenario, target, tmp_path):
    write_scenario(GOOD)

    def script(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(_console_script()), *args],
            cwd=tmp_path,
            env=molotov_env(target.url),
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    version = script("--version")
    assert version.returncode == 0
    assert version.stdout == run_molotov("--version").stdout

    typo = script("--wokers", "3")
    assert typo.returncode == 2
    assert "--wokers" in typo.stderr

    missing = script("nope.py")
    assert missing.returncode == 1
    assert missing.stderr.strip() == run_molotov("nope.py").stderr.strip()

    ran = script("-w", "2", "-r", "3", "-c")
    assert ran.returncode == 0, ran.stderr
    assert closing_counts(ran.stdout) == (6, 0)
    assert target.total == 6


# -- the demo ---------------------------------------------------------------------------------


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pid: int, started: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[2] == started and stat[0] not in ("Z", "X")


def _descendants(root: int) -> dict[int, tuple[int, str]]:
    """Every live descendant of ``root``: pid -> (start time, command line)."""
    parents: dict[int, list[int]] = {}
    starts: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None:
                parents.setdefault(stat[1], []).append(int(entry.name))
                starts[int(entry.name)] = stat[2]
    found: dict[int, tuple[int, str]] = {}
    todo = list(parents.get(root, []))
    while todo:
        pid = todo.pop()
        found[pid] = (starts[pid], _cmdline(pid))
        todo += parents.get(pid, [])
    return found


def test_demo(tmp_path):
    """``--demo`` runs the bundled scenarios against its own server, and stops that server."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "molotov", "--demo", "-d", "2", "-c"],
        cwd=tmp_path,
        env=molotov_env(""),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    seen: dict[int, tuple[int, str]] = {}
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            for pid, (start, cmd) in _descendants(proc.pid).items():
                if cmd and pid not in seen:  # the first look: later ones may see a zombie
                    seen[pid] = (start, cmd)
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        done.set()
        watcher.join()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    successes, _ = closing_counts(stdout)
    assert successes > 0
    assert "*** Bye ***" in stdout

    servers = {pid: start for pid, (start, cmd) in seen.items() if "molotov.demo.server" in cmd}
    assert servers, f"the demo server was never seen among {seen}"
    # Children that only lose their parent (the resource tracker) may take a moment to go.
    deadline = time.monotonic() + 10  # a safety net, not a performance bound
    while any(_alive(pid, start) for pid, (start, _) in seen.items()):
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    survivors = {pid: cmd for pid, (start, cmd) in seen.items() if _alive(pid, start)}
    assert not survivors, survivors
