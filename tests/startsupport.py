"""Running the real ``molostart`` command, and the load tests it writes, in tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from support import Result, molotov_env, run_command

BIN = Path(sys.executable).parent
MOLOSTART = BIN / "molostart"
RUFF = BIN / "ruff"


def run_molostart(*args: str, cwd: Path, timeout: float = 60) -> Result:
    """``molostart ARGS`` in ``cwd``, with no terminal on stdin."""
    return run_command([str(MOLOSTART), *args], cwd, dict(os.environ), timeout)


def run_test(folder: Path, test: str = "smoke", timeout: float = 60, **env: str) -> Result:
    """``molotov --config molotov.json TEST`` in ``folder``, as molostart says to.

    TARGET_URL is not set unless given: a generated load test must run as written.
    """
    environment = molotov_env(**env)
    if "TARGET_URL" not in env:
        del environment["TARGET_URL"]
    argv = [sys.executable, "-m", "molotov", "--config", "molotov.json", test]
    return run_command(argv, folder, environment, timeout)


def ruff(*args: str, cwd: Path) -> Result:
    """ruff with its defaults (``--isolated``: this repository's settings do not apply)."""
    return run_command([str(RUFF), *args, "--isolated"], cwd, dict(os.environ), 60)
