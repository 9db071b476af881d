"""What the clients talk to: ``target.py`` in a subprocess, a UDP sink for ``--statsd``, and
a real Prometheus for ``--prometheus-rw``."""

from __future__ import annotations

import contextlib
import http.client
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from harness.clients import HERE
from harness.processes import Pinning, cpu_seconds, spawn, stop_tree


class Target:
    """``target.py`` in a subprocess; its count is read on its uncounted control endpoint."""

    def __init__(self, pinning: Pinning) -> None:
        self.proc = spawn(
            [sys.executable, str(HERE / "target.py")],
            pinning,
            pinning.target,
            stdout=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode().strip()
        if not line.isdigit():
            stop_tree(self.proc)
            raise RuntimeError(f"the target did not start (it printed {line!r})")
        self.port = int(line)
        self.url = f"http://127.0.0.1:{self.port}/"
        self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def _get(self, path: str) -> str:
        for attempt in range(2):
            try:
                self._conn.request("GET", path)
                return self._conn.getresponse().read().decode()
            except (OSError, http.client.HTTPException):
                self._conn.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def count(self) -> tuple[int, int]:
        """Requests served so far, and the monotonic ns of the first one since ``arm()``."""
        count, first = self._get("/__count").split()
        return int(count), int(first)

    def arm(self) -> None:
        self._get("/__arm")

    def stall(self, seconds: float) -> None:
        """Make the target hold its responses back for ``seconds`` from now."""
        self._get(f"/__stall?s={seconds:g}")

    def cpu(self) -> float:
        return cpu_seconds([self.proc.pid])

    def close(self) -> None:
        self._conn.close()
        stop_tree(self.proc)


class UdpSink:
    """A local UDP socket for ``--statsd``: drains and counts the datagrams it gets."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.datagrams = 0
        self._stop = False
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while not self._stop:
            with contextlib.suppress(TimeoutError):
                self.sock.recv(65536)
                self.datagrams += 1

    def close(self) -> None:
        self._stop = True
        self._thread.join()
        self.sock.close()


class Prometheus:
    """Debian's ``prometheus`` with its remote-write receiver, on a free port of 127.0.0.1,
    pinned to the target's core (what it spends is not the client's), its data in a temp
    folder."""

    BINARY = "/usr/bin/prometheus"

    def __init__(self, pinning: Pinning) -> None:
        if not Path(self.BINARY).exists():
            raise SystemExit(f"no Prometheus at {self.BINARY} (apt-get install prometheus)")
        self.folder = Path(tempfile.mkdtemp(prefix="molotov-bench-prometheus-"))
        (self.folder / "prometheus.yml").write_text("global:\n  scrape_interval: 1h\n")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{port}"
        self.write_url = f"{self.base}/api/v1/write"
        argv = [
            self.BINARY,
            f"--config.file={self.folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-remote-write-receiver",
        ]
        self.proc = spawn(
            argv, pinning, pinning.target, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.base}/-/ready", timeout=2),
            ):
                return
            time.sleep(0.2)
        self.close()
        raise RuntimeError("Prometheus did not get ready in 60 s")

    def writes(self) -> int:
        """The remote writes it accepted (its own /metrics: it scrapes nothing, itself
        included)."""
        with urllib.request.urlopen(f"{self.base}/metrics", timeout=10) as answer:
            text = answer.read().decode()
        name = 'prometheus_http_requests_total{code="204",handler="/api/v1/write"} '
        rows = [row for row in text.splitlines() if row.startswith(name)]
        return sum(int(float(row[len(name) :])) for row in rows)

    def close(self) -> None:
        stop_tree(self.proc)
        shutil.rmtree(self.folder, ignore_errors=True)
