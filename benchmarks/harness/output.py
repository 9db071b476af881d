"""What the benchmarks print: tables, the machine they ran on, and which molotov they ran."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path


def print_table(headers: Sequence[str], lines: Sequence[Sequence[str]]) -> None:
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(headers)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for line in lines:
        pairs = zip(line, widths, strict=True)
        cells = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(pairs)]
        print("| " + " | ".join(cells) + " |")


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} cores ({model}), Python {sys.version.split()[0]}, "
        f"load average {load} at the start"
    )


def molotov_source() -> str:
    """Which molotov the rows run: version, folder, and the git commit when it has one."""
    out = subprocess.run(
        [sys.executable, "-c", "import molotov; print(molotov.__version__, molotov.__file__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        return "molotov not importable"
    version, _, where = out.stdout.strip().partition(" ")
    folder = Path(where).parent
    git = subprocess.run(
        ["git", "-C", str(folder), "describe", "--always", "--dirty", "--exclude", "*"],
        capture_output=True,
        text=True,
        check=False,
    )
    commit = f", git {git.stdout.strip()}" if git.returncode == 0 else ""
    return f"{version} from {folder}{commit}"
