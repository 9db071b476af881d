"""Run a built moloslave image against a local target server and a local git repository.

``nox -s container`` builds the image, then runs this with its session's Python (which has
molotov, for the target server, and dulwich, for the repository)::

    python deploy/container/smoke.py IMAGE [BUILDAH_GLOBAL_OPTION ...]

Each check runs the image's ``moloslave`` in a fresh container (``buildah run --isolation
chroot --network host``, the repository bind-mounted read-only at ``/repo``) and reads its
output and exit code. Exit 0 when every check passed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from dulwich import porcelain

SCENARIO = """\
import os
from molotov import scenario

try:
    import molofixture
    PATH = molofixture.PATH
except ImportError:
    PATH = "/"


@scenario()
async def home(session):
    async with session.get(os.environ["TARGET_URL"] + PATH) as resp:
        assert resp.status == 200, f"status {resp.status}"
"""
WORKERS, RUNS = 2, 5
SUMMARY = re.compile(r"^SUCCESSES: (\d+) \| FAILURES: (\d+)$", re.MULTILINE)


@contextmanager
def target_server() -> Iterator[str]:
    """The demo target on 127.0.0.1 (a free port), in its own process; its URL."""
    server = subprocess.Popen(
        [sys.executable, "-m", "molotov.demo.server", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        if not line.startswith("PORT "):
            raise SystemExit(f"the target server did not start: {line!r}")
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        server.terminate()
        server.wait(10)


def fixture_wheel(directory: Path) -> None:
    """A one-module wheel made by hand, for the requirements check (no index needed)."""
    files = {
        "molofixture/__init__.py": 'PATH = "/api/items"\n',
        "molofixture-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: molofixture\n"
        "Version: 1.0\n",
        "molofixture-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: smoke\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append("molofixture-1.0.dist-info/RECORD,,")
    directory.mkdir(parents=True)
    with zipfile.ZipFile(directory / "molofixture-1.0-py3-none-any.whl", "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
        archive.writestr("molofixture-1.0.dist-info/RECORD", "\n".join(record) + "\n")


def make_repo(path: Path, url: str) -> None:
    """A load-test repository as a user would push one, committed with dulwich."""
    tests = {
        "smoke": {"scenario": "loadtest.py", "workers": WORKERS, "max_runs": RUNS},
        "broken": {"scenario": "loadtest.py", "max_runs": 1, "exception": True},
    }
    section = {"env": {"TARGET_URL": url}, "tests": tests}
    broken = {"env": {"TARGET_URL": url + "/nothing-here"}, "tests": tests}
    deps = {**section, "requirements": "requirements.txt"}
    path.mkdir()
    fixture_wheel(path / "wheels")
    contents = {
        "molotov.json": json.dumps({"molotov": section}, indent=2),
        "broken.json": json.dumps({"molotov": broken}, indent=2),
        "deps.json": json.dumps({"molotov": deps}, indent=2),
        "requirements.txt": "--find-links ./wheels\nmolofixture==1.0\n",
        "loadtest.py": SCENARIO,
    }
    for name, text in contents.items():
        (path / name).write_text(text)
    repo = porcelain.init(str(path))
    porcelain.add(repo, [str(p) for p in path.rglob("*") if p.is_file() and ".git" not in p.parts])
    porcelain.commit(repo, message=b"load tests", author=b"smoke <smoke@localhost>")
    repo.close()


class Buildah:
    def __init__(self, global_options: Sequence[str]) -> None:
        self.command = ["buildah", *global_options]

    def output(self, *args: str) -> str:
        done = subprocess.run([*self.command, *args], capture_output=True, text=True, check=True)
        return done.stdout.strip()

    def run(
        self, image: str, repo: Path, command: Sequence[str], env: dict[str, str]
    ) -> tuple[int, str]:
        """``command`` in a new container of ``image``; (exit code, stdout and stderr)."""
        container = self.output("from", "--quiet", image)
        try:
            options = ["--isolation", "chroot", "--network", "host"]
            options += ["--volume", f"{repo}:/repo:ro"]
            for key, value in env.items():
                options += ["--env", f"{key}={value}"]
            done = subprocess.run(
                [*self.command, "run", *options, container, "--", *command],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=600,
                check=False,
            )
        finally:
            subprocess.run([*self.command, "rm", container], capture_output=True, check=False)
        print(f"$ {' '.join(command)}  (env: {env})\n{done.stdout}", flush=True)
        return done.returncode, done.stdout


def check(condition: bool, what: str, failures: list[str]) -> None:
    print(f"{'ok' if condition else 'FAILED'}: {what}", flush=True)
    if not condition:
        failures.append(what)


def main(argv: Sequence[str]) -> int:
    image, *global_options = argv
    buildah = Buildah(global_options)
    failures: list[str] = []
    config = json.loads(buildah.output("inspect", "--type", "image", image))["OCIv1"]["config"]
    check(config.get("Entrypoint") == ["moloslave"], "the entrypoint is moloslave", failures)
    check(
        config.get("User", "root").split(":")[0] not in ("", "0", "root"),
        "the image's USER is not root",
        failures,
    )
    with tempfile.TemporaryDirectory(prefix="moloslave-smoke-") as tmp, target_server() as url:
        repo = Path(tmp) / "loadtests"
        make_repo(repo, url)
        total = WORKERS * RUNS

        code, out = buildah.run(image, repo, ["id", "-u"], {})
        check(
            code == 0 and out.strip() not in ("", "0"), "the container user is not root", failures
        )

        code, out = buildah.run(
            image, repo, ["moloslave"], {"TEST_REPO": "/repo", "TEST_NAME": "smoke"}
        )
        found = SUMMARY.findall(out)
        check(code == 0, "TEST_REPO/TEST_NAME run: exit code 0", failures)
        check(found == [(str(total), "0")], f"SUCCESSES: {total} | FAILURES: 0", failures)

        command = ["moloslave", "--config", "deps.json", "/repo", "smoke"]
        code, out = buildah.run(image, repo, command, {"PIP_NO_INDEX": "1"})
        found = SUMMARY.findall(out)
        check(code == 0, "REPO TEST run with requirements: exit code 0", failures)
        check("Installing requirements.txt" in out, "the requirements were installed", failures)
        check(found == [(str(total), "0")], f"SUCCESSES: {total} | FAILURES: 0", failures)

        command = ["moloslave", "--config", "broken.json", "/repo", "broken"]
        code, out = buildah.run(image, repo, command, {})
        check(code == 1, "a failing test (-x): exit code 1 through the container", failures)
        check(SUMMARY.findall(out) == [("0", "1")], "SUCCESSES: 0 | FAILURES: 1", failures)

    print(f"container smoke: {len(failures)} failed" if failures else "container smoke: passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
