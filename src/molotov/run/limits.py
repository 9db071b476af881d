"""The process's file descriptor limit, raised for a load test before the workers fork.

Every worker holds at least one connection, so ``-w 2000`` needs ~2,000 descriptors in each
worker process; many systems give a process 1,024 (the soft ``RLIMIT_NOFILE``), and beyond it
every new connection fails with ``EMFILE``. As load tools commonly do, molotov raises the soft
limit to the hard one, and says so when the workers still cannot fit.
"""

from __future__ import annotations

import resource

BASELINE_DESCRIPTORS = 64  # what a worker process uses besides its connections
MAX_SOFT = 1 << 20  # a soft limit to ask for when the hard one is unlimited


def raise_descriptor_limit(workers_per_process: int) -> str | None:
    """Raise the soft limit to the hard one; a warning when the workers still need more."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = MAX_SOFT if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (OSError, ValueError):
            pass  # not allowed here (some containers): the warning below says what to do
    needed = workers_per_process + BASELINE_DESCRIPTORS
    if soft == resource.RLIM_INFINITY or needed <= soft:
        return None
    return (
        f"Warning: {workers_per_process} workers per process need ~{needed} file descriptors "
        f"and the limit is {soft}: raise it (ulimit -n {needed}), or connections will fail with "
        "'too many open files'"
    )
