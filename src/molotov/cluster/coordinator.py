"""The coordinator: ``molotov SCENARIO --agents URL,...`` runs one test on every agent.

It provisions the fleet, checks every agent runs this version and is idle, prepares all in
parallel (each runs ``global_setup``, forks, sets up its first workers, holds), waits until
all hold (``--ready-timeout``), measures each clock offset, sends one start instant to all in
parallel (:mod:`.clock`), then polls every agent's cumulative snapshot once a second
(:mod:`.follow`) for the usual console on the summed numbers, plus a line of agent states
(and, with ``--prometheus-rw``, the same numbers by remote write: the agents never send).
It stops the agents on ``--fail``, ``-x`` or Ctrl-C (they stop at ``-d`` by themselves),
collects their reports, merges them as ``moloreport`` does (:mod:`.merge`), judges the
merge as a local run is judged, writes the reports and releases the fleet.

Ctrl-C: once, stop every agent, collect, merge, report; twice, release the agents now (no
report); three times, exit at once (the agents stop by themselves: their dead-man's switch).
The ``--dashboard`` gets the merged snapshot of each poll, and its Stop button is a Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from molotov._version import __version__
from molotov.cluster import clock, protocol
from molotov.cluster.exitcodes import EXIT_LEFTOVERS, EXIT_NOT_STARTED, EXIT_PARTIAL
from molotov.cluster.fleet import Fleet, FleetError
from molotov.cluster.follow import AgentView, poll_all, states_line
from molotov.cluster.merge import cluster_section, final_report, live_totals
from molotov.cluster.protocol import State
from molotov.cluster.transport import AgentUnreachable
from molotov.cluster.wire import options_to_wire
from molotov.config.load import rate_shape, worker_shape
from molotov.config.runconfig import RunConfig
from molotov.config.shape import LoadShape
from molotov.live.console import Console
from molotov.live.dashboard import Dashboard
from molotov.live.prometheus import RemoteWriter, remote_writer
from molotov.reports import jsonload, jsonreport
from molotov.reports.fields import FieldError
from molotov.reports.jsonmerge import MergeError
from molotov.reports.jsonreport import RunReport
from molotov.reports.thresholds import ThresholdError, parse_thresholds
from molotov.run.conductor import EXIT_FAILED, EXIT_USAGE, conclude, judge, print_summary
from molotov.run.signals import STOP_SIGNALS
from molotov.run.supervisor import RunResult
from molotov.stats.layout import StopReason

POLL_INTERVAL = 1.0
HELD_POLL = 0.2  # seconds between two looks at the agents' states while they prepare
CALL_TIMEOUT = 5.0
REPORT_TIMEOUT = 30.0  # a report can be large (a long run's series)

T = TypeVar("T")


class Aborted(Exception):
    """The run stops before any load: one line per agent that is why."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


class Abandoned(Exception):
    """Ctrl-C twice: release everything now."""


def _err(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


class Interrupts:
    """Ctrl-C (and SIGTERM, SIGHUP) counted: see the module's docstring."""

    def __init__(self, console: Console, cleanup: Callable[[], str] | None = None) -> None:
        self.console = console
        self.cleanup = cleanup  # the fleet's command that deletes what it made, if any
        self.count = 0
        self.stop = asyncio.Event()
        self.abandon = asyncio.Event()

    def handle(self) -> None:
        self.count += 1
        if self.count == 1:
            self.console.print("Stopping every agent (Ctrl-C again: release them at once)")
            self.stop.set()
        elif self.count == 2:
            _err("Releasing every agent now, without a report (Ctrl-C again: exit at once)")
            self.abandon.set()
        else:
            _err("Exiting at once: the agents stop by themselves (--agent-deadman)")
            if self.cleanup is not None:
                _err(f"To delete the run's objects now: {self.cleanup()}")
            os._exit(EXIT_FAILED)


class Coordinator:
    def __init__(
        self,
        config: RunConfig,
        fleet: Fleet,
        ready_timeout: float,
        console: Console,
        dashboard: Dashboard | None = None,
    ) -> None:
        self.config = config
        self.dashboard = dashboard
        self.fleet = fleet
        self.ready_timeout = ready_timeout
        self.console = console
        self.run_id = secrets.token_hex(6)
        self.views: list[AgentView] = []
        self.start_at: float | None = None  # epoch seconds, our clock
        self.prometheus: RemoteWriter | None = None  # sends the merged numbers (--prometheus-rw)
        # A fleet that creates objects (Kubernetes) says how to delete them by hand.
        self.interrupts = Interrupts(console, getattr(fleet, "delete_command", None))

    async def run(self) -> int:
        """The whole cluster run; its exit code."""
        loop = asyncio.get_running_loop()
        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, self.interrupts.handle)
        try:
            code = await self._unless_abandoned(self._run())
        except Aborted as exc:
            self.console.stop()
            for line in exc.lines:
                _err(line)
            code = EXIT_NOT_STARTED
        except Abandoned:
            self.console.stop()
            code = EXIT_FAILED
        finally:
            leftovers = await self.fleet.teardown()
        for line in leftovers:
            _err(f"left behind: {line}")
        return EXIT_LEFTOVERS if leftovers else code

    async def _unless_abandoned(self, work: Awaitable[T]) -> T:
        task = asyncio.ensure_future(work)
        abandon = asyncio.ensure_future(self.interrupts.abandon.wait())
        await asyncio.wait({task, abandon}, return_when=asyncio.FIRST_COMPLETED)
        abandon.cancel()
        if task.done():
            return task.result()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise Abandoned

    async def _run(self) -> int:
        config = self.config
        self.console.start(self._banner())
        deadline = time.monotonic() + self.ready_timeout
        try:
            agents = await self.fleet.provision(self.ready_timeout)
        except FleetError as exc:
            raise Aborted(exc.lines) from None
        self.views = [AgentView(index, agent) for index, agent in enumerate(agents)]
        await self._prepare(deadline)
        await self._start()
        await self._follow()
        reports, partial = await self._collect()
        try:
            merged = final_report(reports, partial, options_to_wire(config), self.start_at or 0.0)
        except MergeError as exc:
            self.console.stop()
            _err(f"cannot merge the agents' reports: {exc}")
            return EXIT_FAILED
        if self.prometheus is not None:
            self.prometheus.close(merged.snapshot)
        return self._conclude(merged)

    def _banner(self) -> str:
        config = self.config
        per_agent = f"{config.processes} process(es) x {config.workers} worker(s) per agent"
        load = f", {config.rate:g}/s arrivals in all" if config.rate else ""
        return f"Molotov cluster run: {config.scenario!r} on {len(self._names())} agent(s)" + (
            f", {per_agent}{load}"
        )

    def _names(self) -> list[str]:
        return [view.name for view in self.views] or list(getattr(self.fleet, "urls", []))

    # -- before any load ------------------------------------------------------------------

    async def _calls(
        self, method: str, path: str, bodies: list[dict[str, Any] | None]
    ) -> list[tuple[int, Any] | AgentUnreachable]:
        """One call to every agent, in parallel; an unreachable one gives its exception."""

        async def one(view: AgentView, body: dict[str, Any] | None) -> Any:
            try:
                return await view.agent.call(method, path, body, timeout=CALL_TIMEOUT)
            except AgentUnreachable as exc:
                return exc

        return list(
            await asyncio.gather(*(one(v, b) for v, b in zip(self.views, bodies, strict=True)))
        )

    def _refusals(self, answers: list[Any], path: str, ok: int) -> list[str]:
        lines = []
        for view, answer in zip(self.views, answers, strict=True):
            if isinstance(answer, AgentUnreachable):
                lines.append(f"agent {view.name}: {answer.reason}")
            elif answer[0] != ok:
                why = answer[1].get("error") if isinstance(answer[1], dict) else None
                lines.append(f"agent {view.name} refused {path}: HTTP {answer[0]}: {why}")
        return lines

    async def _prepare(self, deadline: float) -> None:
        """Every agent idle and of this version, then prepared and held, or Aborted."""
        statuses = await self._calls("GET", protocol.STATUS, [None] * len(self.views))
        problems = self._refusals(statuses, protocol.STATUS, 200)
        for view, answer in zip(self.views, statuses, strict=True):
            if isinstance(answer, tuple) and answer[0] == 200 and isinstance(answer[1], dict):
                version, state = answer[1].get("version"), answer[1].get("state")
                if version != __version__:
                    problems.append(
                        f"agent {view.name} runs molotov {version}, this is {__version__}: "
                        "use one version everywhere"
                    )
                elif state != State.IDLE.value:
                    problems.append(f"agent {view.name} is busy ({state}): it runs one run")
        if problems:
            raise Aborted(problems)
        count = len(self.views)
        options = options_to_wire(self.config)
        bodies: list[dict[str, Any] | None] = [
            {"run_id": self.run_id, "options": options, "index": v.index, "count": count}
            for v in self.views
        ]
        answers = await self._calls("POST", protocol.PREPARE, bodies)
        problems = self._refusals(answers, protocol.PREPARE, 202)
        if problems:
            raise Aborted(problems)
        await self._until_held(deadline)

    async def _until_held(self, deadline: float) -> None:
        while True:
            answers = await self._calls("GET", protocol.STATUS, [None] * len(self.views))
            waiting = []
            for view, answer in zip(self.views, answers, strict=True):
                if isinstance(answer, AgentUnreachable):
                    waiting.append(f"agent {view.name} not ready: {answer.reason}")
                    continue
                body = answer[1] if isinstance(answer[1], dict) else {}
                view.state = State(body.get("state", State.IDLE.value))
                if view.state is State.FAILED:
                    raise Aborted([f"agent {view.name} failed to set up: {body.get('error')}"])
                if view.state is not State.HELD:
                    waiting.append(f"agent {view.name} not ready: still {view.state.value}")
            if not waiting:
                return
            self._stop_from_dashboard()
            if self.interrupts.stop.is_set():
                raise Aborted(["Interrupted before the start: no load was sent"])
            if time.monotonic() >= deadline:
                why = f"after --ready-timeout {self.ready_timeout:g}s"
                raise Aborted([f"{line} {why}" for line in waiting])
            await asyncio.sleep(HELD_POLL)

    async def _start(self) -> None:
        try:
            readings = await clock.measure_all([view.agent for view in self.views])
        except AgentUnreachable as exc:
            raise Aborted([f"agent {exc}: cannot read its clock"]) from None
        for view, reading in zip(self.views, readings, strict=True):
            view.clock = reading
        at = clock.start_instant(readings, time.time())
        bodies: list[dict[str, Any] | None] = [{"at": at + reading.offset} for reading in readings]
        problems = self._refusals(
            await self._calls("POST", protocol.START, bodies), protocol.START, 200
        )
        if problems:
            raise Aborted([*problems, "The run is aborted before any load: no agent starts late"])
        self.start_at = at
        offsets = ", ".join(f"{r.offset * 1000:+.1f}" for r in readings)
        self.console.print(
            f"Starting {len(self.views)} agent(s) at {_iso(at)} (clock offsets in ms: {offsets})"
        )

    # -- the run --------------------------------------------------------------------------

    async def _follow(self) -> None:
        """Poll every agent once a second until every one is done (finished or lost)."""
        config = self.config
        assert self.start_at is not None
        started = time.monotonic() + (self.start_at - time.time())
        length = config.run_length
        target: LoadShape | None = None
        if config.open_model:
            target = rate_shape(config)
        elif config.stages:
            target = worker_shape(config)
        shown, stopping = "", False
        tick = time.monotonic()
        self.prometheus = remote_writer(config, self.console.print, self.run_id)
        if self.prometheus is not None:
            self.prometheus.begin(started)
        if self.dashboard is not None:
            self.dashboard.begin(self.start_at, target)
        while True:
            await poll_all(self.views)
            await self._note_losses()
            totals = live_totals(self.views)
            now = time.monotonic()
            elapsed = max(0.0, now - started)
            self._stop_from_dashboard()
            if self.dashboard is not None:
                self.dashboard.update_totals(totals, time.time())
            if not stopping and self._should_stop(totals.failures):
                stopping = True
                await self._calls("POST", protocol.STOP, [{}] * len(self.views))
            remaining = max(0.0, started + length - now) if length else None
            wanted = target.value_at(elapsed) if target is not None else None
            self.console.update(totals, elapsed, remaining, wanted)
            if self.prometheus is not None and self.prometheus.due(now):
                self.prometheus.push(totals, wanted, now)
            line = states_line(self.views)
            if line != shown:
                shown = line
                self.console.print(line)
            if all(view.done for view in self.views):
                return
            tick += POLL_INTERVAL
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.interrupts.stop.wait(), max(0.0, tick - now))
            if self.interrupts.stop.is_set() and not stopping:
                tick = time.monotonic()  # stop now, not at the next tick

    def _stop_from_dashboard(self) -> None:
        """The dashboard's Stop button is a Ctrl-C."""
        if self.dashboard is not None and self.dashboard.stop_asked(self.console.print):
            self.interrupts.handle()

    def _should_stop(self, failures: int) -> bool:
        config = self.config
        return (
            self.interrupts.stop.is_set()
            or (config.fail is not None and failures >= config.fail)
            or (config.exception and failures > 0)
        )

    async def _note_losses(self) -> None:
        fresh = [view for view in self.views if view.lost and not view.announced]
        if not fresh:
            return
        health = await self.fleet.health()
        for view in fresh:
            if health.get(view.name):
                view.lost += f"; {health[view.name]}"
            view.announced = True
            self.console.print(f"agent {view.name} lost: {view.lost}; the others go on")

    # -- after the run --------------------------------------------------------------------

    async def _collect(self) -> tuple[list[RunReport], list[AgentView]]:
        """The reports of the agents that finished; the others' views (their last numbers)."""

        async def one(view: AgentView) -> RunReport | None:
            if view.lost:
                return None
            try:
                status, doc = await view.agent.call("GET", protocol.REPORT, None, REPORT_TIMEOUT)
                if status != 200:
                    view.lost = f"no report (HTTP {status})"
                    return None
                report = jsonload.from_document(doc)
                view.lost_processes = report.lost_processes
                return report
            except AgentUnreachable as exc:
                view.lost = f"no report ({exc.reason})"
            except FieldError as exc:
                view.lost = f"an impossible report ({exc})"
            return None

        reports = await asyncio.gather(*(one(view) for view in self.views))
        got = [report for report in reports if report is not None]
        return got, [
            view for view, report in zip(self.views, reports, strict=True) if report is None
        ]

    def _conclude(self, merged: RunReport) -> int:
        config = self.config
        result = RunResult(
            snapshot=merged.snapshot,
            elapsed=merged.duration,
            drain=merged.drain,
            stop_reason=StopReason.SIGNAL if self.interrupts.count else StopReason.FINISHED,
            started_at=merged.started_at,
            ended_at=merged.ended_at,
            series=list(merged.series),
        )
        names = [s.name for s in merged.snapshot.scenarios]
        try:
            thresholds = parse_thresholds(config.threshold, names, open_model=config.open_model)
        except ThresholdError as exc:
            self.console.stop()
            _err(str(exc))
            return EXIT_USAGE
        code, problems, verdicts = judge(config, result, thresholds)
        for view in self.views:
            if view.lost:
                problems.append(
                    f"agent {view.name} lost: {view.lost} (its last numbers are counted)"
                )
            problems += [
                f"agent {view.name}: {line} (its numbers until then are counted)"
                for line in view.lost_processes
            ]
        if any(view.lost or view.lost_processes for view in self.views):
            # An agent, or a worker process of one, was lost: wins over 1 and 99, the
            # numbers judged are partial.
            code = EXIT_PARTIAL
        self.console.stop()
        section = cluster_section(self.views, self.start_at)
        if not config.quiet:
            sys.stdout.write(_cluster_line(section) + "\n")
        print_summary(config, result, verdicts)
        doc = None
        files = (config.report, config.html, config.csv) != (None, None, None)
        if files or self.dashboard is not None:
            doc = jsonreport.document(merged, verdicts)
            doc["cluster"] = section
        return conclude(config, doc, code, problems, self.dashboard)


def _cluster_line(section: dict[str, Any]) -> str:
    """The summary's first line: ``Cluster: 3 of 3 agent(s) reported; first steps within
    2.1 ms``, and the worker processes lost in agents that reported."""
    line = f"Cluster: {section['reported']} of {section['asked']} agent(s) reported"
    lost = section["lost_processes"]
    if lost:
        agents = sorted({item["name"] for item in lost})
        line += f", {len(lost)} worker process(es) lost in {', '.join(agents)}"
    spread = section["start_spread_ms"]
    return line + ("" if spread is None else f"; first steps within {spread:.1f} ms")
