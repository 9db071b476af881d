"""What runs as a client: the one-GET scenario, and the commands of molotov and Molotov 2.6."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent  # benchmarks/: target.py, floor.py
MOLOTOV26 = Path(os.environ.get("MOLOTOV26_VENV", "/tmp/bench-molotov26"))

SCENARIO = '''\
"""One GET per step: the benchmark's scenario (works with molotov 3 and Molotov 2.x)."""
from molotov import scenario

URL = {url!r}


@scenario(weight=100)
async def one_get(session):
    async with session.get(URL) as resp:
        await resp.read()
'''


# The same step over 10 paths: 10 request names (a HAR-like scenario's table, issue 15).
SCENARIO_TEN = '''\
"""One GET per step over 10 paths, each its own request name (molotov 3 and Molotov 2.x)."""
import itertools

from molotov import scenario

URLS = itertools.cycle([{url!r} + "/page-" + name for name in "abcdefghij"])


@scenario(weight=100)
async def ten_paths(session):
    async with session.get(next(URLS)) as resp:
        await resp.read()
'''
SCENARIOS = {"one": SCENARIO, "ten": SCENARIO_TEN}


def molotov_cmd() -> list[str]:
    script = Path(sys.executable).parent / "molotov"
    return [str(script)] if script.exists() else [sys.executable, "-m", "molotov"]


def molotov26_ok(scenario: Path) -> str:
    """Why the Molotov 2.6 row cannot run, or ``""`` when it can."""
    exe = MOLOTOV26 / "bin" / "molotov"
    if not exe.exists():
        return (
            f"Molotov 2.6 row skipped: no {exe} "
            f"(python3 -m venv {MOLOTOV26} && {MOLOTOV26}/bin/pip install molotov==2.6 uvloop)"
        )
    try:
        out = subprocess.run([str(exe), "--version"], capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"Molotov 2.6 row skipped: {exe} --version failed ({exc})"
    if out.returncode != 0 or not out.stdout.strip().startswith(b"2."):
        return f"Molotov 2.6 row skipped: {exe} --version said {out.stdout.strip()!r}"
    return ""
