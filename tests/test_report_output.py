"""Where the output of a real run goes: reports through symbolic links and into streams, and
a stdout whose reader left early (``molotov ... | head``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import Result, closing, molotov_env

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


# -- destinations that cannot be written ----------------------------------------------------

needs_dev_full = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")


def stderr_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


@needs_dev_full
def test_csv_prefix_of_a_device_is_refused_before_the_run_and_creates_nothing(
    run_molotov, write_scenario, target
):
    """``--csv /dev/full`` means /dev/full_stats.csv: never a regular file made in /dev."""
    write_scenario(SCENARIO)
    made = [Path("/dev/full_stats.csv"), Path("/dev/full_history.csv")]
    try:
        result = run_molotov("-r", "2", "--csv", "/dev/full")
        assert [path for path in made if os.path.lexists(path)] == []
    finally:
        for path in made:
            if os.path.isfile(path):
                path.unlink()  # what the bug left behind
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert stderr_lines(result) == [
        "--csv '/dev/full': cannot write there ('/dev/full_stats.csv'): no such device "
        "(molotov creates no file in /dev or /proc)"
    ]
    assert target.total == 0


@needs_dev_full
@pytest.mark.parametrize(("flag", "what"), [("--report", "report"), ("--html", "HTML report")])
def test_a_write_error_at_the_end_is_one_line_after_the_summary_and_exit_1(
    run_molotov, write_scenario, target, tmp_path, flag, what
):
    """The disk fills up (/dev/full): the summary is printed, the other files written, one
    line says which file failed, and 1 wins over the failed threshold's 99."""
    write_scenario(SCENARIO)
    args = [flag, "/dev/full", "--csv", "out/run", "--threshold", "p99<1us"]
    result = run_molotov("-r", "2", *args, "loadtest.py")
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert closing(result.stdout) == (2, 0)
    assert stderr_lines(result) == [
        f"Cannot write the {what} '/dev/full': No space left on device",
        "threshold(s) failed: p99<1us",
    ]
    assert (tmp_path / "out" / "run_stats.csv").is_file()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--report", "file/r.json"], "--report 'file/r.json': cannot write there: '{tmp}/file' "
         "is a file, not a folder"),
        (["--csv", "file/deeper/run"], "--csv 'file/deeper/run': cannot write there "
         "('file/deeper/run_stats.csv'): '{tmp}/file' is a file, not a folder"),
        (["--html", "folder"], "--html 'folder': cannot write there: it is a folder (name a "
         "file in it)"),
        (["--report", "ok.json", "--html", "folder/"], "--html 'folder/': cannot write there: "
         "it is a folder (name a file in it)"),
        (["--report", "/proc/r.json"], "--report '/proc/r.json': cannot write there: no such "
         "device (molotov creates no file in /dev or /proc)"),
    ],
    ids=["file-as-folder", "csv-under-a-file", "folder-as-file", "one-of-two", "new-in-proc"],
)  # fmt: skip
def test_a_destination_that_cannot_be_written_is_refused_before_the_first_request(
    run_molotov, write_scenario, target, tmp_path, args, says
):
    write_scenario(SCENARIO)
    (tmp_path / "file").write_text("")
    (tmp_path / "folder").mkdir()
    result = run_molotov("-r", "2", *args, "loadtest.py")
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""  # not even the banner: nothing ran
    assert stderr_lines(result) == [says.format(tmp=tmp_path)]
    assert target.total == 0
    # Checked without leaving anything behind: no file, no folder, no temp file.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "folder", "loadtest.py"]
    assert list((tmp_path / "folder").iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes in a read-only folder anyway")
def test_a_read_only_folder_is_refused_before_the_first_request(
    run_molotov, write_scenario, target, tmp_path
):
    write_scenario(SCENARIO)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        result = run_molotov("-r", "2", "--report", "locked/r.json", "loadtest.py")
    finally:
        locked.chmod(0o755)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert stderr_lines(result) == [
        f"--report 'locked/r.json': cannot write there: no permission to write in '{locked}'"
    ]
    assert target.total == 0


def test_a_destination_from_molotov_json_is_checked_too(
    run_molotov, write_scenario, target, tmp_path
):
    write_scenario(SCENARIO)
    (tmp_path / "file").write_text("")
    test = {"scenario": "loadtest.py", "max_runs": 1, "csv": "file/run"}
    (tmp_path / "molotov.json").write_text(json.dumps({"molotov": {"tests": {"t": test}}}))
    result = run_molotov("--config", "molotov.json", "t")
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert stderr_lines(result)[0].startswith("--csv 'file/run': cannot write there")
    assert target.total == 0


def test_missing_folders_are_still_made(run_molotov, write_scenario, target, tmp_path):
    write_scenario(SCENARIO)
    result = run_molotov("-r", "1", "--report", "new/deeper/r.json", "loadtest.py")
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "new" / "deeper" / "r.json").read_text())["successes"] == 1
