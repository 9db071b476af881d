"""The tests' shared-memory leak check (conftest's ``no_leftover_shared_memory``) counts the
stats buses of the test's own processes, and only those: another run on the machine that leaks
one while a test runs must not fail that test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import SHM, BusWatch, molotov_env, proc_stat

pytestmark = pytest.mark.skipif(not SHM.is_dir(), reason="no /dev/shm to look at")

# A process outside this test's tree: it forks, its parent leaves, and once it has been
# adopted by another (init, a subreaper), it makes a segment named as a bus and exits: a
# leak of another session's run, as the leak check sees one.
STRANGER = """
import os, sys, time
first = os.getpid()
if os.fork():
    os._exit(0)
while os.getppid() == first:
    time.sleep(0.005)
path = f"/dev/shm/molotov-{os.getpid()}-0123abcd"
open(path, "wb").close()
print(path, flush=True)
"""


@pytest.fixture(scope="module")
def made_here() -> Iterator[list[Path]]:
    """Paths the tests below leave in /dev/shm on purpose, removed once the module is done:
    after the leak check of each test, which must not count them."""
    paths: list[Path] = []
    yield paths
    for path in paths:
        path.unlink(missing_ok=True)


def test_another_runs_leak_is_not_this_tests(made_here: list[Path]) -> None:
    with BusWatch() as watch:
        done = subprocess.run(
            [sys.executable, "-c", STRANGER], capture_output=True, text=True, timeout=30, check=True
        )
        path = Path(done.stdout.strip())
        made_here.append(path)
        assert path.exists()
        deadline = time.monotonic() + 10  # let the watch look while the stranger has gone
        pid = int(path.name.split("-")[1])
        while proc_stat(pid) is not None and time.monotonic() < deadline:
            time.sleep(0.01)
    assert watch.orphans() == set()
    # The autouse check of this very test runs after this line, with the segment still there.


def test_a_leak_of_this_tests_own_run_is_counted(write_scenario, target, tmp_path) -> None:
    """A molotov run killed with its whole process group (resource tracker included) leaves
    its bus behind: the watch names it."""
    write_scenario(
        """
        import os
        from molotov import scenario

        @scenario()
        async def hit(session):
            async with session.get(os.environ["TARGET_URL"] + "/") as resp:
                await resp.read()
        """
    )
    with BusWatch() as watch:
        proc = subprocess.Popen(
            [sys.executable, "-m", "molotov", "-d", "60", "-q", "loadtest.py"],
            cwd=tmp_path,
            env=molotov_env(target.url),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 60
            while target.total < 3 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert target.total >= 3, "the run never reached the target"
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    leaked = watch.orphans()
    for name in leaked:  # cleaned here, before this test's own leak check
        (SHM / name).unlink()
    assert len(leaked) == 1
    assert leaked.pop().startswith(f"molotov-{proc.pid}-")
