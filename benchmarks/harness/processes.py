"""Processes of a benchmark: their tree, CPU time and RSS from ``/proc``; pinning to a core."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


# -- /proc -----------------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    return data[data.rindex(")") + 2 :].split()


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants, from the parent pids in ``/proc``."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            fields = _stat_fields(int(name))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


def cpu_seconds(pids: Sequence[int]) -> float:
    """utime + stime of these processes (all their threads), in seconds."""
    ticks = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:
            ticks += int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)
    return ticks / CLK_TCK


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except OSError:
        return 0


def describe_pid(pid: int, root: int) -> str:
    """A process of molotov's tree by its role: the parent, a worker, the resource tracker."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        cmdline = ""
    if pid == root:
        role = "parent"
    elif "resource_tracker" in cmdline:
        role = "resource tracker"
    else:
        role = "worker"
    return f"{role} ({pid})"


# -- pinning ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pinning:
    target: int | None
    client: int | None
    how: str

    @classmethod
    def choose(cls) -> Pinning:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            return cls(None, None, "not pinned: a single core available")
        how = "taskset" if shutil.which("taskset") else "sched_setaffinity"
        return cls(cpus[0], cpus[1], f"target on core {cpus[0]}, client on core {cpus[1]} ({how})")

    def wrap(self, argv: list[str], core: int | None) -> list[str]:
        if core is None or not shutil.which("taskset"):
            return argv
        return ["taskset", "-c", str(core), *argv]


def spawn(
    argv: list[str], pinning: Pinning, core: int | None, **kwargs: object
) -> subprocess.Popen[bytes]:
    """Start a command in its own session, pinned to ``core``."""
    proc: subprocess.Popen[bytes] = subprocess.Popen(  # type: ignore[call-overload]
        pinning.wrap(argv, core), start_new_session=True, **kwargs
    )
    if core is not None and not shutil.which("taskset"):
        # No taskset: pin right after the start (what it forks later inherits the affinity).
        with contextlib.suppress(OSError):
            os.sched_setaffinity(proc.pid, {core})
    return proc


def stop_tree(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM the process, then SIGKILL whatever is left of its tree after ``grace``."""
    tree = process_tree(proc.pid) if proc.poll() is None else []
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(grace)
    for pid in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)
