"""Where the output of a real run goes: reports through symbolic links and into streams, and
a stdout whose reader left early (``molotov ... | head``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from support import closing, molotov_env

SCENARIO = """
    import os
    from molotov import scenario

    @scenario()
    async def root(session):
        async with session.get(os.environ["TARGET_URL"] + "/") as resp:
            assert resp.status == 200
"""


SLOW_SCENARIO = """
    import asyncio
    import os
    from molotov import scenario

    @scenario()
    async def root(session):
        async with session.get(os.environ["TARGET_URL"] + "/") as resp:
            assert resp.status == 200
        await asyncio.sleep(0.01)
"""


def no_temp_files(folder: Path) -> None:
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")], list(folder.iterdir())


def test_report_through_a_symlink_replaces_its_target(run_molotov, write_scenario, tmp_path):
    write_scenario(SCENARIO)
    data = tmp_path / "data"
    data.mkdir()
    (data / "real.json").write_text("old\n")
    (tmp_path / "link.json").symlink_to("data/real.json")
    result = run_molotov("-r", "2", "--report", "link.json")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "link.json").is_symlink()
    assert os.readlink(tmp_path / "link.json") == "data/real.json"
    doc = json.loads((data / "real.json").read_text())
    assert (doc["successes"], doc["failures"]) == closing(result.stdout) == (2, 0)
    no_temp_files(data)
    no_temp_files(tmp_path)


def test_report_through_a_dangling_symlink_creates_its_target(
    run_molotov, write_scenario, tmp_path
):
    write_scenario(SCENARIO)
    (tmp_path / "link.json").symlink_to(tmp_path / "reports" / "new.json")
    result = run_molotov("-r", "1", "--report", "link.json")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "link.json").is_symlink()
    assert json.loads((tmp_path / "reports" / "new.json").read_text())["successes"] == 1


def report_after_bye(stdout: str) -> dict:
    """The indented JSON document that follows Molotov's closing lines."""
    _, bye, tail = stdout.partition("*** Bye ***\n")
    assert bye, stdout
    return json.loads(tail)


def test_report_to_dev_stdout_on_a_pipe(run_molotov, write_scenario):
    write_scenario(SCENARIO)
    result = run_molotov("-r", "3", "--report", "/dev/stdout")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    doc = report_after_bye(result.stdout)
    assert doc["successes"] == 3
    assert os.path.islink("/dev/stdout")  # written into, not replaced by a file (we are root)


def test_report_to_dev_stdout_redirected_to_a_file_is_appended(write_scenario, target, tmp_path):
    """``molotov --report /dev/stdout > out.txt``: the summary stays, the report follows it."""
    write_scenario(SCENARIO)
    out = tmp_path / "out.txt"
    with out.open("w") as stdout:
        code = subprocess.run(
            [sys.executable, "-m", "molotov", "-r", "2", "--report", "/dev/stdout"],
            cwd=tmp_path,
            env=molotov_env(target.url),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
        ).returncode
    assert code == 0
    text = out.read_text()
    assert text.startswith("Molotov: 1 scenario(s)")
    assert closing(text.partition("*** Bye ***\n")[0] + "*** Bye ***") == (2, 0)
    assert report_after_bye(text)["successes"] == 2


def test_stdout_closed_early_is_not_an_error_of_the_run(write_scenario, target, tmp_path):
    """``molotov ... | head -1``: the run goes on to its end, its report and its exit code."""
    write_scenario(SLOW_SCENARIO)
    proc = subprocess.Popen(
        [sys.executable, "-m", "molotov", "-d", "3", "-c", "--report", "r.json"],
        cwd=tmp_path,
        env=molotov_env(target.url),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith(b"Molotov: ")
        proc.stdout.close()  # as head does after its line: every later write gets EPIPE
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    assert stderr == b""  # no traceback, no "Exception ignored ... BrokenPipeError"
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["successes"] > 0
    assert doc["stop_reason"] == "duration"
    assert doc["totals"]["requests"] == target.total
