"""Helpers shared by several test modules (fixtures live in conftest.py and import these).

The test target (``Target`` and the aiohttp app it serves), running the real commands
(``molotov_env``, ``run_command``, ``Result``), readers of what the commands write, and a
StatsD server stand-in (``statsd_listener``).
"""

from __future__ import annotations

import asyncio
import json
import os
import pty
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from molotov import __version__
from molotov.stats.histogram import NBUCKETS, Histogram, bucket_of


@dataclass
class Target:
    """A live aiohttp server in a thread of the test process; counts what it served."""

    url: str = ""
    hits: Counter[str] = field(default_factory=Counter)
    # (time.monotonic() at arrival, path) of every request: one clock with the workers'.
    stamps: list[tuple[float, str]] = field(default_factory=list)

    def reset(self) -> None:
        self.hits.clear()
        self.stamps.clear()

    def arrivals(self, path: str = "/") -> list[float]:
        """When the requests to ``path`` arrived (monotonic seconds), in order."""
        return [at for at, hit in self.stamps if hit == path]

    @property
    def total(self) -> int:
        return sum(self.hits.values())


def target_app(target: Target) -> web.Application:
    async def count(request: web.Request, handler):  # type: ignore[no-untyped-def]
        target.hits[request.path] += 1
        target.stamps.append((time.monotonic(), request.path))
        return await handler(request)

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="status")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(float(request.query.get("s", "1")))
        return web.Response(text="slow")

    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"got": await request.json(), "method": request.method})

    async def data(request: web.Request) -> web.Response:
        return web.json_response({"items": [1, 2, 3]})

    async def item(request: web.Request) -> web.Response:
        return web.json_response({"id": request.match_info["id"]})

    app = web.Application(middlewares=[web.middleware(count)])
    app.router.add_get("/", ok)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/slow", slow)
    app.router.add_post("/echo", echo)
    app.router.add_get("/data", data)
    app.router.add_get("/items/{id}", item)
    return app


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


def molotov_env(target_url: str = "", **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOLOTOV_")}
    env["TARGET_URL"] = target_url
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.update(extra)
    return env


def run_command(argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> Result:
    """Run a command to its end, no stdin, its output captured as text."""
    done = subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def run_on_a_terminal(
    tmp_path: Path, url: str, *args: str, columns: int = 100, lines: int = 40
) -> tuple[int, str]:
    """Run molotov with its stdout on a pseudo-terminal of ``columns`` x ``lines``; return
    the exit code and the output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOLOTOV_")}
    env.update(TARGET_URL=url, TERM="xterm", COLUMNS=str(columns), LINES=str(lines))
    env.pop("NO_COLOR", None)
    master, slave = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "molotov", *args],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=slave,
            stderr=subprocess.DEVNULL,
        )
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the terminal's other end is closed
                break
            if not data:
                break
            chunks.append(data)
        code = process.wait(timeout=60)
    finally:
        os.close(master)
    return code, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


def read_log(tmp_path: Path) -> list[dict]:
    """The JSON-lines records that scenario files of a test wrote to ``log.jsonl``."""
    path = tmp_path / "log.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, start time) of a process, or None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1]), int(fields[19])


def descends_from(pid: int, ancestor: int) -> bool:
    """Whether process ``pid`` is ``ancestor`` or one of its descendants (both alive)."""
    seen: set[int] = set()
    while pid > 0 and pid not in seen:
        if pid == ancestor:
            return True
        seen.add(pid)
        stat = proc_stat(pid)
        if stat is None:
            return False
        pid = stat[1]
    return False


SHM = Path("/dev/shm")


class BusWatch:
    """The stats buses (``molotov-<pid>-<token>`` in /dev/shm) that this process's own tree
    creates while the watch runs, told from those of other runs on the machine.

    A segment's creator is alive while it is in use, so a thread looks at /dev/shm every
    :data:`BusWatch.PERIOD` and keeps each new segment whose pid descends from this process.
    A creator that made a segment and died within one period is not seen: the check can
    miss a leak that quick (no molotov run is), never count another run's.
    """

    PERIOD = 0.02

    def __init__(self) -> None:
        self.root = os.getpid()
        self.before = self._names()
        self.ours: set[str] = set()
        self._strangers: set[str] = set()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="bus-watch", daemon=True)

    def __enter__(self) -> BusWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
        self._look()  # what came since the last look

    @staticmethod
    def _names() -> set[str]:
        return {p.name for p in SHM.iterdir()} if SHM.is_dir() else set()

    def _watch(self) -> None:
        while not self._done.wait(self.PERIOD):
            self._look()

    def _look(self) -> None:
        for name in self._names() - self.before - self.ours - self._strangers:
            parts = name.split("-")
            if len(parts) != 3 or parts[0] != "molotov" or not parts[1].isdigit():
                continue
            mine = descends_from(int(parts[1]), self.root)
            (self.ours if mine else self._strangers).add(name)

    def orphans(self) -> set[str]:
        """This tree's segments still in /dev/shm whose creator is gone."""
        return {
            name for name in self.ours & self._names() if proc_stat(int(name.split("-")[1])) is None
        }


def closing(stdout: str) -> tuple[int, int]:
    """(successes, failures) of Molotov's closing lines, which must be the last three."""
    lines = stdout.splitlines()
    assert lines[-3] == f"**** Molotov v{__version__}. Happy breaking! ****", stdout
    assert lines[-1] == "*** Bye ***", stdout
    found = re.fullmatch(r"SUCCESSES: (\d+) \| FAILURES: (\d+)", lines[-2])
    assert found, stdout
    return int(found[1]), int(found[2])


def moloreport(*args: str, cwd: Path, timeout: float = 60) -> Result:
    """Run the real ``moloreport`` command (the installed script, else the module)."""
    script = shutil.which("moloreport", path=os.path.dirname(sys.executable))
    argv = (
        [script]
        if script
        else [sys.executable, "-c", "from molotov.reports.moloreport import main; main()"]
    )
    return run_command([*argv, *args], cwd, molotov_env(), timeout)


def summary_table(stdout: str, title: str) -> dict[str, dict[str, str]]:
    """A table of the summary (``Steps`` or ``Times (ms)``): ``{row: {column: cell}}``.

    Rows indented under another (the scenarios under ``step durations``) are named
    ``"step durations/NAME"``.
    """
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title + " "))
    columns = lines[start].split()[len(title.split()) :]
    rows: dict[str, dict[str, str]] = {}
    group = ""
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        parts = line.split()
        name = " ".join(parts[: -len(columns)])
        if line.startswith("    "):
            name = f"{group}/{name}"
        else:
            group = name
        rows[name] = dict(zip(columns, parts[-len(columns) :], strict=True))
    return rows


# Two scenarios, one always failing: a report with errors, statuses and a few series rows.
REPORT_SCENARIOS = """
import os

import molotov

URL = os.environ["TARGET_URL"]


@molotov.scenario()
async def good(session):
    async with session.get(URL + "/") as resp:
        await resp.read()


@molotov.scenario()
async def bad(session):
    async with session.get(URL + "/status/500") as resp:
        assert resp.status == 200, "server error"
"""


def real_report(folder: Path, env: dict[str, str]) -> dict:
    """The JSON report of a real ~1.5 s run (``env`` holds the target's TARGET_URL)."""
    (folder / "loadtest.py").write_text(REPORT_SCENARIOS)
    args = ["-w", "2", "-r", "6", "--delay", "0.25", "--report", "r.json", "loadtest.py"]
    done = subprocess.run(
        [sys.executable, "-m", "molotov", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    doc: dict = json.loads((folder / "r.json").read_text())
    assert len(doc["series"]) >= 2, doc["series"]
    assert doc["errors"] and doc["scenarios"]["bad"]["failures"]
    return doc


# Report fields that count nothing: a scaled report keeps them.
_NOT_COUNTS = {"t", "max_us", "schema_version", "merged_from", "options", "histogram_encoding"}
_ROW_HISTOGRAM = {"buckets", "sum_us", "count"}


def scaled(doc: dict, factor: int, rows: int = 1) -> dict:
    """A report as if its run had done ``factor`` times as much: every count, histogram
    bucket and ``sum_us`` multiplied (those of the series rows' histograms by ``rows``).

    What the reader cross-checks is linear (totals, histograms, rows), so the result is
    readable exactly when each number stays within the reader's bounds.
    """

    def walk(node: object, key: str, row: bool) -> object:
        times = rows if row and key in _ROW_HISTOGRAM else factor
        if key in _NOT_COUNTS:
            return node
        if key == "buckets":
            return [[index, count * times] for index, count in node]  # type: ignore[attr-defined]
        if key == "series":
            return [walk(item, "", True) for item in node]  # type: ignore[attr-defined]
        if isinstance(node, dict):
            return {name: walk(value, name, row) for name, value in node.items()}
        if isinstance(node, list):
            return [walk(item, key, row) for item in node]
        if isinstance(node, int) and not isinstance(node, bool):
            return node * times
        return node

    result: dict = walk(doc, "", False)  # type: ignore[assignment]
    return result


def largest(doc: dict, rows: bool = False) -> int:
    """The largest number that :func:`scaled` multiplies by ``factor``, or with ``rows`` the
    largest bucket count of the series rows (what an int32 holds): ``MAX // largest(doc)``
    is the largest factor that keeps them all under MAX. Scaling by -1 marks them: they are
    the negative numbers."""
    marked = scaled(doc, 1 if rows else -1, -1 if rows else 1)
    found = [0]

    def walk(node: object, key: str) -> None:
        if key == "buckets" and isinstance(node, list):
            found.extend(-count for _, count in node if count < 0)  # type: ignore[attr-defined]
        elif isinstance(node, dict):
            for name, value in node.items():
                walk(value, name)
        elif isinstance(node, list):
            for item in node:
                walk(item, key)
        elif isinstance(node, int) and node < 0 and not rows:
            found.append(-node)

    walk(marked, "")
    return max(found)


# The start of a scenario module of the CLI tests: the target's URL, and a log file next to
# the module where the forked worker processes leave evidence (one JSON record a line).
SCENARIO_HEADER = textwrap.dedent(
    """\
    import asyncio
    import json
    import os
    import pathlib
    import sys
    import time

    import aiohttp
    import molotov

    URL = os.environ["TARGET_URL"]
    LOG = pathlib.Path(__file__).with_name("log.jsonl")


    def log(**record):
        with LOG.open("a") as f:
            f.write(json.dumps(record) + "\\n")

    """
)


def read_report(folder: Path, name: str = "r.json") -> dict:
    """The JSON report a run wrote in ``folder``."""
    doc: dict = json.loads((folder / name).read_text())
    return doc


def no_temp_files(folder: Path) -> None:
    """No temp file of an atomic write was left in ``folder``."""
    leftovers = [p.name for p in folder.iterdir() if p.name.startswith(".")]
    assert leftovers == [], leftovers


# Two weighted scenarios, one always failing on a 500: reports with statuses and errors.
MIXED_SCENARIOS = textwrap.dedent(
    """\
    import os

    import molotov

    URL = os.environ["TARGET_URL"]


    @molotov.scenario(weight=3)
    async def pages(session):
        for path in ("/", "/status/404", "/data"):
            async with session.get(URL + path) as resp:
                await resp.read()


    @molotov.scenario(weight=1)
    async def broken(session):
        async with session.get(URL + "/status/500") as resp:
            assert resp.status == 200, "server error"
    """
)


# -- a StatsD server stand-in -------------------------------------------------------------------

DRAIN = 0.3  # seconds: datagrams sent at the very end of a run still arrive


@dataclass(frozen=True)
class Line:
    """One StatsD line, ``name:value|type[|@rate]``."""

    name: str
    value: float
    type: str
    rate: float | None = None


def parse_line(text: str) -> Line:
    stat, *rest = text.split("|")
    name, _, value = stat.rpartition(":")
    assert name, text
    assert rest and rest[0] in ("c", "ms", "g", "s"), text
    rate = None
    if len(rest) > 1:
        assert len(rest) == 2 and rest[1].startswith("@"), text
        rate = float(rest[1][1:])
    return Line(name, float(value), rest[0], rate)


@dataclass
class Listener:
    """A StatsD server stand-in: a UDP socket on 127.0.0.1 read by a thread."""

    sock: socket.socket
    packets: list[bytes] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        return f"udp://127.0.0.1:{self.sock.getsockname()[1]}"

    def start(self) -> None:
        def read() -> None:
            while not self._stop.is_set():
                try:
                    self.packets.append(self.sock.recv(65535))
                except TimeoutError:
                    continue

        self._thread = threading.Thread(target=read, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None and not self._stop.is_set():
            time.sleep(DRAIN)
            self._stop.set()
            self._thread.join()

    def lines(self) -> list[Line]:
        """Every line received (once the last datagrams had time to arrive)."""
        self.stop()
        return [
            parse_line(text)
            for packet in self.packets
            for text in packet.decode().split("\n")
            if text
        ]


@contextmanager
def statsd_listener() -> Iterator[Listener]:
    """A :class:`Listener` on a free port of 127.0.0.1, reading until the block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.05)
    server = Listener(sock)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        sock.close()


def total(lines: list[Line], name: str, kind: str = "c") -> float:
    """The sum of the values of the lines of this name and type (a counter's total)."""
    return sum(line.value for line in lines if line.name == name and line.type == kind)


# -- thresholds -----------------------------------------------------------------------------


def histogram(values_us: Sequence[int]) -> Histogram:
    """A histogram of exactly these values (µs): below 256 µs each value has its own bucket."""
    buckets = [0] * NBUCKETS
    for value in values_us:
        buckets[bucket_of(value)] += 1
    return Histogram(tuple(buckets), len(values_us), sum(values_us), max(values_us, default=0))


def threshold_rows(stdout: str) -> dict[str, tuple[str, str]]:
    """``expression -> (observed, verdict)`` from the table, which sits before the closing lines."""
    lines = stdout.splitlines()
    start = lines.index("Thresholds:")
    rows = {}
    for line in lines[start + 1 : -3]:
        if not line.startswith("  "):
            break
        expr, observed, verdict = line.strip().rsplit(None, 2)  # an expression has spaces
        rows[expr] = (observed, verdict)
    # Nothing but the table between it and Molotov's closing lines.
    assert start + 1 + len(rows) == len(lines) - 3, stdout
    return rows


def assert_usage_error(result: Result, *expected: str) -> str:
    """A usage error: exit 2, nothing on stdout, one ``Error:`` line holding ``expected``."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    for text in expected:
        assert text in errors[0], errors[0]
    return errors[0]
