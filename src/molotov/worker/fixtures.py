"""The run-wide fixtures: ``global_setup(args)`` before the workers, ``global_teardown()`` after.

``global_setup`` runs in the parent, before the fork, so what it sets (``set_var``, module
globals) is every worker process's. ``global_teardown`` runs where the run's state is: with
one worker process, in that process once its workers are done (so the module globals that
the scenarios and event handlers filled are what it sees, as in Molotov 2.x, where the
workers ran in the main process); with several, in the parent, which sees none of the
processes' globals (each has its own copy: use the report, StatsD, or a file per process).

Each worker's own fixtures (``setup``, ``setup_session``, ``teardown_session``, ``teardown``)
are called by its pool (:meth:`molotov.worker.pool.WorkerPool._fixture`), as described here by
:data:`WORKER_FIXTURES`.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from typing import Any

from molotov.api import Registry
from molotov.stats.snapshot import ErrorKind
from molotov.worker.errors import PROPAGATED, USER_ERRORS

# The fixtures a worker calls, with the kind of their failures and whether they are awaited.
WORKER_FIXTURES = {
    "setup": (ErrorKind.SETUP, True),
    "setup_session": (ErrorKind.SESSION_SETUP, True),
    "teardown_session": (ErrorKind.TEARDOWN, True),
    "teardown": (ErrorKind.TEARDOWN, False),
}


def session_options(result: Any) -> Any:
    """What ``setup()`` returned: the worker's ``ClientSession`` options, or None."""
    if result is not None and not isinstance(result, dict):
        raise TypeError(
            f"setup() must return a dict of ClientSession options or None, "
            f"not {type(result).__name__}"
        )
    return result


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
    except PROPAGATED:
        raise
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
    except PROPAGATED:
        raise
    except USER_ERRORS as exc:
        sys.stderr.write(f"global_teardown() failed: {type(exc).__name__}: {exc}\n")
        if verbose:
            sys.stderr.write(traceback.format_exc())
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
