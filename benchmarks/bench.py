"""molotov against the bare aiohttp loop: requests/s, client CPU per request, start-up, soak.

Run by ``nox -s bench`` (``nox -s bench -- --quick`` for a smoke run, ``-- --soak 600`` for
the memory soak). What it does:

* starts ``target.py`` (a counting keep-alive HTTP/1.1 server) pinned to one core, and runs
  every client pinned to another one (``taskset`` when available);
* for every row, starts the client, waits ``--warmup`` seconds, then measures a fixed window of
  ``--window`` seconds: the target's own request count (``GET /__count``, never the client's
  word), the CPU time (utime + stime from ``/proc/PID/stat``) of the client process and all its
  descendants, sampled at both ends of the window, and the tree's resident memory (summed over
  the processes, the largest of the samples taken every 0.25 s); start-up and shutdown stay out
  of the window;
* runs every row ``--repeat`` times, interleaved (A B C A B C ...), and prints the medians; the
  ratio to the floor is the median of the per-pass ratios (each row against the floor measured
  in the same pass), so the machine's load drift cancels out;
* then time to first request of ``molotov -w 1 -r 1`` (from process start to the target seeing
  the request), and the wall time of ``molotov --version`` and ``--help``.

``--soak SECONDS`` instead runs molotov at full rate for that long, samples every process's
RSS every 10 s, and reports each one's growth after the warm-up.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
MOLOTOV26 = Path(os.environ.get("MOLOTOV26_VENV", "/tmp/bench-molotov26"))
RSS_EVERY = 0.25  # seconds between two RSS samples inside a window
SOAK_EVERY = 10.0  # seconds between two soak samples

SCENARIO = '''\
"""One GET per step: the benchmark's scenario (works with molotov 3 and Molotov 2.x)."""
from molotov import scenario

URL = {url!r}


@scenario(weight=100)
async def one_get(session):
    async with session.get(URL) as resp:
        await resp.read()
'''


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


# -- the target and the statsd sink ------------------------------------------------------------


class Target:
    """``target.py`` in a subprocess; its count is read on its uncounted control endpoint."""

    def __init__(self, pinning: Pinning) -> None:
        self.proc = spawn(
            [sys.executable, str(HERE / "target.py")],
            pinning,
            pinning.target,
            stdout=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode().strip()
        if not line.isdigit():
            stop_tree(self.proc)
            raise RuntimeError(f"the target did not start (it printed {line!r})")
        self.port = int(line)
        self.url = f"http://127.0.0.1:{self.port}/"
        self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def _get(self, path: str) -> str:
        for attempt in range(2):
            try:
                self._conn.request("GET", path)
                return self._conn.getresponse().read().decode()
            except (OSError, http.client.HTTPException):
                self._conn.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def count(self) -> tuple[int, int]:
        """Requests served so far, and the monotonic ns of the first one since ``arm()``."""
        count, first = self._get("/__count").split()
        return int(count), int(first)

    def arm(self) -> None:
        self._get("/__arm")

    def stall(self, seconds: float) -> None:
        """Make the target hold its responses back for ``seconds`` from now."""
        self._get(f"/__stall?s={seconds:g}")

    def cpu(self) -> float:
        return cpu_seconds([self.proc.pid])

    def close(self) -> None:
        self._conn.close()
        stop_tree(self.proc)


class UdpSink:
    """A local UDP socket for ``--statsd``: drains and counts the datagrams it gets."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.datagrams = 0
        self._stop = False
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while not self._stop:
            with contextlib.suppress(TimeoutError):
                self.sock.recv(65536)
                self.datagrams += 1

    def close(self) -> None:
        self._stop = True
        self._thread.join()
        self.sock.close()


# -- rows ------------------------------------------------------------------------------------


@dataclass
class Row:
    key: str
    label: str
    argv: list[str]
    env: dict[str, str] | None = None
    samples: list[Sample] = field(default_factory=list)
    note: str = ""


@dataclass(frozen=True)
class Sample:
    rps: float
    cpu_us: float  # client CPU per request, whole process tree
    client_util: float  # client tree CPU seconds per wall second
    target_util: float
    rss: int  # peak of the tree's summed RSS
    processes: int
    statsd: int = 0  # datagrams the sink got during the window


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


def make_rows(
    options: argparse.Namespace, url: str, scenario: Path, sink: UdpSink, notes: list[str]
) -> list[Row]:
    safety = str(int(options.warmup + options.window + 60))  # a leaked client stops by itself
    mol = [*molotov_cmd(), "-d", safety]
    floor = [sys.executable, str(HERE / "floor.py"), url, "-d", safety]
    rows = [
        Row("molotov", "molotov -p 1 -w 100", [*mol, "-p", "1", "-w", "100", str(scenario)]),
        Row(
            "statsd",
            "molotov --statsd (UDP sink)",
            [
                *mol,
                "-p",
                "1",
                "-w",
                "100",
                "--statsd",
                "--statsd-address",
                f"udp://127.0.0.1:{sink.port}",
                str(scenario),
            ],
        ),
        Row("no-uvloop", "molotov --no-uvloop", [*mol, "-w", "100", "--no-uvloop", str(scenario)]),
        Row("p2", "molotov -p 2 -w 50 (one core)", [*mol, "-p", "2", "-w", "50", str(scenario)]),
        Row("floor", "floor: aiohttp + uvloop", [*floor, "-w", "100"]),
        Row("floor-asyncio", "floor: aiohttp + asyncio", [*floor, "-w", "100", "--no-uvloop"]),
    ]
    for position, src in enumerate(options.alt_src or (), start=1):
        path = Path(src).resolve()
        name = f"{path.parent.name}/{path.name}" if path.name == "src" else path.name
        rows.insert(
            position,
            Row(
                f"alt:{name}",
                f"molotov -p 1 -w 100 from {name}",
                [sys.executable, "-m", "molotov", "-d", safety, "-w", "100", str(scenario)],
                env={**os.environ, "PYTHONPATH": str(path)},
            ),
        )
    if options.variants:
        for flag in (
            "--session-per-worker",
            "--no-timeout",
            "--dummy-cookie-jar",
            "--trace-config",
            "--middleware",
            "--response-class",
        ):
            key = "floor" + flag[1:]
            rows.append(Row(key, f"floor {flag}", [*floor, "-w", "100", flag]))
    why_not = molotov26_ok(scenario)
    if why_not:
        notes.append(why_not)
    else:
        argv = [str(MOLOTOV26 / "bin" / "molotov"), "-w", "100", "-d", safety, "--uvloop"]
        rows.append(Row("molotov26", "Molotov 2.6 (PyPI) --uvloop", [*argv, str(scenario)]))
    if options.only:
        wanted = set(options.only.split(","))
        rows = [r for r in rows if r.key in wanted or r.key == "floor"]
    return rows


def measure(
    row: Row, target: Target, pinning: Pinning, sink: UdpSink, warmup: float, window: float
) -> Sample | None:
    """One run of a row: start, warm up, measure the window, stop."""
    with tempfile.TemporaryFile() as errors:
        proc = spawn(
            row.argv, pinning, pinning.client, env=row.env, stdout=subprocess.DEVNULL, stderr=errors
        )
        try:
            time.sleep(warmup)
            if proc.poll() is not None:
                errors.seek(0)
                row.note = f"exited with {proc.returncode}: {errors.read()[-300:].decode()!r}"
                return None
            count0, _ = target.count()
            t0 = time.monotonic()
            tree = process_tree(proc.pid)
            cpu0, tcpu0, dgrams0 = cpu_seconds(tree), target.cpu(), sink.datagrams
            peak = 0
            end = t0 + window
            while (now := time.monotonic()) < end:
                peak = max(peak, sum(rss_bytes(p) for p in tree))
                time.sleep(min(RSS_EVERY, end - now))
            count1, _ = target.count()
            t1 = time.monotonic()
            cpu1, tcpu1 = cpu_seconds(tree), target.cpu()
            peak = max(peak, sum(rss_bytes(p) for p in tree))
            dgrams = sink.datagrams - dgrams0
            alive = proc.poll() is None
        finally:
            stop_tree(proc)
        if not alive or count1 == count0:
            errors.seek(0)
            row.note = f"no steady state (exit {proc.returncode}): {errors.read()[-300:]!r}"
            return None
    requests = count1 - count0
    wall = t1 - t0
    return Sample(
        rps=requests / wall,
        cpu_us=(cpu1 - cpu0) / requests * 1e6,
        client_util=(cpu1 - cpu0) / wall,
        target_util=(tcpu1 - tcpu0) / wall,
        rss=peak,
        processes=len(tree),
        statsd=dgrams,
    )


# -- start-up --------------------------------------------------------------------------------


def time_to_first_request(
    target: Target, pinning: Pinning, argv: list[str], runs: int
) -> tuple[list[float], list[float]]:
    """Seconds from process start to the target seeing its first request, and to its exit."""
    first, total = [], []
    for _ in range(runs):
        target.arm()
        t0 = time.monotonic_ns()
        proc = spawn(
            argv, pinning, pinning.client, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        proc.wait(120)
        t1 = time.monotonic_ns()
        _, first_ns = target.count()
        if first_ns:
            first.append((first_ns - t0) / 1e9)
        total.append((t1 - t0) / 1e9)
    return first, total


def wall_times(argv: list[str], pinning: Pinning, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.monotonic()
        spawn(argv, pinning, pinning.client, stdout=subprocess.DEVNULL).wait(120)
        times.append(time.monotonic() - t0)
    return times


def heavy_imports(args: Sequence[str]) -> list[str]:
    """Which of the heavy modules ``molotov ARGS`` imports (from ``python -X importtime``)."""
    code = (
        f"import sys; sys.argv = ['molotov', *{list(args)!r}]; from molotov.cli import main; main()"
    )
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    heavy = ("aiohttp", "uvloop", "rich", "statsd", "multiprocessing", "molotov.run.conductor")
    seen = {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines() if "|" in line}
    return [name for name in heavy if name in seen]


# -- output ----------------------------------------------------------------------------------


def med(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


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


# -- the benchmark ---------------------------------------------------------------------------


def bench(options: argparse.Namespace) -> int:
    pinning = Pinning.choose()
    print(f"machine: {machine()}")
    print(f"molotov: {molotov_source()}")
    print(f"pinning: {pinning.how}")
    print(
        f"each row {options.repeat}x interleaved; warm-up {options.warmup:g}s, "
        f"window {options.window:g}s",
        flush=True,
    )
    notes: list[str] = []
    target = Target(pinning)
    sink = UdpSink()
    workdir = Path(tempfile.mkdtemp(prefix="molotov-bench-"))
    scenario = workdir / "bench_scenario.py"
    scenario.write_text(SCENARIO.format(url=target.url))
    try:
        rows = make_rows(options, target.url, scenario, sink, notes)
        for rep in range(options.repeat):
            for row in rows:
                if row.note and not row.samples:
                    continue  # failed once already: do not keep paying for it
                sample = measure(row, target, pinning, sink, options.warmup, options.window)
                if sample is not None:
                    row.samples.append(sample)
                done = (
                    f"{sample.rps:8.0f} req/s {sample.cpu_us:6.1f} us/req" if sample else "failed"
                )
                print(f"  pass {rep + 1} {row.label:34} {done}", flush=True)
        print()
        report_rows(rows, notes)
        if not options.no_startup:
            print()
            report_startup(target, pinning, scenario, options.startup_runs)
    finally:
        target.close()
        sink.close()
        shutil.rmtree(workdir, ignore_errors=True)
    for note in notes:
        print(f"note: {note}")
    return 0


def _per_pass_ratio(
    rows: dict[str, Row], key: str, base: str, value: Callable[[Sample], float]
) -> list[float]:
    if key not in rows or base not in rows:
        return []
    pairs = zip(rows[key].samples, rows[base].samples, strict=False)
    return [value(a) / value(b) for a, b in pairs]


def report_rows(rows: list[Row], notes: list[str]) -> None:
    by_key = {row.key: row for row in rows}
    lines = []
    for row in rows:
        s = row.samples
        if not s:
            notes.append(f"{row.label}: {row.note or 'no sample'}")
            continue
        ratio = med(_per_pass_ratio(by_key, row.key, "floor", lambda x: x.cpu_us))
        cpu = [x.cpu_us for x in s]
        lines.append(
            [
                row.label,
                f"{med([x.rps for x in s]):,.0f}",
                f"{med(cpu):.1f}",
                f"{min(cpu):.0f}-{max(cpu):.0f}",
                f"{ratio:.2f}x",
                f"{med([x.client_util for x in s]) * 100:.0f}%",
                f"{med([x.target_util for x in s]) * 100:.0f}%",
                f"{max(x.rss for x in s) / 2**20:.0f}",
                str(max(x.processes for x in s)),
            ]
        )
    print_table(
        [
            "client (100 connections)",
            "req/s",
            "CPU us/req",
            "range",
            "vs floor",
            "client CPU",
            "target CPU",
            "peak RSS MiB",
            "procs",
        ],
        lines,
    )
    if "p2" in by_key and "molotov" in by_key:
        ratios = _per_pass_ratio(by_key, "p2", "molotov", lambda x: x.rps)
        if ratios:
            print(
                f"-p 2 -w 50 vs -p 1 -w 100, both on one core: requests/s ratio "
                f"{med(ratios):.3f} (per pass: {', '.join(f'{r:.3f}' for r in ratios)}; "
                f"target >= 0.95)"
            )
            cpu = _per_pass_ratio(by_key, "molotov", "p2", lambda x: x.cpu_us)
            print(
                f"  the same from CPU per request (-p 1 / -p 2, what a saturated core would "
                f"give, less sensitive to other load): {med(cpu):.3f} "
                f"(per pass: {', '.join(f'{r:.3f}' for r in cpu)})"
            )
    if "statsd" in by_key and by_key["statsd"].samples:
        got = med([x.statsd for x in by_key["statsd"].samples])
        print(f"--statsd row: the UDP sink got {got:.0f} datagrams per window (median)")
    if any(x.target_util > 0.9 for row in rows for x in row.samples):
        print("WARNING: the target used > 90% of its core in some window: it may be the limit")


def report_startup(target: Target, pinning: Pinning, scenario: Path, runs: int) -> None:
    mol = molotov_cmd()
    one = ["-w", "1", "-r", "1"]
    first, total = time_to_first_request(target, pinning, [*mol, *one, str(scenario)], runs)
    floor = [sys.executable, str(HERE / "floor.py"), target.url, *one]
    floor_first, floor_total = time_to_first_request(target, pinning, floor, runs)
    version = wall_times([*mol, "--version"], pinning, runs)
    helptext = wall_times([*mol, "--help"], pinning, runs)
    bare = wall_times([sys.executable, "-c", "pass"], pinning, runs)
    aiohttp_import = wall_times([sys.executable, "-c", "import aiohttp"], pinning, runs)

    def ms(values: list[float]) -> str:
        return f"{med(values) * 1000:.0f}" if values else "n/a"

    def imports(args: list[str]) -> str:
        return ", ".join(heavy_imports(args)) or "none"

    print_table(
        [f"start-up (median of {runs})", "first request ms", "exit ms", "heavy imports"],
        [
            ["molotov -w 1 -r 1", ms(first), ms(total), ""],
            ["floor.py -w 1 -r 1 (reference)", ms(floor_first), ms(floor_total), ""],
            ["molotov --version", "", ms(version), imports(["--version"])],
            ["molotov --help", "", ms(helptext), imports(["--help"])],
            ["python -c pass (reference)", "", ms(bare), ""],
            ["python -c 'import aiohttp' (reference)", "", ms(aiohttp_import), ""],
        ],
    )


# -- soak ------------------------------------------------------------------------------------


def soak(options: argparse.Namespace) -> int:
    pinning = Pinning.choose()
    seconds = options.soak
    warmup = min(options.soak_warmup, seconds / 2)
    print(f"machine: {machine()}")
    print(f"pinning: {pinning.how}")
    target = Target(pinning)
    workdir = Path(tempfile.mkdtemp(prefix="molotov-soak-"))
    scenario = workdir / "bench_scenario.py"
    scenario.write_text(SCENARIO.format(url=target.url))
    argv = [*molotov_cmd(), "-p", str(options.soak_processes), "-w", "100"]
    argv += ["-d", str(int(seconds + 60)), str(scenario)]
    print(f"soak: {' '.join(argv[-8:])} for {seconds:g}s, RSS every {SOAK_EVERY:g}s;")
    print(f"growth measured from the sample at {warmup:g}s (the warm-up) to the last one")
    proc = spawn(argv, pinning, pinning.client, stdout=subprocess.DEVNULL)
    series: dict[int, list[tuple[float, int]]] = {}
    names: dict[int, str] = {}
    try:
        t0 = time.monotonic()
        last_count, last_t = target.count()[0], t0
        tick = 1
        while time.monotonic() - t0 < seconds and proc.poll() is None:
            time.sleep(max(0.0, t0 + tick * SOAK_EVERY - time.monotonic()))
            tick += 1
            now = time.monotonic()
            count = target.count()[0]
            rps = (count - last_count) / (now - last_t)
            last_count, last_t = count, now
            rss_line = []
            for pid in process_tree(proc.pid):
                names.setdefault(pid, describe_pid(pid, proc.pid))
                rss = rss_bytes(pid)
                series.setdefault(pid, []).append((now - t0, rss))
                rss_line.append(f"{pid}:{rss / 2**20:.1f}MiB")
            print(f"  {now - t0:6.0f}s {rps:8.0f} req/s  " + " ".join(rss_line), flush=True)
    finally:
        stop_tree(proc)
        target.close()
        shutil.rmtree(workdir, ignore_errors=True)
    lines = []
    for pid, points in series.items():
        base = next(((t, r) for t, r in points if t >= warmup), None)
        if base is None or not base[1]:
            continue
        t_end, r_end = points[-1]
        peak = max(r for _, r in points)
        growth = (r_end - base[1]) / base[1] * 100
        lines.append(
            [
                names[pid],
                f"{base[1] / 2**20:.1f} MiB at {base[0]:.0f}s",
                f"{r_end / 2**20:.1f} MiB at {t_end:.0f}s",
                f"{peak / 2**20:.1f}",
                f"{growth:+.2f}%",
            ]
        )
    print()
    print_table(["process", "after warm-up", "last", "peak MiB", "growth"], lines)
    print("target: < 5% growth over 10 minutes at full rate")
    return 0


# -- paired A/B ----------------------------------------------------------------------------


def ab_client(
    spec: str, url: str, scenario: Path, safety: str
) -> tuple[list[str], dict[str, str] | None]:
    """The command of an ``--ab`` client: ``KIND[:EXTRA ARGS]``, KIND being ``molotov``,
    ``floor``, ``molotov26`` or the path of a source tree (``.../src``) to run molotov from."""
    kind, _, extra = spec.partition(":")
    args = extra.split()
    if kind == "floor":
        return [sys.executable, str(HERE / "floor.py"), url, "-w", "100", *args], None
    if kind == "molotov":
        return [*molotov_cmd(), "-d", safety, "-w", "100", *args, str(scenario)], None
    if kind == "molotov26":
        exe = str(MOLOTOV26 / "bin" / "molotov")
        return [exe, "-d", safety, "-w", "100", "--uvloop", *args, str(scenario)], None
    if Path(kind).is_dir():
        env = {**os.environ, "PYTHONPATH": str(Path(kind).resolve())}
        argv = [sys.executable, "-m", "molotov", "-d", safety, "-w", "100", *args, str(scenario)]
        return argv, env
    raise SystemExit(f"--ab: unknown client {spec!r} (molotov, floor, molotov26 or a src/ folder)")


def ab(options: argparse.Namespace) -> int:
    """Both clients at once on the client core, each against its own target: the machine's
    noise hits both alike, so the ratio of their CPU per request is steady even when the
    absolute numbers are not."""
    pinning = Pinning.choose()
    print(f"machine: {machine()}")
    print(f"pinning: {pinning.how}; both clients on the client core, one target each")
    safety = str(int(options.warmup + options.window + 60))
    targets = [Target(pinning), Target(pinning)]
    workdir = Path(tempfile.mkdtemp(prefix="molotov-ab-"))
    clients = []
    for side, (spec, target) in enumerate(zip(options.ab, targets, strict=True)):
        scenario = workdir / f"bench_scenario_{side}.py"
        scenario.write_text(SCENARIO.format(url=target.url))
        clients.append(ab_client(spec, target.url, scenario, safety))
    us: list[list[float]] = [[], []]
    rps: list[list[float]] = [[], []]
    ratios = []
    try:
        for rnd in range(options.repeat):
            order = (0, 1) if rnd % 2 == 0 else (1, 0)
            procs = {}
            for side in order:
                argv, env = clients[side]
                procs[side] = spawn(
                    argv,
                    pinning,
                    pinning.client,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            try:
                time.sleep(options.warmup)
                trees = {side: process_tree(proc.pid) for side, proc in procs.items()}
                start = {s: (targets[s].count()[0], cpu_seconds(trees[s])) for s in order}
                t0 = time.monotonic()
                time.sleep(options.window)
                end = {s: (targets[s].count()[0], cpu_seconds(trees[s])) for s in order}
                wall = time.monotonic() - t0
            finally:
                for proc in procs.values():
                    stop_tree(proc)
            per = []
            for side in (0, 1):
                requests = end[side][0] - start[side][0]
                if requests <= 0:
                    print(f"  round {rnd + 1}: {options.ab[side]} made no request")
                    return 1
                per.append((end[side][1] - start[side][1]) / requests * 1e6)
                us[side].append(per[-1])
                rps[side].append(requests / wall)
            ratios.append(per[1] / per[0])
            print(
                f"  round {rnd + 1}: A {per[0]:6.1f} us/req {rps[0][-1]:7.0f} req/s | "
                f"B {per[1]:6.1f} us/req {rps[1][-1]:7.0f} req/s | B/A {ratios[-1]:.3f}",
                flush=True,
            )
    finally:
        for target in targets:
            target.close()
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    print_table(
        ["paired A/B (one core, at once)", "CPU us/req", "req/s"],
        [
            [f"A: {options.ab[0]}", f"{med(us[0]):.1f}", f"{med(rps[0]):,.0f}"],
            [f"B: {options.ab[1]}", f"{med(us[1]):.1f}", f"{med(rps[1]):,.0f}"],
        ],
    )
    print(
        f"B/A CPU per request: {med(ratios):.3f} (median of {len(ratios)} rounds, "
        f"{min(ratios):.3f}-{max(ratios):.3f}); two clients share the core, so compare the "
        "ratio, not the absolute figures, with the solo table"
    )
    return 0


# -- profile -------------------------------------------------------------------------------


def run_profile(options: argparse.Namespace) -> int:
    import hotpath

    if hotpath.py_spy() is None:
        print("--profile needs py-spy: pip install py-spy (nox -s bench -- --profile does)")
        return 1
    import molotov

    pinning = Pinning.choose()
    print(f"machine: {machine()}")
    print(f"pinning: {pinning.how}; py-spy on the target's core")
    target = Target(pinning)
    workdir = Path(tempfile.mkdtemp(prefix="molotov-profile-"))
    scenario = workdir / "bench_scenario.py"
    scenario.write_text(SCENARIO.format(url=target.url))
    roots = [Path(molotov.__file__).resolve().parent.parent]
    clients = {
        "molotov": [*molotov_cmd(), "-p", "1", "-w", "100", str(scenario)],
        "floor": [sys.executable, str(HERE / "floor.py"), target.url, "-w", "100"],
    }
    results = {}
    try:
        for name, argv in clients.items():
            print(f"  sampling {name} for {options.profile:g}s ...", flush=True)
            raw, us, rps = hotpath.profile_one(
                argv,
                lambda argv, core, **kw: spawn(argv, pinning, core, **kw),
                pinning.client,
                pinning.target,
                process_tree,
                cpu_seconds,
                lambda: target.count()[0],
                options.warmup,
                options.profile,
            )
            counts, total = hotpath.classify(raw, roots, scenario.name)
            results[name] = (counts, total, us, rps)
            shutil.rmtree(raw.parent, ignore_errors=True)
    finally:
        target.close()
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    hotpath.report(results, print_table)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="molotov benchmarks (see benchmarks/README.md)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before each window")
    parser.add_argument("--window", type=float, default=10.0, help="measured seconds per run")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs of each row")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: --warmup 1.5 --window 2.5 (noisier)"
    )
    parser.add_argument("--startup-runs", type=int, default=5, help="runs of each start-up test")
    parser.add_argument("--no-startup", action="store_true", help="skip the start-up tests")
    parser.add_argument(
        "--only",
        help="comma-separated row keys (molotov, statsd, no-uvloop, p2, floor-asyncio, "
        "molotov26, alt:NAME, floor-session-per-worker, ...); the floor always runs",
    )
    parser.add_argument(
        "--alt-src",
        metavar="DIR",
        action="append",
        help="add a row running molotov from another source tree (a src/ folder, put first on "
        "PYTHONPATH) with the same python, to measure a change side by side; repeatable",
    )
    parser.add_argument(
        "--variants",
        action="store_true",
        help="add floor rows with one session option each (see floor.py): what each costs",
    )
    parser.add_argument(
        "--profile",
        type=float,
        nargs="?",
        const=20.0,
        metavar="SECONDS",
        help="instead of the table: sample molotov and the floor with py-spy (20 s each) and "
        "show where a request's CPU goes",
    )
    parser.add_argument(
        "--ab",
        nargs=2,
        metavar=("A", "B"),
        help="instead of the table: run A and B at once on the client core (--repeat rounds) "
        "and compare their CPU per request; a client is molotov, floor, molotov26 or a src/ "
        "folder, optionally with extra arguments after a colon ('floor:--no-timeout')",
    )
    parser.add_argument(
        "--open", action="store_true", help="only the open model's part (see openmodel.py)"
    )
    parser.add_argument("--no-open", action="store_true", help="skip the open model's part")
    parser.add_argument("--soak", type=float, metavar="SECONDS", help="run the soak test instead")
    parser.add_argument("--soak-warmup", type=float, default=60.0, help="soak: seconds ignored")
    parser.add_argument("--soak-processes", type=int, default=1, help="soak: molotov -p")
    options = parser.parse_args(argv)
    if options.quick:
        options.warmup, options.window = 1.5, 2.5
    if options.soak:
        return soak(options)
    if options.profile:
        return run_profile(options)
    if options.ab:
        return ab(options)
    import openmodel

    if options.open:
        return openmodel.main(options)
    code = bench(options)
    return code or (0 if options.no_open else openmodel.main(options))


if __name__ == "__main__":
    sys.exit(main())
