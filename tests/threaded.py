"""Running a test server on an event loop of its own, in a thread of the test process."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager


@contextmanager
def serving(server: Callable[[], AbstractAsyncContextManager[None]], what: str) -> Iterator[None]:
    """Enter ``server()`` (an async context manager that starts listening) on a new loop in
    a thread; leave it, and stop the loop, when the ``with`` block ends."""
    ready = threading.Event()
    failed: list[BaseException] = []
    loop: list[asyncio.AbstractEventLoop] = []
    stop: list[asyncio.Event] = []

    async def main() -> None:
        try:
            async with server():
                loop.append(asyncio.get_running_loop())
                stop.append(asyncio.Event())
                ready.set()
                await stop[0].wait()
        except BaseException as exc:
            failed.append(exc)
            ready.set()
            raise

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(10), f"{what} did not start"
    assert not failed, f"{what} did not start: {failed[0]!r}"
    try:
        yield
    finally:
        loop[0].call_soon_threadsafe(stop[0].set)
        thread.join(10)
