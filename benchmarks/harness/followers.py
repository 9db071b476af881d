"""Idle browsers following a dashboard (``bench.py --ab A B --ab-sse N``): each a thread
reading B's ``/events`` stream, as an open tab does, and throwing it away.

They start before the dashboard listens (the run is starting) and connect as soon as it
does; a stream that ends is opened again, as a browser's EventSource would. Their own CPU is
the benchmark's process, never the measured client's.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time

CONNECT_RETRY = 0.05  # seconds between two tries while the dashboard is not listening yet


class Followers:
    """``count`` readers of ``http://127.0.0.1:PORT/events``, until :meth:`stop`."""

    def __init__(self, port: int, count: int) -> None:
        self.port = port
        self.received = 0  # bytes, all readers together
        self.connected = 0  # streams opened, all readers together
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._connections: set[http.client.HTTPConnection] = set()
        self._threads = [threading.Thread(target=self._follow, daemon=True) for _ in range(count)]
        for thread in self._threads:
            thread.start()

    def _follow(self) -> None:
        while not self._stopped.is_set():
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            with self._lock:
                self._connections.add(connection)
            try:
                connection.request("GET", "/events")
                response = connection.getresponse()
                with self._lock:
                    self.connected += 1
                while chunk := response.read1(65536):
                    with self._lock:
                        self.received += len(chunk)
            except (OSError, http.client.HTTPException):  # not listening yet, or stopped
                time.sleep(CONNECT_RETRY)
            finally:
                with self._lock:
                    self._connections.discard(connection)
                connection.close()

    def stop(self) -> None:
        self._stopped.set()
        with self._lock:
            for connection in self._connections:
                if connection.sock is not None:
                    with contextlib.suppress(OSError):
                        connection.sock.shutdown(socket.SHUT_RDWR)  # the blocked read returns
        for thread in self._threads:
            thread.join(10)
