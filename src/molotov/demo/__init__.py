"""``molotov --demo``: the bundled scenario file against the built-in target server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from molotov.config.runconfig import RunConfig

SCENARIO = Path(__file__).with_name("loadtest.py")
DEMO_DURATION = 10.0
DEMO_WORKERS = 10
STARTUP_TIMEOUT = 30.0


@contextmanager
def target_server() -> Iterator[str]:
    """Start the target in a process of its own; yield its URL; stop it however we leave."""
    # A terminal's Ctrl-C (or hang-up) reaches the whole process group: the server ignores it
    # (an ignored signal survives exec), so it serves the steps that finish after the first
    # Ctrl-C and stops when this function terminates it, after the run.
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGHUP)}
    try:
        server = subprocess.Popen(
            [sys.executable, "-m", "molotov.demo.server", "--port", "0"],
            stdout=subprocess.PIPE,
            text=True,
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    try:
        assert server.stdout is not None
        line = server.stdout.readline().split()
        if len(line) != 2 or line[0] != "PORT":
            raise RuntimeError("the demo target server did not start")
        url = f"http://127.0.0.1:{line[1]}"
        os.environ["TARGET_URL"] = url
        yield url
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def demo_config(config: RunConfig, explicit: set[str], url: str) -> RunConfig:
    """The demo's defaults (10 s, 10 workers) where the flags left them unset."""
    changes: dict[str, object] = {"scenario": str(SCENARIO)}
    if "duration" not in explicit and "max_runs" not in explicit:
        changes["duration"] = DEMO_DURATION
    if "workers" not in explicit:
        changes["workers"] = DEMO_WORKERS
    return config.replace(**changes)
