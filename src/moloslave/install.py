"""The requirements of a test, installed before it runs: a venv in the clone, or none.

Shared by ``moloslave`` and its agent mode (:mod:`moloslave.agent`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from moloslave import env as slave_env
from moloslave.process import Interrupted, Signals


class SlaveError(Exception):
    """A problem that ends the run before the test, with one line (exit code 1)."""


def say(line: str) -> None:
    print(line, flush=True)


def install(signals: Signals, repo: Path, requirements: str | None) -> Path:
    """Install ``requirements`` (if any) into a venv in the clone; the Python to run with."""
    if requirements is None:
        return Path(sys.executable)
    venv = repo / slave_env.VENV_NAME
    if venv.exists():
        raise SlaveError(f"The repository has a {slave_env.VENV_NAME!r}: moloslave's venv")
    say(f"Installing {requirements} into {venv}")
    python = slave_env.create(venv)
    code = signals.run(slave_env.pip_install_args(python, repo / requirements), cwd=repo)
    if signals.received is not None:
        raise Interrupted(signals.received)  # pip had it too, and stopped
    if code != 0:
        raise SlaveError(f"Can't install {requirements} (pip exited with {code})")
    return python
