"""Stopping the real ``molotov`` command with signals, and losing a worker process.

Each test starts ``python -m molotov`` in a session of its own (so a Ctrl-C can be sent to its
process group, as a terminal does), waits until it is sending requests, signals it, and then
checks the graceful end: teardowns ran, the summary was printed, the exit code, and that no
child process of the run survived it. Timeouts are safety nets, never assertions on speed.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from support import Target, molotov_env, read_report
from support import proc_stat as _stat

SAFETY = 60.0  # seconds: the longest any run below may take before the test gives up

FIXTURES = """
    import os
    import pathlib

    from molotov import global_teardown, teardown, teardown_session

    MARKERS = pathlib.Path(os.environ["MARKERS"])
    URL = os.environ["TARGET_URL"]

    @teardown_session()
    async def _teardown_session(wid, session):
        (MARKERS / f"teardown_session-{os.getpid()}-{wid}").touch()

    @teardown()
    def _teardown(wid):
        (MARKERS / f"teardown-{os.getpid()}-{wid}").touch()

    @global_teardown()
    def _global_teardown():
        (MARKERS / "global_teardown").touch()
"""


def scenario_source(body: str) -> str:
    """The teardown fixtures plus one scenario ``step`` whose body is ``body``."""
    indented = "\n".join("        " + line for line in body.strip().splitlines())
    return (
        FIXTURES
        + f"""
    from molotov import scenario

    @scenario()
    async def step(session):
{indented}
"""
    )


# -- processes --------------------------------------------------------------------------------


def _alive(pid: int, started: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[2] == started and stat[0] not in ("Z", "X")


def _children(parent: int) -> dict[int, int]:
    """The live children of ``parent``: pid -> start time (so a reused pid is not confused)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[1] == parent:
                found[int(entry.name)] = stat[2]
    return found


@dataclass
class Run:
    """A running ``molotov`` command; a thread records its children while it runs."""

    proc: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path
    children: dict[int, int] = field(default_factory=dict)
    _done: threading.Event = field(default_factory=threading.Event)
    _watcher: threading.Thread | None = None

    def start_watching(self) -> None:
        def watch() -> None:
            while not self._done.is_set():
                for pid, started in _children(self.proc.pid).items():
                    self.children.setdefault(pid, started)
                time.sleep(0.01)

        self._watcher = threading.Thread(target=watch, daemon=True)
        self._watcher.start()

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + SAFETY
        while not condition():
            assert self.proc.poll() is None, f"molotov ended before {what}: {self.stderr}"
            assert time.monotonic() < deadline, f"never saw {what}"
            time.sleep(0.02)

    def wait(self) -> int:
        try:
            return self.proc.wait(SAFETY)
        finally:
            self._done.set()
            if self._watcher is not None:
                self._watcher.join()

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def survivors(self) -> dict[int, int]:
        """Children of the run still alive once it ended (after a grace for orphans)."""
        # The resource tracker leaves when its parent has gone; give it the time to notice.
        deadline = time.monotonic() + 10
        while True:
            alive = {pid: s for pid, s in self.children.items() if _alive(pid, s)}
            if not alive or time.monotonic() > deadline:
                return alive
            time.sleep(0.05)


@pytest.fixture
def markers(tmp_path: Path) -> Path:
    path = tmp_path / "markers"
    path.mkdir()
    return path


@pytest.fixture
def start(target: Target, tmp_path: Path, markers: Path) -> Iterator[Callable[..., Run]]:
    runs: list[Run] = []

    def start(*args: str) -> Run:
        out, err = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            proc = subprocess.Popen(
                [sys.executable, "-m", "molotov", *args],
                cwd=tmp_path,
                env=molotov_env(target.url, MARKERS=str(markers)),
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
            )
        run = Run(proc, out, err)
        run.start_watching()
        runs.append(run)
        return run

    yield start
    for run in runs:  # a failed test must not leave a load test running
        run.kill()
        run._done.set()


def closing_counts(stdout: str) -> tuple[int, int]:
    found = re.findall(r"^SUCCESSES: (\d+) \| FAILURES: (\d+)$", stdout, re.MULTILINE)
    assert len(found) == 1, stdout
    return int(found[0][0]), int(found[0][1])


def assert_summary(stdout: str) -> tuple[int, int]:
    """The summary and Molotov's three closing lines, last; returns the closing counts."""
    assert "Duration: " in stdout
    lines = stdout.splitlines()
    assert lines[-3].startswith("**** Molotov v"), lines[-3:]
    assert lines[-2].startswith("SUCCESSES: "), lines[-3:]
    assert lines[-1] == "*** Bye ***"
    return closing_counts(stdout)


def marker_names(markers: Path, prefix: str) -> list[str]:
    return sorted(p.name for p in markers.iterdir() if p.name.startswith(prefix))


def assert_teardowns(markers: Path, workers: int) -> None:
    assert len(marker_names(markers, "teardown_session-")) == workers
    assert len(marker_names(markers, "teardown-")) == workers
    assert (markers / "global_teardown").exists()


def assert_clean_end(run: Run) -> None:
    """No child of the run outlived it, and its stats bus left /dev/shm."""
    assert run.children, "no child process was ever seen"
    assert not run.survivors(), f"children outlived the run: {run.survivors()}"
    shm = Path("/dev/shm")
    if shm.is_dir():  # the autouse fixture checks every new entry; this one names the run
        own = [p.name for p in shm.iterdir() if p.name.startswith(f"molotov-{run.proc.pid}-")]
        assert not own, own


# -- graceful stops -------------------------------------------------------------------------------


QUICK_STEP = """
async with session.get(URL + "/slow?s=0.05") as resp:
    assert resp.status == 200
"""


def test_sigint_to_the_group_stops_gracefully(start, write_scenario, target, markers):
    write_scenario(scenario_source(QUICK_STEP))
    run = start("-d", "60", "-p", "2", "-w", "2", "-c")
    run.wait_for(lambda: target.total >= 8, "requests")
    os.killpg(run.proc.pid, signal.SIGINT)
    assert run.wait() == 0, run.stderr
    assert run.stderr == ""
    successes, failures = assert_summary(run.stdout)
    assert successes > 0
    assert failures == 0
    assert_teardowns(markers, 4)
    assert_clean_end(run)


def test_sigterm_to_the_parent_stops_gracefully(start, write_scenario, target, markers):
    write_scenario(scenario_source(QUICK_STEP))
    run = start("-d", "60", "-p", "2", "-w", "2", "-c")
    run.wait_for(lambda: target.total >= 8, "requests")
    run.proc.send_signal(signal.SIGTERM)
    assert run.wait() == 0, run.stderr
    assert run.stderr == ""
    successes, failures = assert_summary(run.stdout)
    assert successes > 0
    assert failures == 0
    assert_teardowns(markers, 4)
    assert_clean_end(run)


def test_sighup_to_the_group_stops_gracefully_and_writes_the_report(
    start, write_scenario, target, markers, tmp_path
):
    """A closed terminal hangs up the whole process group: a graceful stop, as SIGTERM."""
    write_scenario(scenario_source(QUICK_STEP))
    run = start("-d", "60", "-p", "2", "-w", "2", "-c", "--report", "report.json")
    run.wait_for(lambda: target.total >= 8, "requests")
    os.killpg(run.proc.pid, signal.SIGHUP)
    assert run.wait() == 0, run.stderr
    assert run.stderr == ""
    successes, failures = assert_summary(run.stdout)
    assert successes > 0
    assert failures == 0
    assert_teardowns(markers, 4)  # the worker processes did not die of it either
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["stop_reason"] == "signal"
    assert report["successes"] == successes
    assert_clean_end(run)


SLOW_GLOBAL_TEARDOWN = """
    import os
    import pathlib
    import time

    from molotov import global_teardown, scenario

    MARKERS = pathlib.Path(os.environ["MARKERS"])
    URL = os.environ["TARGET_URL"]

    @scenario()
    async def step(session):
        async with session.get(URL + "/slow?s=0.05") as resp:
            assert resp.status == 200

    @global_teardown()
    def _wait_for_go():
        # After the run, before the summary and the report: the test signals molotov now.
        (MARKERS / "ending").touch()
        deadline = time.monotonic() + 30
        while not (MARKERS / "go").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
"""


def test_signals_after_the_run_cannot_lose_the_report(
    start, write_scenario, target, markers, tmp_path
):
    write_scenario(SLOW_GLOBAL_TEARDOWN)
    run = start("-d", "60", "-w", "2", "-c", "--report", "report.json")
    run.wait_for(lambda: target.total >= 4, "requests")
    run.proc.send_signal(signal.SIGTERM)
    run.wait_for((markers / "ending").exists, "the end of the run")
    # A third, fourth, ... signal while the results are written: noted, and nothing more.
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        run.proc.send_signal(signum)
    (markers / "go").touch()
    assert run.wait() == 0, run.stderr
    assert run.stderr == ""
    successes, _ = assert_summary(run.stdout)
    assert json.loads((tmp_path / "report.json").read_text())["successes"] == successes > 0
    assert_clean_end(run)


LATE_EXIT = """
    import atexit
    import os
    import pathlib
    import time

    from molotov import scenario

    MARKERS = pathlib.Path(os.environ["MARKERS"])
    URL = os.environ["TARGET_URL"]

    @scenario()
    async def step(session):
        async with session.get(URL + "/slow?s=0.05") as resp:
            assert resp.status == 200

    def _wait_for_go():
        # In the parent, once molotov has written everything and is exiting (the forked worker
        # processes leave with os._exit, without atexit): the test signals molotov now.
        (MARKERS / "exiting").touch()
        deadline = time.monotonic() + 30
        while not (MARKERS / "go").exists() and time.monotonic() < deadline:
            time.sleep(0.02)

    atexit.register(_wait_for_go)
"""


@pytest.mark.parametrize("late", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_late_signals_cannot_change_the_exit_code(
    start, write_scenario, target, markers, tmp_path, late
):
    """A second and third signal after the report, while molotov exits: the run's exit code."""
    write_scenario(LATE_EXIT)
    run = start("-d", "60", "-w", "2", "-c", "--report", "report.json")
    run.wait_for(lambda: target.total >= 4, "requests")
    run.proc.send_signal(signal.SIGTERM)
    run.wait_for((markers / "exiting").exists, "the exit")
    assert json.loads((tmp_path / "report.json").read_text())["stop_reason"] == "signal"
    for signum in (late, late, signal.SIGINT):
        run.proc.send_signal(signum)
    (markers / "go").touch()
    assert run.wait() == 0, run.stderr
    assert run.stderr == ""
    assert_summary(run.stdout)
    assert_clean_end(run)


def test_in_flight_steps_finish_on_one_sigint(start, write_scenario, target, markers):
    write_scenario(
        scenario_source(
            """
async with session.get(URL + "/slow?s=1.5") as resp:
    assert resp.status == 200
(MARKERS / f"done-{uuid.uuid4()}").touch()
"""
        ).replace("import os\n", "import os\n    import uuid\n", 1)
    )
    run = start("-d", "60", "-p", "2", "-w", "2", "-c")
    # Every worker has a 1.5 s request in flight.
    run.wait_for(lambda: target.hits["/slow"] >= 4, "4 requests in flight")
    assert not marker_names(markers, "done-")
    os.killpg(run.proc.pid, signal.SIGINT)
    assert run.wait() == 0, run.stderr
    assert run.stderr == ""
    successes, failures = assert_summary(run.stdout)
    done = marker_names(markers, "done-")
    assert failures == 0
    assert len(done) == successes
    assert successes == target.hits["/slow"]  # every request sent was answered and counted
    assert successes >= 4
    assert_teardowns(markers, 4)
    assert_clean_end(run)


STUCK_STEP = """
async with session.get(URL + "/slow?s=30") as resp:
    assert resp.status == 200
(MARKERS / f"done-{os.getpid()}-{id(session)}").touch()
"""


def test_force_shutdown_cancels_in_flight_steps(start, write_scenario, target, markers):
    write_scenario(scenario_source(STUCK_STEP))
    run = start("-d", "60", "-p", "2", "-w", "2", "-c", "--force-shutdown")
    run.wait_for(lambda: target.hits["/slow"] >= 4, "4 requests in flight")
    os.killpg(run.proc.pid, signal.SIGINT)
    assert run.wait() == 0, run.stderr
    assert run.stderr == ""
    # Each cancelled step is a failed step, its request a timeout: the server got them all.
    assert assert_summary(run.stdout) == (0, 4)
    assert "  step: cut off at the stop (cancelled while running): 4" in run.stdout.splitlines()
    assert "Request errors: timeout=4" in run.stdout
    assert not marker_names(markers, "done-")
    assert_teardowns(markers, 4)
    assert_clean_end(run)


def test_second_sigint_cancels_in_flight_steps(start, write_scenario, target, markers):
    write_scenario(scenario_source(STUCK_STEP))
    run = start("-d", "60", "-p", "2", "-w", "2", "-c")
    run.wait_for(lambda: target.hits["/slow"] >= 4, "4 requests in flight")
    os.killpg(run.proc.pid, signal.SIGINT)
    time.sleep(0.5)
    assert run.proc.poll() is None, "one Ctrl-C must let the 30 s steps finish"
    os.killpg(run.proc.pid, signal.SIGINT)
    assert run.wait() == 0, run.stderr
    assert run.stderr == ""
    assert assert_summary(run.stdout) == (0, 4)
    assert "Request errors: timeout=4" in run.stdout
    assert not marker_names(markers, "done-")
    assert_teardowns(markers, 4)
    assert_clean_end(run)


# -- a worker process dies ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("death", "reported"),
    [
        ("os._exit(7)", "worker process {} exited with code 7"),
        ("os.kill(os.getpid(), signal.SIGKILL)", "worker process {} killed by signal 9"),
    ],
    ids=["exit-7", "sigkill"],
)
def test_a_dying_worker_process_is_reported(
    start, write_scenario, target, markers, death, reported, tmp_path
):
    # The first process to claim the "victim" file dies on its third step, after two successes;
    # the other one runs its five steps.
    write_scenario(
        FIXTURES
        + f"""
    import signal

    from molotov import scenario

    STEPS = []

    @scenario()
    async def step(session):
        if not STEPS:
            try:
                fd = os.open(MARKERS / "victim", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                STEPS.append("survivor")
            else:
                os.write(fd, str(os.getpid()).encode())
                os.close(fd)
                STEPS.append("victim")
        STEPS.append("step")
        if STEPS[0] == "victim" and len(STEPS) == 4:
            {death}
        async with session.get(URL + "/") as resp:
            assert resp.status == 200
    """
    )
    run = start("-p", "2", "-w", "1", "-r", "5", "--delay", "0.1", "-c", "--report", "r.json")
    assert run.wait() == 1, run.stderr
    assert (markers / "victim").exists(), (run.stdout, run.stderr)
    victim = int((markers / "victim").read_text())
    assert victim in run.children
    assert "Traceback" not in run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    index = [i for i in (0, 1) if reported.format(i) in lines]
    assert len(index) == 1, run.stderr
    # The console says so when it happens, not only at the end.
    assert reported.format(index[0]) + "; the others go on" in run.stdout
    # The report says so too (a cluster agent's report carries it to its coordinator).
    assert read_report(tmp_path)["lost_processes"] == [reported.format(index[0])]
    assert assert_summary(run.stdout) == (7, 0)
    assert target.total == 7
    # The survivor tore down its worker; the victim could not; the parent still did its part.
    assert len(marker_names(markers, "teardown-")) == 1
    assert (markers / "global_teardown").exists()
    assert_clean_end(run)


# -- the demo ------------------------------------------------------------------------------------


def test_ctrl_c_during_the_demo_lets_the_target_outlive_the_workers(start, target):
    """A terminal's Ctrl-C reaches the demo server too: it must keep serving until the run ends.

    Otherwise the steps still finishing after the first Ctrl-C fail to connect.
    """
    run = start("--demo", "-d", "60", "-c")
    run.wait_for(lambda: "successes=" in run.stdout, "a progress line")
    time.sleep(0.5)  # let the 10 workers get going
    os.killpg(run.proc.pid, signal.SIGINT)
    assert run.wait() == 0, run.stderr
    assert run.stderr == ""
    successes, _ = assert_summary(run.stdout)
    assert successes > 0
    assert "cannot connect" not in run.stdout
    assert "[connection]" not in run.stdout
    assert target.total == 0
    assert_clean_end(run)
