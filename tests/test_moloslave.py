"""The real ``moloslave`` command on real git repositories made with dulwich.

Every run is a subprocess with a ``PATH`` that holds no ``git`` and a ``TMPDIR`` of its own, so
a work dir left behind shows up; the scenarios hit the conftest target, whose URL comes from
the config's ``env`` (the outer ``TARGET_URL`` points nowhere).
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from dulwich import porcelain

from support import Result, proc_stat, run_command

BIN = Path(sys.executable).parent
MOLOSLAVE = BIN / "moloslave"
NOWHERE = "http://127.0.0.1:9"  # the outer TARGET_URL: nothing listens there

SCENARIO = """\
import os
from molotov import scenario

@scenario()
async def hit(session):
    async with session.get(os.environ["TARGET_URL"] + {path!r}) as resp:
        assert resp.status < 300
"""

FAILING = """\
import os
from molotov import scenario

@scenario()
async def broken(session):
    async with session.get(os.environ["TARGET_URL"] + "/") as resp:
        assert resp.status == 418, "not a teapot"
"""

REQUIRING = """\
import os
import molofixture
from molotov import scenario

@scenario()
async def hit(session):
    async with session.get(os.environ["TARGET_URL"] + molofixture.PATH) as resp:
        assert resp.status < 300
"""


def config(url: str, tests: dict, **section) -> str:
    return json.dumps({"molotov": {"env": {"TARGET_URL": url}, **section, "tests": tests}})


def commit(repo_dir: Path, files: dict[str, str], message: str = "change") -> str:
    """Write ``files`` into the repository and commit them; the commit id."""
    for name, text in files.items():
        path = repo_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8", "surrogateescape"))  # "\udcff": a raw 0xff byte
    with porcelain.open_repo_closing(str(repo_dir)) as repo:
        porcelain.add(repo, [str(repo_dir / name) for name in files])
        sha = porcelain.commit(
            repo, message=message.encode(), author=b"T <t@example.com>", committer=b"T <t@e.com>"
        )
    return sha.decode()


def new_repo(repo_dir: Path, files: dict[str, str]) -> str:
    porcelain.init(str(repo_dir)).close()
    return commit(repo_dir, files, "first")


def work_dir_of(stdout: str) -> Path:
    lines = [line for line in stdout.splitlines() if line.startswith("Work dir: ")]
    assert len(lines) == 1, stdout
    return Path(lines[0].removeprefix("Work dir: "))


def error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


@pytest.fixture
def slave_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a moloslave run: no git on PATH, a TMPDIR to watch."""
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MOLOTOV_", "PIP_", "TEST_")) and k != "VIRTUAL_ENV"
    }
    env.update(
        PATH=str(BIN),
        TMPDIR=str(tmpdir),
        TARGET_URL=NOWHERE,
        PYTHONUNBUFFERED="1",
        PIP_CONFIG_FILE=os.devnull,  # only what a test sets
        PIP_NO_INDEX="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    assert shutil.which("git", path=env["PATH"]) is None
    return env


@pytest.fixture
def moloslave(slave_env: dict[str, str], tmp_path: Path):
    def run(*args: str, timeout: float = 90, **extra: str) -> Result:
        return run_command([str(MOLOSLAVE), *args], tmp_path, {**slave_env, **extra}, timeout)

    return run


def leftovers(slave_env: dict[str, str]) -> list[str]:
    return sorted(p.name for p in Path(slave_env["TMPDIR"]).iterdir())


@pytest.fixture
def repo(tmp_path: Path, target) -> dict[str, object]:
    """A repository whose history tells each ref apart by the path its scenario hits."""
    path = tmp_path / "repo"
    tests = {
        "test": {"scenario": "loadtest.py", "workers": 2, "max_runs": 3, "console": True},
        "fail": {"scenario": "failing.py", "exception": True, "max_runs": 5, "console": True},
        "long": {"scenario": "loadtest.py", "duration": 60, "delay": 0.01, "console": True},
    }
    files = {"molotov.json": config(target.url, tests), "failing.py": FAILING}
    first = new_repo(path, {**files, "loadtest.py": SCENARIO.format(path="/status/203")})
    commit(path, {"loadtest.py": SCENARIO.format(path="/status/202")})
    porcelain.branch_create(str(path), "feature")
    commit(path, {"loadtest.py": SCENARIO.format(path="/status/201")})
    porcelain.tag_create(
        str(path), b"v1", annotated=True, message=b"v1", author=b"T <t@example.com>"
    )
    commit(path, {"loadtest.py": SCENARIO.format(path="/")})
    return {"path": path, "first": first}


def test_version(moloslave):
    from molotov._version import __version__

    result = moloslave("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == __version__


def test_local_path_exact_counts_and_work_dir_removed(moloslave, repo, target, slave_env):
    result = moloslave(str(repo["path"]))
    assert result.returncode == 0, result.stderr
    assert dict(target.hits) == {"/": 6}
    lines = result.lines
    running = [i for i, line in enumerate(lines) if line.startswith("Running: molotov ")]
    assert len(running) == 1
    assert lines[running[0]].startswith("Running: molotov --config molotov.json test (")
    assert "workers=2" in lines[running[0]] and "max_runs=3" in lines[running[0]]
    assert lines.index("SUCCESSES: 6 | FAILURES: 0") > running[0]
    assert not work_dir_of(result.stdout).exists()
    assert leftovers(slave_env) == []


@pytest.mark.parametrize(
    ("ref", "path"),
    [
        (None, "/"),
        ("v1", "/status/201"),  # an annotated tag
        ("feature", "/status/202"),  # a branch that is not the default one
        ("first", "/status/203"),  # a full commit id
        ("first10", "/status/203"),  # an abbreviated commit id
    ],
)
def test_file_url_at_ref(moloslave, repo, target, slave_env, ref, path):
    url = f"file://{repo['path']}"
    if ref is not None and ref.startswith("first"):
        ref = str(repo["first"])[: 10 if ref == "first10" else 40]
    result = moloslave(url, *(["--ref", ref] if ref else []))
    assert result.returncode == 0, result.stderr
    assert dict(target.hits) == {path: 6}
    assert leftovers(slave_env) == []


def test_failing_test_exit_code_from_environment_defaults(moloslave, repo, target, slave_env):
    """REPO and TEST from TEST_REPO and TEST_NAME; the test's exit code 1 (-x) is moloslave's."""
    result = moloslave(TEST_REPO=str(repo["path"]), TEST_NAME="fail")
    assert result.returncode == 1
    assert "Running: molotov --config molotov.json fail (" in result.stdout
    assert "FAILURES: 1" in result.stdout
    assert "not a teapot" in result.stdout + result.stderr
    assert 1 <= target.hits["/"] < 5
    assert not work_dir_of(result.stdout).exists()
    assert leftovers(slave_env) == []


def make_wheel(directory: Path, name: str, version: str, files: dict[str, str]) -> Path:
    """A minimal pure-Python wheel, by hand: no build backend, so no index is needed."""
    dist_info = f"{name}-{version}.dist-info"
    contents = {
        **files,
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for path, text in contents.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{dist_info}/RECORD,,")
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in contents.items():
            archive.writestr(path, text)
        archive.writestr(f"{dist_info}/RECORD", "\n".join(record) + "\n")
    return wheel


def test_requirements_installed_env_for_the_test_only_and_keep(
    moloslave, tmp_path, target, slave_env
):
    assert importlib.util.find_spec("molofixture") is None
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    make_wheel(wheels, "molofixture", "1.0", {"molofixture/__init__.py": 'PATH = "/status/204"\n'})
    # The test's env breaks pip if it leaked into it: then pip would find no wheel.
    env = {"TARGET_URL": target.url, "PIP_FIND_LINKS": str(tmp_path / "no-wheels-here")}
    tests = {"test": {"scenario": "loadtest.py", "workers": 1, "max_runs": 4, "console": True}}
    molotov_json = json.dumps(
        {"molotov": {"requirements": "requirements.txt", "env": env, "tests": tests}}
    )
    path = tmp_path / "repo"
    new_repo(
        path,
        {
            "molotov.json": molotov_json,
            "requirements.txt": "molofixture==1.0\n",
            "loadtest.py": REQUIRING,
        },
    )
    result = moloslave(str(path), "--keep", PIP_FIND_LINKS=str(wheels), timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert dict(target.hits) == {"/status/204": 4}
    work = work_dir_of(result.stdout)
    assert work.parent == Path(slave_env["TMPDIR"])
    # The clone is the work dir itself; the venv sits in it under a name no repository uses.
    assert (work / "molotov.json").is_file()
    assert (work / ".moloslave-venv" / "pyvenv.cfg").is_file()
    assert list(work.glob(".moloslave-venv/lib/python*/site-packages/molofixture/__init__.py"))
    assert f"Kept the work dir {work}" in result.stderr


def test_directory_is_used_and_kept(moloslave, repo, target, tmp_path, slave_env):
    directory = tmp_path / "work" / "here"
    result = moloslave(str(repo["path"]), "--directory", str(directory))
    assert result.returncode == 0, result.stderr
    assert target.total == 6
    assert work_dir_of(result.stdout) == directory
    # Cloned into DIR itself, as Molotov 2.x did: scripts look for DIR/molotov.json.
    assert (directory / "molotov.json").is_file()
    assert (directory / "loadtest.py").is_file()
    assert (directory / ".git").is_dir()
    assert leftovers(slave_env) == []
    # It is never reused: a directory with something in it is refused before anything runs.
    again = moloslave(str(repo["path"]), "--directory", str(directory))
    assert again.returncode == 1
    assert error_lines(again) == [
        f"--directory {str(directory)!r} must be an empty or new directory"
    ]
    assert target.total == 6


BAD_CONFIGS = {
    "bad-json.json": "{nope",
    "no-molotov.json": json.dumps({"tests": {}}),
    "unknown-option.json": json.dumps({"molotov": {"tests": {"test": {"wrokers": 2}}}}),
    "wrong-type.json": json.dumps({"molotov": {"tests": {"test": {"workers": "two"}}}}),
    "zero-workers.json": json.dumps({"molotov": {"tests": {"test": {"workers": 0}}}}),
    "no-scenario.json": json.dumps({"molotov": {"tests": {"test": {"scenario": "gone.py"}}}}),
    "req-escape.json": json.dumps({"molotov": {"requirements": "../r.txt", "tests": {"test": {}}}}),
    "req-absolute.json": json.dumps(
        {"molotov": {"requirements": "/etc/hostname", "tests": {"test": {}}}}
    ),
    "req-missing.json": json.dumps({"molotov": {"requirements": "r.txt", "tests": {"test": {}}}}),
    "req-type.json": json.dumps({"molotov": {"requirements": ["r.txt"], "tests": {"test": {}}}}),
    "env-list.json": json.dumps({"molotov": {"env": ["A=1"], "tests": {"test": {}}}}),
    "env-number.json": json.dumps({"molotov": {"env": {"A": 1}, "tests": {"test": {}}}}),
    "env-nul.json": json.dumps({"molotov": {"env": {"A": "x\0y"}, "tests": {"test": {}}}}),
    "not-utf8.json": '{"molotov": {"tests": {"test": {"scenario": "\udcff.py"}}}}',
}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--config", "missing.json"], "Can't find the config file"),
        (["--config", "bad-json.json"], "Can't parse the config file"),
        (["--config", "no-molotov.json"], "no 'molotov' key"),
        (["nope"], "Can't find 'nope' in the config (available: fail, long, test)"),
        (["--config", "unknown-option.json"], "unknown option 'wrokers' in test 'test'"),
        (["--config", "wrong-type.json"], "option 'workers' of test 'test' must be an integer"),
        (["--config", "zero-workers.json"], "option 'workers' of test 'test' must be at least 1"),
        (["--config", "no-scenario.json"], "can't find the scenario file 'gone.py'"),
        (["--config", "req-escape.json"], "'../r.txt' must stay inside the repository"),
        (["--config", "req-absolute.json"], "'/etc/hostname' must be a path relative"),
        (["--config", "req-missing.json"], "can't find the requirements file 'r.txt'"),
        (["--config", "req-type.json"], "'requirements' must be a string"),
        (["--config", "env-list.json"], "'env' must be an object"),
        (["--config", "env-number.json"], "env 'A' must be a string, got 1"),
        (["--config", "env-nul.json"], "env 'A' must not hold a NUL byte"),
        (["--config", "not-utf8.json"], "Can't parse the config file 'not-utf8.json': not UTF-8"),
        (["--config", "../molotov.json"], "must stay inside the repository"),
        (["--config", "/etc/hostname"], "must be a path relative to the repository"),
        (["--ref", "nope"], "Can't find ref 'nope'"),
        (["--ref", "a..b"], "Bad ref 'a..b'"),
        (["--ref=-x"], "Bad ref '-x'"),
    ],
)
def test_config_and_ref_errors_run_nothing(moloslave, repo, target, slave_env, args, message):
    commit(repo["path"], BAD_CONFIGS, "bad configs")
    result = moloslave(str(repo["path"]), *args)
    assert result.returncode == 1
    lines = error_lines(result)
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert slave_env["TMPDIR"] not in lines[0]  # files are named as in the repository
    assert "Running:" not in result.stdout
    assert target.total == 0
    assert leftovers(slave_env) == []


def test_a_config_file_over_its_limit_runs_nothing(moloslave, repo, target, slave_env):
    """The repository's molotov.json is read as molotov reads it: within 4 MiB."""
    padded = config(target.url, {"test": {"scenario": "loadtest.py"}}).ljust(4 * 1024**2 + 1)
    commit(repo["path"], {"huge.json": padded}, "a config past the limit")
    result = moloslave(str(repo["path"]), "--config", "huge.json")
    assert error_lines(result) == ["'huge.json' is larger than 4 MiB: too large for a config file"]
    assert result.returncode == 1
    assert "Running:" not in result.stdout
    assert target.total == 0
    assert leftovers(slave_env) == []


def test_repository_errors_run_nothing(moloslave, tmp_path, target, slave_env):
    not_a_repo = tmp_path / "plain"
    not_a_repo.mkdir()
    cases = [
        ((), "No repository: give REPO or set TEST_REPO"),
        ((str(tmp_path / "missing"),), "no such directory"),
        ((str(not_a_repo),), "Can't clone"),
        (("ftp://example.invalid/repo",), "unknown scheme 'ftp'"),
        (("file://somehost/repo",), "file:// URL takes no host"),
        (("https:///repo",), "a host name is required"),
    ]
    for args, message in cases:
        result = moloslave(*args)
        assert result.returncode == 1, args
        lines = error_lines(result)
        assert len(lines) == 1, result.stderr
        assert message in lines[0]
    assert target.total == 0
    assert leftovers(slave_env) == []


@dataclass
class SilentServer:
    """A TCP server on 127.0.0.1 that accepts every connection and never says a word."""

    port: int
    connections: list[socket.socket]


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    server = socket.create_server(("127.0.0.1", 0))
    silent = SilentServer(server.getsockname()[1], [])
    done = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not done.is_set():
            try:
                silent.connections.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield silent
    done.set()
    thread.join()
    for conn in silent.connections:
        conn.close()
    server.close()


@pytest.mark.parametrize("scheme", ["git", "http"])
def test_clone_of_a_server_that_never_answers_stops_at_the_clone_timeout(
    moloslave, silent_server, target, slave_env, scheme
):
    """--clone-timeout bounds the whole clone: the HTTP client's retries (a connection each,
    four in all, each waiting the timeout) do not get to run past it."""
    url = f"{scheme}://127.0.0.1:{silent_server.port}/loadtests.git"
    result = moloslave(url, "--clone-timeout", "1", timeout=60)
    assert len(silent_server.connections) <= 1
    assert result.returncode == 1
    assert error_lines(result) == [f"Can't clone {url!r}: not done within 1s (--clone-timeout)"]
    assert "Running:" not in result.stdout
    assert target.total == 0
    assert leftovers(slave_env) == []


def test_a_signal_during_the_clone_ends_it(silent_server, target, slave_env, tmp_path):
    """The clone runs in a process of its own: a signal to moloslave ends it as well."""
    url = f"http://127.0.0.1:{silent_server.port}/loadtests.git"
    proc = subprocess.Popen(
        [str(MOLOSLAVE), url, "--clone-timeout", "600"],
        cwd=tmp_path,
        env=slave_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not silent_server.connections and time.monotonic() < deadline:
            time.sleep(0.05)
        assert silent_server.connections, "the clone never connected"
        (clone,) = children_of(proc.pid)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signal.SIGTERM
    assert stderr.splitlines() == ["Interrupted (SIGTERM) before the test ran"]
    assert proc_stat(clone) is None
    assert leftovers(slave_env) == []


@pytest.mark.parametrize("value", ["0", "-1", "inf", "nan", "100000"])
def test_bad_clone_timeout_is_a_usage_error(moloslave, repo, target, value):
    result = moloslave(str(repo["path"]), "--clone-timeout", value)
    assert result.returncode == 2
    assert "--clone-timeout" in result.stderr
    assert "must be more than 0 and at most 86400" in result.stderr
    assert "Traceback" not in result.stderr
    assert target.total == 0


HOSTILE = ["x; touch {p}", "--upload-pack=touch {p}", "ext::sh -c touch% {p}"]


@pytest.mark.parametrize("template", HOSTILE)
def test_hostile_repo_is_a_bad_url_and_runs_nothing(
    moloslave, tmp_path, target, slave_env, template
):
    marker = tmp_path / "p"
    value = template.format(p=marker)
    for result in (moloslave(TEST_REPO=value), moloslave("--", value)):
        assert result.returncode == 1
        assert error_lines(result) == [error_lines(result)[0]]
        assert error_lines(result)[0].startswith(f"Bad repository {value!r}: ")
        assert result.stdout == ""
    assert not marker.exists()
    assert target.total == 0
    assert leftovers(slave_env) == []


def test_option_lookalike_repo_on_the_command_line_is_a_usage_error(moloslave, tmp_path):
    marker = tmp_path / "p"
    result = moloslave(f"--upload-pack=touch {marker}")
    assert result.returncode == 2
    assert "No such option" in result.stderr
    assert not marker.exists()


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = proc_stat(int(entry.name))
            if stat is not None and stat[1] == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_signal_is_forwarded_and_work_dir_removed(repo, target, slave_env, tmp_path, signum):
    proc = subprocess.Popen(
        [str(MOLOSLAVE), str(repo["path"]), "long"],
        cwd=tmp_path,
        env=slave_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        work = work_dir_of(proc.stdout.readline())
        deadline = time.monotonic() + 60
        while target.total == 0 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert target.total > 0, "the test never reached the target"
        (molotov,) = children_of(proc.pid)
        assert work.is_dir()
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # molotov stops gracefully on either signal, exit 0, and moloslave exits with its code.
    assert proc.returncode == 0, stderr
    assert "SUCCESSES: " in stdout
    assert proc_stat(molotov) is None
    assert not work.exists()
    assert leftovers(slave_env) == []
