"""Every file a user hands to the commands is read within a bound: ``/dev/zero`` never ends,
and is refused in one line instead of filling the memory.

Each command runs with its address space capped (``RLIMIT_AS``), so a command that reads an
endless file whole dies of it quickly here instead of taking the machine's memory.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import Result, molotov_env

# Far more than any of the commands needs (reading a report or HAR file at its 1 GiB limit
# included), far less than reading /dev/zero for the minute the test waits.
ADDRESS_SPACE = 6 * 1024**3
ENDLESS = "/dev/zero"
CONFIG_LIMIT = 4 * 1024**2  # the documented limit of a config file


def _capped() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def command(name: str) -> list[str]:
    script = shutil.which(name, path=os.path.dirname(sys.executable))
    assert script, f"{name} is not installed beside {sys.executable}"
    return [script]


def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> Result:
    """Run a command to its end, as support.run_command does, within ADDRESS_SPACE."""
    done = subprocess.run(
        argv,
        cwd=cwd,
        env=env or molotov_env(),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        preexec_fn=_capped,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["molotov", "--config", ENDLESS],
            "'/dev/zero' is larger than 4 MiB: too large for a config file",
        ),
        (["moloreport", ENDLESS], "'/dev/zero' is larger than 1024 MiB: too large for a report"),
        (
            ["molostart", "--har", ENDLESS, "out"],
            "'/dev/zero' is larger than 1024 MiB: too large for a HAR file",
        ),
    ],
    ids=["config", "report", "har"],
)
def test_an_endless_input_file_is_one_line_and_exit_1(tmp_path, argv, expected):
    result = run([*command(argv[0]), *argv[1:]], tmp_path)
    assert result.stderr.splitlines() == [expected], result.stderr[-2000:]
    assert result.returncode == 1
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []  # molostart wrote nothing


def test_a_config_file_at_its_limit_is_read_and_one_byte_more_is_not(tmp_path):
    document = b'{"molotov": {"tests": {"test": {"scenario": "nope.py"}}}}'
    padded = document + b" " * (CONFIG_LIMIT - len(document))
    (tmp_path / "at.json").write_bytes(padded)
    (tmp_path / "over.json").write_bytes(padded + b" ")
    at = run([*command("molotov"), "--config", "at.json"], tmp_path)
    assert "larger than" not in at.stderr  # read whole, then its test runs into nope.py
    assert "nope.py" in at.stderr
    over = run([*command("molotov"), "--config", "over.json"], tmp_path)
    assert over.stderr.splitlines() == [
        "'over.json' is larger than 4 MiB: too large for a config file"
    ]
    assert over.returncode == 1


def test_an_endless_agent_token_file_is_one_line_and_exit_2(tmp_path, target):
    (tmp_path / "loadtest.py").write_text("from molotov import scenario\n")
    result = run(
        [*command("molotov"), "--agents", "http://127.0.0.1:9", "--agent-token-file", ENDLESS],
        tmp_path,
        molotov_env(target.url),
    )
    assert result.stderr.splitlines() == [
        "'/dev/zero' is larger than 64 KiB: too large for a token file"
    ], result.stderr[-2000:]
    assert result.returncode == 2
