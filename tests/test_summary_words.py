"""The end of a run as a reader sees it, through the real command against the local target.

At 80 columns no line of the summary is cut inside a word and the verdict comes last, after
Molotov's closing lines (stdout and stderr read as one stream, as a terminal shows them);
the hint that suggests an HTTP threshold is there only when it helps.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from support import MIXED_SCENARIOS, closing, molotov_env

HINT = "--threshold 'http_failure_rate<1%'"

UNCHECKED = """
@molotov.scenario()
async def unchecked(session):
    step = molotov.get_context(session).step
    async with session.get(URL + ("/status/500" if step % 4 == 0 else "/")) as resp:
        await resp.read()
"""

CHECKED = """
@molotov.scenario()
async def checked(session):
    async with session.get(URL + "/status/503") as resp:
        assert resp.status == 200, "unavailable"
"""


def one_stream(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, list[str]]:
    """Run a command with its stderr and stdout in one pipe, as a terminal shows them."""
    done = subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout.splitlines()


def hints(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if HINT in line and "Thresholds" not in line]


def test_at_80_columns_nothing_is_cut_and_the_verdict_comes_last(write_scenario, target, tmp_path):
    write_scenario(MIXED_SCENARIOS)
    argv = [sys.executable, "-m", "molotov", "-c", "-w", "2", "-r", "5"]
    argv += ["--threshold", "p99<1us", "loadtest.py"]
    code, lines = one_stream(argv, tmp_path, molotov_env(target.url, COLUMNS="80"))
    assert code == 99, lines
    summary = lines[next(i for i, line in enumerate(lines) if line.startswith("Duration: ")) :]
    too_wide = [line for line in summary if len(line) > 80]
    assert too_wide == [], "\n".join(lines)
    # The header's items, each whole on a line.
    for item in ("Workers started: 2", "Request errors: none", "HTTP failures: "):
        assert any(item in line for line in summary), summary
    # Molotov's closing lines end stdout; the verdict on stderr comes after them.
    assert summary[-1] == "threshold(s) failed: p99<1us", "\n".join(lines)
    assert sum(closing("\n".join(summary[:-1]))) == 10


def test_without_a_terminal_width_the_header_keeps_one_line_each(
    write_scenario, run_molotov, target
):
    write_scenario(MIXED_SCENARIOS)
    result = run_molotov("-w", "2", "-r", "5", "loadtest.py")
    assert result.returncode == 0, result.stderr
    header = [line for line in result.stdout.splitlines() if line.startswith("Duration: ")]
    assert len(header) == 1 and header[0].endswith("| Workers started: 2"), result.stdout


def test_the_hint_when_unchecked_responses_failed(scenario_file, run_molotov, target):
    scenario_file(UNCHECKED)
    result = run_molotov("-w", "1", "-r", "20", "loadtest.py")
    assert result.returncode == 0, result.stderr
    assert hints(result.stdout) == [
        "25.0% 4xx/5xx responses, no failed step: add --threshold 'http_failure_rate<1%'"
    ]
    assert max(len(line) for line in hints(result.stdout)) <= 80


@pytest.mark.parametrize(
    ("body", "args", "url"),
    [
        (CHECKED, [], ""),
        (UNCHECKED, ["--threshold", "http_failure_rate<30%"], ""),
        (UNCHECKED, ["--threshold", "status_5xx<100"], ""),
        (UNCHECKED, [], "http://127.0.0.1:1"),
    ],
    ids=["scenario-checks-status", "rate-threshold-set", "status-threshold-set", "all-refused"],
)
def test_no_hint_when_it_would_not_help(scenario_file, run_molotov, target, body, args, url):
    scenario_file(body)
    env = {"TARGET_URL": url} if url else {}
    result = run_molotov("-w", "1", "-r", "8", *args, "loadtest.py", **env)
    assert "HTTP failures: " in result.stdout, result.stderr
    assert hints(result.stdout) == [], result.stdout


def test_moloreport_gives_the_same_hint_and_verdict_order(
    scenario_file, run_molotov, target, tmp_path
):
    scenario_file(UNCHECKED)
    assert run_molotov("-w", "1", "-r", "20", "--report", "r.json").returncode == 0
    script = "from molotov.reports.moloreport import main; main()"
    argv = [sys.executable, "-c", script, "r.json", "--threshold", "p99<1us"]
    code, lines = one_stream(argv, tmp_path, molotov_env())
    assert code == 99, lines
    assert lines[-1] == "threshold(s) failed: p99<1us", lines
    assert lines[-2] == "*** Bye ***"
    assert len(hints("\n".join(lines))) == 1
