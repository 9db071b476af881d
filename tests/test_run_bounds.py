"""Every run ends, and says what it had done: stopped or stuck processes, scenarios that
exit, a descriptor limit that is too low, and Molotov 2.x's meaning of ``-d`` with ramp-ups.
"""

from __future__ import annotations

import collections
import json
import os
import re
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import closing, molotov_env, read_log
from support import read_report as report


def test_a_stopped_worker_process_is_killed_after_the_grace(scenario_file, target, tmp_path):
    scenario_file(
        """
        @molotov.scenario()
        async def get(session):
            log(pid=os.getpid())
            async with session.get(URL + "/") as resp:
                await resp.read()
            await asyncio.sleep(0.05)
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "molotov", "-d", "1.5", "--graceful-stop", "0.5",
         "--report", "r.json", "loadtest.py"],
        cwd=tmp_path, env=molotov_env(target.url), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while len(read_log(tmp_path)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    worker = read_log(tmp_path)[0]["pid"]
    os.kill(worker, signal.SIGSTOP)  # never continued
    started = time.monotonic()
    stdout, stderr = process.communicate(timeout=60)
    # The end of -d, the graceful stop, then at most 5 s more: killed, not waited for.
    assert time.monotonic() - started < 15
    assert process.returncode == 1
    assert f"worker process 0 (pid {worker}) did not end 5.5s after the stop: killed" in stderr
    doc = report(tmp_path)
    # What it had recorded before it stopped is in the summary and the report.
    assert doc["totals"]["steps"] >= 1
    assert closing(stdout) == (doc["successes"], doc["failures"])


def test_a_scenario_stuck_in_a_cpu_loop_cannot_hold_the_run(
    scenario_file, run_molotov, target, tmp_path
):
    scenario_file(
        """
        @molotov.scenario()
        async def spin(session):
            async with session.get(URL + "/") as resp:
                await resp.read()
            while True:  # never gives the event loop back: no timeout can cancel it
                pass
        """
    )
    started = time.monotonic()
    result = run_molotov(
        "-d", "1", "--graceful-stop", "0.5", "--step-timeout", "0.5", "--report", "r.json",
        "loadtest.py",
    )  # fmt: skip
    assert time.monotonic() - started < 20
    assert result.returncode == 1
    assert "did not end 5.5s after the stop: killed" in result.stderr
    doc = report(tmp_path)
    assert doc["totals"]["requests"] == target.total == 1
    assert closing(result.stdout) == (0, 0)


@pytest.mark.parametrize(
    "raised",
    ["sys.exit(3)", "raise SystemExit", "raise KeyboardInterrupt", "raise Custom('mine')"],
)
def test_a_scenario_that_exits_is_a_failed_step(scenario_file, run_molotov, target, raised):
    """Anything a scenario raises but a cancellation is a failed step, a BaseException of the
    scenario's own too: never the end of its worker process (``Steps: 0``, exit 1)."""
    scenario_file(
        f"""
        class Custom(BaseException):
            pass

        @molotov.scenario()
        async def leaves(session):
            async with session.get(URL + "/") as resp:
                await resp.read()
            {raised}
        """
    )
    result = run_molotov("-w", "2", "-r", "3", "loadtest.py")
    assert result.returncode == 0, result.stderr
    assert closing(result.stdout) == (0, 6)
    assert "Traceback" not in result.stderr + result.stdout
    assert "Task exception was never retrieved" not in result.stderr
    assert target.total == 6


HOLD = """
@molotov.scenario()
async def hold(session):
    async with session.get(URL + "/slow", params={"s": "0.5"}) as resp:
        await resp.read()
"""


def _limit_descriptors(soft: int, hard: int):
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    return limit


def test_a_descriptor_limit_too_low_is_said_and_its_errors_named(scenario_file, target, tmp_path):
    scenario_file(HOLD)
    done = subprocess.run(
        [sys.executable, "-m", "molotov", "-w", "300", "-r", "1", "--report", "r.json",
         "loadtest.py"],
        cwd=tmp_path, env=molotov_env(target.url), capture_output=True, text=True,
        timeout=60, preexec_fn=_limit_descriptors(200, 200), check=False,
    )  # fmt: skip
    assert "300 workers per process need ~364 file descriptors and the limit is 200" in done.stdout
    doc = report(tmp_path)
    assert doc["request_errors"]["too many open files"] > 0
    assert "too many open files (127.0.0.1:" in done.stdout


def test_the_soft_descriptor_limit_is_raised(scenario_file, target, tmp_path):
    scenario_file(HOLD)
    done = subprocess.run(
        [sys.executable, "-m", "molotov", "-w", "300", "-r", "1", "loadtest.py"],
        cwd=tmp_path, env=molotov_env(target.url), capture_output=True, text=True,
        timeout=60, preexec_fn=_limit_descriptors(200, 4096), check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "file descriptors" not in done.stdout
    assert closing(done.stdout) == (300, 0)


def test_duration_with_ramp_up_is_each_workers_as_in_2x(
    scenario_file, run_molotov, target, tmp_path
):
    scenario_file(
        """
        @molotov.scenario()
        async def paced(session):
            log(wid=molotov.get_context(session).worker_id, t=time.monotonic())
            async with session.get(URL + "/") as resp:
                await resp.read()
            await asyncio.sleep(0.05)
        """
    )
    started = time.monotonic()
    result = run_molotov(
        "-w", "4", "--ramp-up", "2", "-d", "1", "--report", "r.json", "loadtest.py"
    )
    assert result.returncode == 0, result.stderr
    steps = collections.defaultdict(list)
    for record in read_log(tmp_path):
        steps[record["wid"]].append(record["t"] - started)
    # Worker k starts at k * 2/4 s and runs for -d 1 s from its own start (Taurus's
    # --ramp-up R --duration HOLD): the last one from 1.5 s to 2.5 s.
    for wid in range(4):
        span = max(steps[wid]) - min(steps[wid])
        assert span == pytest.approx(1.0, abs=0.25), (wid, span)
        assert min(steps[wid]) - min(steps[0]) == pytest.approx(wid * 0.5, abs=0.25)
    doc = report(tmp_path)
    assert doc["duration_s"] == pytest.approx(2.5, abs=0.4)
    assert doc["stop_reason"] == "duration"


TEARDOWN = """
_RESPONSES = []


@molotov.events()
async def record(event, **info):
    if event == "response_received":
        _RESPONSES.append(info["response"].status)


@molotov.global_teardown()
def display_average():
    # Molotov's "Extending Molotov" example: module state the run's events filled.
    print(f"responses seen: {len(_RESPONSES)}, all 200: {set(_RESPONSES) == {200}}")
    print(f"average: {sum(_RESPONSES) / len(_RESPONSES):.1f}")


@molotov.scenario()
async def get(session):
    async with session.get(URL + "/") as resp:
        await resp.read()
"""


def test_global_teardown_sees_the_state_of_a_one_process_run(scenario_file, run_molotov, target):
    scenario_file(TEARDOWN)
    result = run_molotov("-w", "2", "-r", "3", "loadtest.py")
    assert result.returncode == 0, result.stderr
    lines = result.lines
    # After the run's own output and before the summary, as Molotov 2.x printed it.
    teardown = lines.index("responses seen: 6, all 200: True")
    assert lines[teardown + 1] == "average: 200.0"
    assert teardown < next(i for i, line in enumerate(lines) if line.startswith("Duration: "))
    assert "global_teardown() failed" not in result.stderr


def test_global_teardown_of_many_processes_runs_in_the_parent(scenario_file, run_molotov, target):
    scenario_file(TEARDOWN)
    result = run_molotov("-p", "2", "-r", "1", "loadtest.py")
    assert result.returncode == 0, result.stderr
    # Each process had its own globals: the parent saw none of them (documented).
    assert "responses seen: 0, all 200: False" in result.stdout
    assert "global_teardown() failed: ZeroDivisionError: division by zero" in result.stderr


def test_current_workers_comes_at_the_start_of_a_short_run(
    scenario_file, run_molotov, target, tmp_path
):
    scenario_file(
        """
        @molotov.events()
        async def workers(event, **info):
            if event == "current_workers":
                log(workers=info["workers"])


        @molotov.scenario()
        async def get(session):
            async with session.get(URL + "/") as resp:
                await resp.read()
        """
    )
    # One request per worker: a run far shorter than the monitor's first interval (50 ms).
    result = run_molotov("-w", "2", "-r", "1", "loadtest.py")
    assert result.returncode == 0, result.stderr
    assert [r["workers"] for r in read_log(tmp_path)][:1] == [2]


def test_the_summary_is_aligned_within_80_columns(scenario_file, run_molotov, target):
    scenario_file(
        """
        @molotov.scenario()
        async def get(session):
            async with session.get(URL + "/") as resp:
                await resp.read()
        """
    )
    result = run_molotov("-w", "2", "-r", "5", "loadtest.py")
    assert result.returncode == 0, result.stderr
    lines = result.lines
    header = lines.index(next(line for line in lines if line.startswith("Times (ms)")))
    assert lines[header].split() == [
        "Times", "(ms)", "min", "p50", "p90", "p95", "p99", "p99.9", "max", "mean"
    ]  # fmt: skip
    table = lines[header : header + 4]
    assert all(len(line) <= 80 for line in table), table
    # Every number ends in its header's column.
    ends = [len(lines[header]) - i for i in range(0, 56, 7)]
    for line in table[1:]:
        assert len(line) == len(lines[header])
        assert all(line[end - 1] != " " and line[end] == " " for end in ends[1:]), line
        assert len(line[18:].split()) == 8, line


def test_rates_are_per_second_of_load_and_the_drain_is_said_apart(
    scenario_file, run_molotov, target, tmp_path
):
    scenario_file(
        """
        @molotov.scenario()
        async def slow(session):
            async with session.get(URL + "/slow?s=0.6") as resp:
                await resp.read()
        """
    )
    result = run_molotov("-w", "2", "-d", "1", "--report", "r.json", "loadtest.py")
    assert result.returncode == 0, (result.stdout, result.stderr)
    doc = json.loads((tmp_path / "r.json").read_text())
    # The steps in flight at the stop end after it: that time is the drain, not load.
    drain, duration = doc["drain_s"], doc["duration_s"]
    assert 0.1 < drain < duration - 0.9, doc
    steps = doc["totals"]["steps"]
    assert steps == target.hits["/slow"] >= 4
    assert doc["totals"]["steps_per_s"] == round(steps / (duration - drain), 3)
    [header] = [line for line in result.lines if line.startswith("Duration: ")]
    said = re.match(
        r"Duration: ([\d.]+)s \(\+([\d.]+)s drain\) \| Steps: (\d+) \(([\d.]+)/s\)", header
    )
    assert said, header
    load, drained, rate = float(said[1]), float(said[2]), float(said[4])
    assert abs(load - (duration - drain)) < 0.011 and abs(drained - drain) < 0.011, header
    assert int(said[3]) == steps and abs(rate - steps / (duration - drain)) < 0.11, header


def _bus_segments(pid: int) -> list[str]:
    """The stats-bus segments a molotov parent of this pid left in /dev/shm."""
    shm = Path("/dev/shm")
    return sorted(p.name for p in shm.iterdir() if p.name.startswith(f"molotov-{pid}-"))


def _address_space(limit: int):
    def cap() -> None:
        if limit:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return cap


def _run_to_its_end(argv: list[str], tmp_path, env, address_space: int = 0) -> tuple[int, int, str]:
    """(pid, exit code, stderr) of a molotov command run to its end, its address space capped
    at ``address_space`` bytes if given."""
    # setrlimit takes no lock: safe in the child of a process with threads (the target's).
    process = subprocess.Popen(
        [sys.executable, "-m", "molotov", *argv],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_address_space(address_space),  # noqa: PLW1509
    )
    _, stderr = process.communicate(timeout=60)
    return process.pid, process.returncode, stderr


TRACKER_CANNOT_START = """
    import multiprocessing
    import os
    import stat

    import molotov

    @molotov.global_setup()
    def interpreter_out_of_reach(args):
        # The resource tracker's interpreter can't be run: as for a user who may not execute
        # it. multiprocessing starts it without looking, then writes to its pipe.
        path = os.path.abspath("not-executable")
        open(path, "w").close()
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
        multiprocessing.set_executable(path)

    @molotov.scenario()
    async def nothing(session):
        pass
"""


def test_a_resource_tracker_that_cannot_start_is_one_line(write_scenario, target, tmp_path):
    """It was exit 1 and not a word (click took the tracker's broken pipe for a closed stdout),
    and the stats bus left in /dev/shm in some runs."""
    write_scenario(TRACKER_CANNOT_START)
    pid, code, stderr = _run_to_its_end(
        ["-r", "1", "loadtest.py"], tmp_path, molotov_env(target.url)
    )
    assert stderr.splitlines() == [
        "Can't start the resource tracker that removes the stats bus if molotov is killed: "
        f"{str(tmp_path / 'not-executable')!r}: Permission denied"
    ]
    assert code == 1
    assert _bus_segments(pid) == []
    assert target.total == 0


def test_a_stats_bus_that_cannot_be_mapped_is_one_line(write_scenario, target, tmp_path):
    """1,024 processes x 100 scenarios is a 4.5 GB bus: within 2 GB of address space (ulimit
    -v), it can't be mapped."""
    write_scenario(
        "import molotov\n"
        + "".join(f"@molotov.scenario()\nasync def s{i}(session):\n    pass\n" for i in range(100))
    )
    argv = ["-p", "1024", "-r", "1", "loadtest.py"]
    env = molotov_env(target.url)
    pid, code, stderr = _run_to_its_end(argv, tmp_path, env, address_space=2 * 1024**3)
    ours = [line for line in stderr.splitlines() if "stats bus" in line]
    assert ours == [
        "Can't create the stats bus in shared memory (1024 process(es) x 100 scenario(s)): "
        "Cannot allocate memory"
    ], stderr
    # Python's resource tracker may add its own KeyError report (SharedMemory unregisters
    # the block it could not map, which it had never registered): never a molotov frame.
    assert "/molotov/" not in stderr
    assert code == 1
    assert _bus_segments(pid) == []
    assert target.total == 0
