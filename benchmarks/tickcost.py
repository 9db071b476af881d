"""``bench.py --tick-cost``: what the parent's tick costs at 200 scenarios x 300 request names.

The tick is the supervisor's: :class:`~molotov.run.fanout.TickFanout` ``read`` then ``tick``,
on a real bus (``StatsBus.create`` as the supervisor calls it: 2 slots, 200 scenarios, the
default ``--max-request-names``), with the series recorder, the dashboard's feed (a real
dashboard listening on loopback, no browser) and the console: plain, then rich (a live view
on a stream that says it is a terminal). Every histogram is filled through the real
:class:`~molotov.stats.slot.SlotWriter` with ~200 busy buckets, and between two ticks (out of
the measured time) every scenario gets a step and every name a request in each slot: the
worst case, where no block is unchanged since the last tick.

Ticks come every ``--console-update`` (0.2 s, the default) for ``--window`` seconds of wall
clock, so that one tick in five closes a second of the series, as in a run. It prints, per
console, the median tick and its spread, the median of each part (the bus read, the series,
the dashboard, the console: each timed around the real call), and the median of the ticks
that close a second.
"""

from __future__ import annotations

import argparse
import io
import random
import time
from collections.abc import Callable
from typing import Any

from harness.measure import med
from harness.output import machine, print_table
from molotov.config.runconfig import RunConfig
from molotov.live.console import Console, LiveConsole, PlainConsole
from molotov.live.dashboard import Dashboard
from molotov.run.fanout import TickFanout
from molotov.run.handshake import Start
from molotov.stats.bus import StatsBus
from molotov.stats.slot import SlotWriter

SCENARIOS = 200
NAMES = 300
SLOTS = 2
TICK = 0.2  # the supervisor's tick with the default --console-update


class _Terminal(io.StringIO):
    """A stream rich takes for a terminal (so the live view really renders), keeping nothing."""

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return len(text)


class _Timed:
    """Wraps one method of an object: each call's milliseconds, in ``times``."""

    def __init__(self, owner: Any, method: str) -> None:
        self.times: list[float] = []
        self._real: Callable[..., Any] = getattr(owner, method)
        setattr(owner, method, self)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return self._real(*args, **kwargs)
        finally:
            self.times.append((time.perf_counter() - t0) * 1e3)

    def take(self) -> float:
        """This tick's milliseconds (0 when not called), and start the next tick."""
        spent = sum(self.times)
        self.times.clear()
        return spent


class _Traffic:
    """Each slot's writers, as a worker process holds them, and the entries of the names."""

    def __init__(self, bus: StatsBus) -> None:
        self.rng = random.Random(17)
        self.slots: list[tuple[SlotWriter, list[int]]] = []
        for slot in range(SLOTS):
            table = bus.request_writer(slot)
            entries = [table.entry_named(f"GET /api/{i}/items") for i in range(NAMES)]
            self.slots.append((bus.writer(slot), entries))

    def write(self, steps: int, requests: int) -> None:
        """``steps`` steps of every scenario, ``requests`` requests of every name, per slot."""
        rng = self.rng
        for writer, entries in self.slots:
            for scenario in range(SCENARIOS):
                for _ in range(steps):
                    ok = rng.random() > 0.01
                    writer.step_done(scenario, ok, rng.randrange(2_000, 400_000))
            for entry in entries:
                for _ in range(requests):
                    status = 200 if rng.random() > 0.02 else 503
                    writer.request_done(entry, status, rng.randrange(1_000, 200_000))


def run_ticks(console: Console, window: float) -> dict[str, list[float]]:
    """One run of ticks with this console: each part's milliseconds per tick."""
    config = RunConfig(processes=SLOTS)
    names = [f"scenario_{i:03d}" for i in range(SCENARIOS)]
    bus = StatsBus.create(config.processes, names, config.max_request_names)
    dashboard = Dashboard.open(RunConfig(processes=SLOTS, dashboard="127.0.0.1:0"))
    try:
        traffic = _Traffic(bus)
        traffic.write(200, 200)  # ~200 busy buckets in every histogram
        fanout = TickFanout(config, bus, console, None, dashboard)
        now = time.monotonic()
        fanout.begin(Start(now, time.time(), now + window + 60))
        assert fanout._series is not None
        parts = {
            "read": _Timed(fanout, "read"),
            "series": _Timed(fanout._series, "update"),
            "dashboard": _Timed(dashboard, "update"),
            "console": _Timed(console, "update"),
        }
        series = fanout._series
        ticks: list[float] = []
        closing: list[float] = []  # the ticks that close a second of the series
        spent: dict[str, list[float]] = {part: [] for part in parts}
        end = time.monotonic() + window
        while time.monotonic() < end:
            traffic.write(1, 1)
            time.sleep(max(0.0, TICK - (time.monotonic() - now)))
            now = time.monotonic()
            rows = len(series.rows)
            t0 = time.perf_counter()
            snapshot = fanout.read(now)
            fanout.tick(snapshot, now)
            ticks.append((time.perf_counter() - t0) * 1e3)
            if len(series.rows) > rows:
                closing.append(ticks[-1])
            for part, timed in parts.items():
                spent[part].append(timed.take())
        return {"tick": ticks, "closing": closing, **spent}
    finally:
        dashboard.close()
        bus.close()


def _spread(values: list[float]) -> str:
    ordered = sorted(values)
    return f"{ordered[len(ordered) // 10]:.1f}-{ordered[-1 - len(ordered) // 10]:.1f}"


def main(options: argparse.Namespace) -> int:
    print(f"machine: {machine()}")
    print(
        f"bus: -p {SLOTS}, {SCENARIOS} scenarios, {NAMES} request names; a tick every "
        f"{TICK:g} s for {options.window:g} s; every histogram changed between two ticks"
    )
    consoles: list[tuple[str, Callable[[], Console]]] = [
        ("plain", lambda: PlainConsole(stream=io.StringIO())),
        ("rich", lambda: LiveConsole(stream=_Terminal())),
    ]
    rows = []
    for label, make in consoles:
        console = make()
        console.start("bench")
        try:
            times = run_ticks(console, options.window)
        finally:
            console.stop()
        rows.append(
            [
                f"{label} console",
                str(len(times["tick"])),
                f"{med(times['tick']):.1f}",
                _spread(times["tick"]),
                f"{max(times['tick']):.1f}",
                f"{med(times['read']):.1f}",
                f"{med(times['series']):.1f}",
                f"{med(times['dashboard']):.2f}",
                f"{med(times['console']):.1f}",
                f"{med(times['closing']):.1f}" if times["closing"] else "-",
            ]
        )
    print_table(
        [
            "parent's tick, 200 x 300",
            "ticks",
            "median ms",
            "p10-p90",
            "max",
            "read",
            "series",
            "dashboard",
            "console",
            "closing a second",
        ],
        rows,
    )
    return 0
