"""Where a request's CPU time goes: py-spy samples of a molotov worker and of the floor.

``bench.py --profile`` runs molotov (``-p 1 -w 100``, the one-GET scenario) and the floor, one
after the other, pinned as in the benchmark; once warm, it samples the busiest process of each
with ``py-spy record --nonblocking`` (py-spy itself on the target's core, so that it does not
steal the client's) while measuring that process's CPU per request from ``/proc``. Every sample
is put in one category, and a category's share times the CPU per request is its cost:

* anything under an aiohttp, yarl or multidict frame is aiohttp's, by the file and function of
  the innermost library frame (socket writes, request building, the connection pool, ...);
* a sample whose innermost frame is the one that runs the event loop is the loop itself
  (uvloop is C: polling, callbacks and stepping tasks show up there);
* in molotov's own code the innermost frame's source line names the category
  (``await asyncio.sleep(0)``, ``slot.step_done(...)``, ...), so it survives edits;
* the scenario's and the floor's own coroutine frames (``async with session.get``) are the
  cost of resuming a chain of coroutines.

py-spy: ``pip install py-spy`` in the benchmark's environment (``nox -s bench -- --profile``
installs it). It needs ptrace rights over the client (root, or ``ptrace_scope`` 0).
"""

from __future__ import annotations

import linecache
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

MIN_SHARE = 0.005  # smaller categories (but molotov's own) are summed in one line
LIBRARIES = ("aiohttp/", "yarl/", "multidict/", "propcache/", "aiohappyeyeballs/")
# Innermost frames that mean "inside the event loop's C code" (uvloop has no Python frames).
LOOP_FRAMES = {
    ("molotov/worker.py", "process_main"),
    ("asyncio/runners.py", "Runner.run"),
    ("uvloop/__init__.py", "run"),
    ("asyncio/base_events.py", "BaseEventLoop.run_until_complete"),
    ("floor.py", "main"),
}


def py_spy() -> str | None:
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def _parse(frame: str) -> tuple[str, str, int]:
    """``function (path:line)`` -> (function, path, line)."""
    name, _, where = frame.rpartition(" (")
    path, _, line = where.rstrip(")").rpartition(":")
    return name, path, int(line) if line.lstrip("-").isdigit() else 0


def _source(path: str, line: int, roots: list[Path]) -> str:
    for root in roots:
        text = linecache.getline(str(root / path), line).strip()
        if text:
            return text
    return f"{path}:{line}"


def categorize(frames: list[str], roots: list[Path], scenario_file: str) -> str:
    parsed = [_parse(f) for f in frames if f.strip()]
    if not parsed:
        return "no Python frame (py-spy could not read the stack)"
    for name, path, _ in reversed(parsed):
        if path.startswith(LIBRARIES):
            library = path.split("/", 1)[0]
            module = Path(path).stem
            return f"{library}: {module}.{name.split('.')[0]}" if library == "aiohttp" else library
    name, path, line = parsed[-1]
    if (path, name) in LOOP_FRAMES:
        return "event loop (uvloop, C: polling, callbacks, stepping tasks)"
    if path.endswith(scenario_file):
        return "scenario coroutine frame (resuming `async with session.get`)"
    if path.endswith("floor.py"):
        return "floor coroutine frame (resuming `async with session.get`)"
    if path.startswith("asyncio/tasks") and name in ("sleep", "__sleep0"):
        return "molotov: asyncio.sleep(0), the coroutine"
    if path.startswith("molotov/"):
        return _molotov_category(name.split(".")[-1], path, _source(path, line, roots))
    return f"other: {name} ({path})"


def _molotov_category(function: str, path: str, source: str) -> str:
    """molotov's own code, grouped by what it does (the source line tells, not its number)."""
    if "asyncio.sleep(0)" in source:
        return "molotov: `await asyncio.sleep(0)` after each step"
    chain = ("_lifetime", "_session_lifetime", "steps")
    if function in chain and "await " in source:
        return "molotov: its coroutine chain resuming (_lifetime > _session_lifetime > steps)"
    if function == "middleware":
        return "molotov: the recording middleware's frame"
    if path.startswith(("molotov/stats/slot", "molotov/stats/histogram")):
        return "molotov: bus recording (step_done, request_done, bucket_of, ...)"
    if function == "pick":
        return "molotov: scenario pick (Picker.pick)"
    if function in ("steps", "__bool__"):
        return "molotov: the rest of the step loop (clock, context.step, checks)"
    return f"molotov: {function}"


def classify(raw: Path, roots: list[Path], scenario_file: str) -> tuple[Counter[str], int]:
    counts: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        if not number.isdigit():
            continue
        total += int(number)
        counts[categorize(stack.split(";"), roots, scenario_file)] += int(number)
    return counts, total


def profile_one(
    argv: list[str],
    spawn: Callable[..., subprocess.Popen[bytes]],
    client_core: int | None,
    spy_core: int | None,
    process_tree: Callable[[int], list[int]],
    cpu_seconds: Callable[[list[int]], float],
    count: Callable[[], int],
    warmup: float,
    seconds: float,
) -> tuple[Path, float, float]:
    """Sample the busiest process of a client: (raw stacks file, µs per request, requests/s)."""
    spy = py_spy()
    assert spy is not None
    out = Path(tempfile.mkdtemp(prefix="molotov-profile-")) / "stacks.raw"
    proc = spawn(argv, client_core, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(warmup)
        tree = process_tree(proc.pid)
        before = {pid: cpu_seconds([pid]) for pid in tree}
        time.sleep(1.0)
        busy = max(tree, key=lambda pid: cpu_seconds([pid]) - before[pid])
        count0, cpu0, t0 = count(), cpu_seconds([busy]), time.monotonic()
        command = [spy, "record", "--pid", str(busy), "--duration", str(int(seconds))]
        command += ["--rate", "250", "--nonblocking", "--format", "raw", "-o", str(out)]
        if spy_core is not None and shutil.which("taskset"):
            command = ["taskset", "-c", str(spy_core), *command]
        done = subprocess.run(command, capture_output=True, timeout=seconds + 60, check=False)
        count1, cpu1, t1 = count(), cpu_seconds([busy]), time.monotonic()
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(f"py-spy failed: {done.stderr.decode()[-500:]}")
    finally:
        proc.terminate()
        proc.wait(20)
    requests = max(1, count1 - count0)
    return out, (cpu1 - cpu0) / requests * 1e6, requests / (t1 - t0)


def report(
    results: dict[str, tuple[Counter[str], int, float, float]], print_table: Callable[..., None]
) -> None:
    """One table: each category's share of samples and its µs per request, per client."""
    names = list(results)
    totals: Counter[str] = Counter()
    for counts, total, _, _ in results.values():
        for category, n in counts.items():
            totals[category] += n / total
    lines = []
    small: dict[str, float] = dict.fromkeys(names, 0.0)
    for category, _ in totals.most_common():
        shares = {name: results[name][0].get(category, 0) / results[name][1] for name in names}
        if max(shares.values()) < MIN_SHARE and not category.startswith("molotov"):
            for name in names:
                small[name] += shares[name]
            continue
        cells = [category]
        for name in names:
            share, us = shares[name], results[name][2]
            cells += [f"{share * 100:.1f}%", f"{share * us:.1f}"] if share else ["", ""]
        lines.append(cells)
    cells = [f"everything else (under {MIN_SHARE:.1%} each)"]
    for name in names:
        cells += [f"{small[name] * 100:.1f}%", f"{small[name] * results[name][2]:.1f}"]
    lines.append(cells)
    headers = ["where the profiled process spends its CPU"]
    for name in names:
        headers += [f"{name} share", "us/req"]
    print_table(headers, lines)
    for name in names:
        counts, total, us, rps = results[name]
        print(f"{name}: {total} samples, {us:.1f} us/req (profiled process), {rps:,.0f} req/s")
