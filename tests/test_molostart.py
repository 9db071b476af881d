"""``molostart [DIR]``: the scaffold, written by the real command and run by the real molotov
against the conftest target, which counts what it served."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from molotov import __version__
from startsupport import MOLOSTART, ruff, run_molostart, run_test
from support import Target, closing, molotov_env, run_command


def test_the_scaffold_runs_green_as_written(tmp_path: Path, target: Target) -> None:
    result = run_molostart("--target", target.url + "/", "work", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Wrote loadtest.py and molotov.json in 'work'.",
        f"Target: {target.url} (TARGET_URL overrides it).",
        f"Run it once:      cd {tmp_path / 'work'} && molotov --config molotov.json smoke",
        f"Then under load:  cd {tmp_path / 'work'} && molotov --config molotov.json load",
    ]
    run = run_test(tmp_path / "work")
    assert run.returncode == 0, run.stdout + run.stderr
    assert closing(run.stdout) == (2, 0)  # smoke: each scenario once
    assert target.hits["/"] == 2


def test_the_scaffold_follows_target_url(tmp_path: Path, target: Target) -> None:
    assert run_molostart(cwd=tmp_path).returncode == 0  # asks nothing: stdin is no terminal
    assert (
        'os.environ.get("TARGET_URL", "http://localhost:8080")'
        in (tmp_path / "loadtest.py").read_text()
    )
    run = run_test(tmp_path, TARGET_URL=target.url)
    assert run.returncode == 0, run.stdout + run.stderr
    assert target.hits["/"] == 2


def test_the_scaffold_has_what_a_newcomer_needs(tmp_path: Path) -> None:
    assert (
        run_molostart("--target", "https://staging.example.com/api", cwd=tmp_path).returncode == 0
    )
    text = (tmp_path / "loadtest.py").read_text()
    for part in (
        "@setup()",
        "@scenario(weight=90)",
        "@scenario(weight=10, delay=1.0)",
        "@events()",
    ):
        assert part in text
    assert 'os.environ.get("TARGET_URL", "https://staging.example.com/api")' in text
    assert ruff("format", "--diff", "loadtest.py", cwd=tmp_path).returncode == 0
    checked = ruff("check", "loadtest.py", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout
    tests = json.loads((tmp_path / "molotov.json").read_text())["molotov"]["tests"]
    assert tests["smoke"] == {
        "scenario": "loadtest.py",
        "single_run": True,
        "threshold": ["failures<1"],
    }
    assert tests["load"]["workers"] == 10 and tests["load"]["duration"] == "1m"


def test_the_scaffold_smoke_test_fails_when_the_target_fails(
    tmp_path: Path, target: Target
) -> None:
    """The events hook reports each 5xx, and the smoke test's threshold fails the run."""
    assert run_molostart(cwd=tmp_path).returncode == 0
    # f"{TARGET_URL}/" is then /status/503?x=/: the target answers 503 to every request.
    run = run_test(tmp_path, TARGET_URL=target.url + "/status/503?x=")
    assert run.returncode == 99
    assert closing(run.stdout) == (0, 2)
    assert f"server error: GET {target.url}/status/503?x=/ -> 503" in run.stdout
    assert "threshold(s) failed: failures<1" in run.stderr


def test_existing_files_are_kept_unless_forced(tmp_path: Path) -> None:
    (tmp_path / "molotov.json").write_text("mine")
    result = run_molostart(cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == "'molotov.json' already exists (--force overwrites it)\n"
    assert (tmp_path / "molotov.json").read_text() == "mine"
    assert not (tmp_path / "loadtest.py").exists()  # nothing written when anything exists
    forced = run_molostart("--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert json.loads((tmp_path / "molotov.json").read_text())["molotov"]["tests"]


def test_a_folder_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    result = run_molostart("file/sub", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("Cannot write in 'file/sub': ")
    assert len(result.stderr.splitlines()) == 1


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    for args, message in [
        (["--target", "ftp://host"], "is not an http:// or https:// URL with a host"),
        (["--target", "http://"], "is not an http:// or https:// URL with a host"),
        (["--target", "http://h/?q=1"], "a target URL has no query or fragment"),
        (["--target", "http://[::1"], "is not a URL (Invalid IPv6 URL)"),
        (["--target", "http://h:99999"], "is not a URL (Port out of range 0-65535)"),
        (["--think-time"], "need --har"),
        (["--include-host", "x"], "need --har"),
        (["--har", "x.har", "--target", "http://h"], "--target is for the scaffold"),
    ]:
        result = run_molostart(*args, cwd=tmp_path)
        assert result.returncode == 2, args
        assert message in result.stderr, result.stderr
    assert list(tmp_path.iterdir()) == []


def test_version(tmp_path: Path) -> None:
    result = run_molostart("--version", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, f"{__version__}\n")


def _talk(folder: Path, answers: list[str], timeout: float = 30) -> tuple[int, str]:
    """Run molostart on a pseudo-terminal, answer each prompt, return (code, screen)."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [str(MOLOSTART)], cwd=folder, stdin=terminal, stdout=terminal, stderr=terminal
    )
    os.close(terminal)
    screen, pending = b"", list(answers)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(controller, 4096)
                except OSError:  # the other side closed: the process is done
                    break
                if not chunk:
                    break
                screen += chunk
                if pending and screen.rstrip().endswith(b":"):
                    os.write(controller, pending.pop(0).encode() + b"\n")
            elif process.poll() is not None:
                break
        return process.wait(timeout=10), screen.decode(errors="replace")
    finally:
        if process.poll() is None:
            process.kill()
        os.close(controller)


def test_on_a_terminal_it_asks_for_the_target(tmp_path: Path) -> None:
    code, screen = _talk(tmp_path, ["not a url", "http://127.0.0.1:8765"])
    assert code == 0, screen
    assert "Target URL [http://localhost:8080]:" in screen
    assert "is not an http:// or https:// URL with a host" in screen  # asked again
    assert (
        'os.environ.get("TARGET_URL", "http://127.0.0.1:8765")'
        in (tmp_path / "loadtest.py").read_text()
    )


def test_on_a_terminal_enter_takes_the_default(tmp_path: Path) -> None:
    code, screen = _talk(tmp_path, [""])
    assert code == 0, screen
    assert "Target: http://localhost:8080" in screen


def test_the_printed_command_runs_the_new_file_from_a_folder_with_its_own(
    tmp_path: Path, target: Target
) -> None:
    # The working directory has a loadtest.py of its own, which requests /other.
    (tmp_path / "loadtest.py").write_text(
        "from molotov import scenario\n\n"
        "@scenario()\n"
        "async def other(session):\n"
        f"    async with session.get({target.url + '/other'!r}) as resp:\n"
        "        assert resp.status == 404\n"
    )
    result = run_molostart("--target", target.url, "work", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    command = result.stdout.splitlines()[2].removeprefix("Run it once:").strip()
    env = molotov_env()
    del env["TARGET_URL"]
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    run = run_command(["sh", "-c", command], tmp_path, env, 60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert target.hits["/"] == 2
    assert target.hits["/other"] == 0


def test_a_dangling_link_is_not_written_through(tmp_path: Path) -> None:
    (tmp_path / "loadtest.py").symlink_to(tmp_path / "elsewhere.py")
    result = run_molostart(cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == "'loadtest.py' already exists (--force overwrites it)\n"
    assert not (tmp_path / "elsewhere.py").exists()
    assert not (tmp_path / "molotov.json").exists()
