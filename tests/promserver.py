"""A real Prometheus for the remote-write tests: Debian's ``prometheus`` on 127.0.0.1.

It runs with its remote-write receiver on (``--web.enable-remote-write-receiver``), its
database in a temporary folder, a config that scrapes nothing, on a free port. Without the
binary the tests that need it skip, saying why, unless ``MOLOTOV_REQUIRE_PROMETHEUS=1`` (CI
sets it, and installs the package: they must not skip there).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BINARY = Path(shutil.which("prometheus") or "/usr/bin/prometheus")
READY_TIMEOUT = 60.0
CONFIG = "global:\n  scrape_interval: 1h\n"  # no scrape job: only what is written to it


def require() -> None:
    """Skip the calling test without Prometheus, saying why; fail instead with
    MOLOTOV_REQUIRE_PROMETHEUS=1."""
    import pytest

    if BINARY.exists():
        return
    reason = f"no Prometheus at {BINARY} (apt-get install prometheus)"
    if os.environ.get("MOLOTOV_REQUIRE_PROMETHEUS") == "1":
        pytest.fail(f"MOLOTOV_REQUIRE_PROMETHEUS=1 but {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Prometheus:
    """A running Prometheus: its remote-write URL, and its query API."""

    def __init__(self, folder: Path) -> None:
        (folder / "prometheus.yml").write_text(CONFIG)
        self.base = f"http://127.0.0.1:{free_port()}"
        argv = [
            str(BINARY),
            f"--config.file={folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address={self.base.removeprefix('http://')}",
            "--web.enable-remote-write-receiver",
        ]
        self.log = folder / "prometheus.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )

    @property
    def write_url(self) -> str:
        return f"{self.base}/api/v1/write"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"Prometheus exited:\n{self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.base}/-/ready", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"Prometheus not ready:\n{self.log.read_text()[-2000:]}")

    def query(self, expression: str) -> list[tuple[dict[str, str], float]]:
        """An instant query (now): ``[(labels, value)]``."""
        url = f"{self.base}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
        with urllib.request.urlopen(url, timeout=10) as answer:
            body = json.load(answer)
        assert body["status"] == "success", body
        return [(item["metric"], float(item["value"][1])) for item in body["data"]["result"]]

    def by(self, expression: str, label: str) -> dict[str, float]:
        """``{label value: value}`` of a query whose results differ by ``label``."""
        return {labels.get(label, ""): value for labels, value in self.query(expression)}

    def one(self, expression: str) -> float:
        """The value of a query with one result (0 when there is none)."""
        found = self.query(expression)
        assert len(found) <= 1, found
        return found[0][1] if found else 0.0

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextmanager
def running(folder: Path) -> Iterator[Prometheus]:
    server = Prometheus(folder)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
