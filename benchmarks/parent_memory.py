"""What the parent keeps as a run goes on: its state, part by part, over hours of ticks.

``python benchmarks/parent_memory.py`` writes traffic into a real stats bus from this process
(two slots, ``--names`` request names, a few hundred distinct error messages, checks) and
hands every tick's snapshot to the parent's real fan-out (:class:`TickFanout`: the series
recorder, the StatsD emitter sending to a UDP socket on 127.0.0.1 nobody reads, the rich live
console writing to ``/dev/null``), two ticks a simulated second, for ``--hours`` of simulated
time: the fan-out and the bus are handed clocks that move half a second a tick, nothing waits. Every
``--every`` simulated minutes it prints the memory each part holds (every object reachable
from it, counted once: ``harness.objects.deep_size``) and the process's RSS. (tracemalloc
was tried first: it traces every int of every histogram a tick reads, a thousand times too
slow for hours of ticks.)

Everything but the series is bounded by design (request names by ``--max-request-names``,
errors by the bus's error table, the console's window by 5 s of snapshots): growth elsewhere
is what this looks for. The series grows until its horizons are reached (see
``molotov.stats.series.HORIZONS``, and benchmarks/series_day.py for its size over a day).
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import sys

from harness.objects import deep_size
from harness.processes import rss_bytes
from molotov.config.runconfig import RunConfig
from molotov.live.console import LiveConsole
from molotov.run import fanout
from molotov.run.fanout import TickFanout
from molotov.run.handshake import Start
from molotov.stats import bus as bus_module
from molotov.stats.bus import StatsBus
from molotov.stats.snapshot import ErrorKind

T0 = 1_767_225_600.3
TICK = 0.5  # simulated seconds between two ticks
SCENARIOS = ["browse", "search"]


class Clock:
    """The clocks the fan-out and the bus read (``time.time``, ``time.monotonic``: a snapshot's
    instant, which the console's window of 5 s goes by), moved by the loop."""

    def __init__(self) -> None:
        self.now = T0

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now - T0


def parts(tick_fanout: TickFanout, bus: StatsBus) -> dict[str, object]:
    """The parent's state by part (the series recorder is the fan-out's own)."""
    return {
        "series": tick_fanout._series,  # private: what this measures
        "StatsD": tick_fanout.statsd,
        "console": tick_fanout.console,
        "name watch": tick_fanout.watch,
        "bus reader": bus,
    }


def run(bus: StatsBus, config: RunConfig, args: argparse.Namespace) -> None:
    """The simulated run, tick after tick, its parts' sizes every ``args.every`` minutes."""
    slots = [bus.writer(i) for i in range(2)]
    tables = [bus.request_writer(i) for i in range(2)]
    checks = [bus.check_writer(i) for i in range(2)]
    clock = Clock()
    fanout.time = bus_module.time = clock  # type: ignore[assignment]  # simulated time
    with open(os.devnull, "w") as devnull:
        console = LiveConsole(stream=devnull)
        console.start("parent memory")
        tick_fanout = TickFanout(config, bus, console, None)
        tick_fanout.begin(Start(monotonic=0.0, wall=T0, deadline=None))
        rng = random.Random(1)
        names = [f"GET /api/v1/endpoint-{i}/{{id}}" for i in range(args.names)]
        ticks = int(args.hours * 3600 / TICK)
        every = int(args.every * 60 / TICK)
        print("  hour  " + "".join(f"{name:>12}" for name in parts(tick_fanout, bus)) + "  RSS MiB")
        for tick in range(1, ticks + 1):
            for slot, table, check in zip(slots, tables, checks, strict=True):
                for _ in range(args.requests):
                    name = rng.choice(names)
                    entry = table.entry_named(name, "api.test")
                    status = 200 if rng.random() < 0.97 else rng.choice((404, 500, 503))
                    slot.request_done(entry, status, int(rng.lognormvariate(8.0, 0.6)))
                    duration = int(rng.lognormvariate(8.5, 0.6))
                    slot.step_done(rng.randrange(2), status == 200, duration)
                    check.record("status is 200", table.index_of(entry), status == 200)
                    if status >= 500:
                        message = f"answered {status} (ticket {rng.randrange(400)})"
                        where = table.index_of(entry)
                        slot.error(ErrorKind.SCENARIO, message, scenario=0, request=where)
            clock.now = T0 + tick * TICK
            snapshot = tick_fanout.read(tick * TICK)
            tick_fanout.tick(snapshot, tick * TICK)
            if tick % every == 0:
                sizes = [deep_size(part) / 2**20 for part in parts(tick_fanout, bus).values()]
                rss = rss_bytes(os.getpid()) / 2**20
                line = "".join(f"{size:12.2f}" for size in sizes)
                print(f"  {tick * TICK / 3600:4.2f}  {line}  {rss:7.1f}", flush=True)
        console.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=4.0, help="simulated hours of ticks")
    parser.add_argument("--every", type=float, default=30.0, help="simulated minutes per line")
    parser.add_argument("--names", type=int, default=40, help="request names in the traffic")
    parser.add_argument("--requests", type=int, default=200, help="requests per tick and slot")
    args = parser.parse_args()
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    port = sink.getsockname()[1]
    config = RunConfig(
        scenario="loadtest.py",
        statsd=True,
        statsd_address=f"udp://127.0.0.1:{port}",
        console_update=1.0,
        statsd_interval=10.0,
    )
    bus = StatsBus.create(2, SCENARIOS, config.max_request_names)
    try:
        run(bus, config, args)
    finally:
        bus.close()
        sink.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
