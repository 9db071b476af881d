"""The run-wide fixtures: ``global_setup(args)`` before the workers, ``global_teardown()`` after.

``global_setup`` runs in the parent, before the fork, so what it sets (``set_var``, module
globals) is every worker process's. ``global_teardown`` runs where the run's state is: with
one worker process, in that process once its workers are done (so the module globals that
the scenarios and event handlers filled are what it sees, as in Molotov 2.x, where the
workers ran in the main process); with several, in the parent, which sees none of the
processes' globals (each has its own copy: use the report, StatsD, or a file per process).
"""

from __future__ import annotations

import argparse
import sys
import traceback

from molotov.api import Registry
from molotov.worker.errors import USER_ERRORS


class GlobalSetupError(Exception):
    """``global_setup`` raised; the message is one line, ``detail`` its traceback."""

    def __init__(self, message: str, detail: str) -> None:
        super().__init__(message)
        self.detail = detail


def global_setup(registry: Registry, args: argparse.Namespace) -> None:
    setup = registry.fixture("global_setup")
    if setup is None:
        return
    try:
        setup(args)
    except USER_ERRORS as exc:
        raise GlobalSetupError(
            f"global_setup() failed: {type(exc).__name__}: {exc}", traceback.format_exc()
        ) from None


def teardown_in_worker(registry: Registry, processes: int) -> bool:
    """Whether ``global_teardown`` runs in the (only) worker process."""
    return processes == 1 and registry.fixture("global_teardown") is not None


def global_teardown(registry: Registry, verbose: int) -> None:
    """Call ``global_teardown()``; a failure is one line on stderr (a traceback with -v)."""
    teardown = registry.fixture("global_teardown")
    if teardown is None:
        return
    sys.stdout.flush()
    try:
        teardown()
    except USER_ERRORS as exc:
        sys.stderr.write(f"global_teardown() failed: {type(exc).__name__}: {exc}\n")
        if verbose:
            sys.stderr.write(traceback.format_exc())
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
