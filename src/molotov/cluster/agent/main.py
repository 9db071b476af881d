"""``molotov --agent --listen HOST:PORT SCENARIO``: load the scenario, serve the API, run once.

The process loads its scenario at start (a failure: one line, exit 6), serves the API in a
thread (:mod:`.server`) and waits in its main thread for ``prepare``. It then runs the run as
a local one would (``global_setup`` with ``args.agent_index``/``args.agent_count``, the
processes forked by the supervisor) but *held*: its :class:`~.state.AgentState` is the
supervisor's start gate, so the processes set up their first workers (both models) and wait
for the start instant the coordinator sends. After the run it keeps the report for
``GET /v1/report`` until released (or silent for the dead-man's time), then prints the report
as the last line of stdout, for ``kubectl logs | tail -1 | moloreport``, and exits.
"""

from __future__ import annotations

import signal
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from molotov.cluster.agent.server import AgentServer
from molotov.cluster.agent.state import AgentState, Prepare
from molotov.cluster.exitcodes import AGENT_EXIT_SETUP
from molotov.cluster.protocol import DEFAULT_PORT
from molotov.cluster.wire import config_from_wire
from molotov.config.errors import ConfigError
from molotov.config.load import process_workers
from molotov.config.runconfig import RunConfig
from molotov.live.console import Console
from molotov.reports import jsonreport
from molotov.run.conductor import global_fixtures, load_registry, report_of
from molotov.run.errors import RunError
from molotov.run.limits import raise_descriptor_limit
from molotov.run.signals import STOP_SIGNALS, Holder, start_resource_tracker
from molotov.run.supervisor import Runner
from molotov.stats.layout import StopReason


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[::1]:PORT`` or ``HOST`` (port 8470); ValueError if not one."""
    host, port = text, str(DEFAULT_PORT)
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            port = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, port = text.split(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--listen {text!r}: use HOST:PORT (e.g. 0.0.0.0:{DEFAULT_PORT})")
    return host, int(port)


def _err(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


class NoticeConsole(Console):
    """An agent's console: no live view (its numbers go to the coordinator), but the run's
    own lines (a worker process that died, StatsD unreachable, steps cancelled after the
    stop) on its stream (stderr), where its logs are read."""

    def print(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


def serve(base: RunConfig, listen: tuple[str, int], token: str, deadman: float) -> int:
    """The agent process; its exit code (0, or 6 when the scenario or the options are bad)."""
    try:
        registry, _ = load_registry(base)
    except RunError as exc:
        _err(str(exc))
        if base.verbose and exc.detail:
            _err(exc.detail.rstrip())
        return AGENT_EXIT_SETUP
    state = AgentState(deadman)
    server = AgentServer(state, token, *listen)
    try:
        url = server.start()
    except OSError as exc:
        _err(f"--listen {listen[0]}:{listen[1]}: cannot listen there ({exc.strerror or exc})")
        return AGENT_EXIT_SETUP
    _err(f"molotov agent listening on {url}")
    # The API thread only ever holds its own locks while the run forks its processes, and the
    # children never use them: the fork is safe, and Python's warning about it is noise here.
    warnings.filterwarnings("ignore", message=".*fork.*", category=DeprecationWarning)
    code = 0
    report: dict[str, Any] | None = None
    try:
        prepared = state.next_run()
        if prepared is not None:
            report, code = _run(base, registry, state, prepared)
            # A finished agent waits to be released, at most the dead-man's time; a stop
            # signal (its pod deleted, its Job's deadline) ends the wait: the report now.
            with _released_by_signals(state):
                state.wait_release(deadman)
    except KeyboardInterrupt:
        _err("Interrupted")
    finally:
        server.stop()
    if state.deadman_fired:
        _err(f"no call from the coordinator for {deadman:g}s (--agent-deadman): stopped")
    if report is not None:
        # The very last line of stdout, as `molotov --report -` prints it.
        sys.stdout.write(jsonreport.dumps_line(report) + "\n")
        sys.stdout.flush()
    return code


@contextmanager
def _released_by_signals(state: AgentState) -> Iterator[None]:
    """While in the block, a stop signal releases the agent (as the coordinator would).

    The handler runs in the main thread, which may hold the state's lock right then (between
    two slices of its wait): the release takes the lock in a thread of its own."""

    def release(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=state.release, daemon=True).start()

    previous = {sig: signal.signal(sig, release) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run(
    base: RunConfig, registry: Any, state: AgentState, prepared: Prepare
) -> tuple[dict[str, Any] | None, int]:
    """The prepared run, held by ``state`` until its start: (its report document, exit code)."""
    held = Holder()
    try:
        config = config_from_wire(prepared.options, base).replace(
            agent_index=prepared.index, agent_count=prepared.count, cluster_agent=True
        )
        config.check()
        with global_fixtures(config, registry) as results:
            notice = raise_descriptor_limit(process_workers(config))
            if notice:
                _err(notice)
            start_resource_tracker()
            held.hold()
            console = NoticeConsole(config.verbose, sys.stderr)
            result = Runner(config, registry, console, state).run()
            results.append(result)
    except (ConfigError, RunError) as exc:
        _err(str(exc))
        state.finish(None, str(exc))
        return None, AGENT_EXIT_SETUP
    finally:
        held.release()
    report = jsonreport.document(report_of(config, result))
    state.finish(report)
    if result.stop_reason is StopReason.SIGNAL and not state.stop_requested:
        # Stopped by a signal of its own (a pod deleted sends SIGTERM, then SIGKILL after its
        # grace period): no waiting for a coordinator, the report goes to the log at once.
        state.release()
    return report, 0
