"""The agent's HTTP API, as names both ends share (see README, "Cluster runs").

Every call but ``GET /v1/ready`` carries the run's token in :data:`TOKEN_HEADER` (a custom
header: the Kubernetes API server's pod proxy strips ``Authorization``). Bodies are JSON.
"""

from __future__ import annotations

import os
from enum import StrEnum

from molotov.config.jsonfile import TOKEN_LIMIT, FileTooLarge, read_bounded

DEFAULT_PORT = 8470
TOKEN_HEADER = "X-Molotov-Token"
TOKEN_ENV = "MOLOTOV_AGENT_TOKEN"
DEFAULT_DEADMAN = 60.0  # seconds without an authenticated call before an agent stops itself
# A start instant must leave the agent this long to pass it to its processes: one closer (or
# past) is refused with 409, so that no agent starts late.
MIN_START_MARGIN = 0.05

READY = "/v1/ready"
STATUS = "/v1/status"
PREPARE = "/v1/prepare"
START = "/v1/start"
SNAPSHOT = "/v1/snapshot"
STOP = "/v1/stop"
REPORT = "/v1/report"
RELEASE = "/v1/release"


class State(StrEnum):
    """An agent's state, in the order a run goes through them (``failed``: setup failed)."""

    IDLE = "idle"
    PREPARING = "preparing"
    HELD = "held"
    RUNNING = "running"
    STOPPING = "stopping"
    FINISHED = "finished"
    FAILED = "failed"


class TokenError(Exception):
    """No usable token (one line, exit 2)."""


def read_token(token_file: str | None) -> str:
    """The shared secret: ``--agent-token-file``, else ``MOLOTOV_AGENT_TOKEN``."""
    if token_file is not None:
        try:
            # Not UTF-8: replaced, and refused below as not printable ASCII.
            data = read_bounded(token_file, TOKEN_LIMIT, "a token file")
            token = data.decode("utf-8", "replace").strip()
        except OSError as exc:
            raise TokenError(f"cannot read the token file {token_file!r}: {exc.strerror}") from None
        except FileTooLarge as exc:
            raise TokenError(str(exc)) from None
        where = f"the token file {token_file!r}"
    else:
        token = os.environ.get(TOKEN_ENV, "").strip()
        where = TOKEN_ENV
    if not token:
        raise TokenError(
            f"no agent token: set {TOKEN_ENV} (the same on the coordinator and every agent) "
            "or give --agent-token-file"
        )
    if not token.isascii() or not token.isprintable():
        raise TokenError(f"the agent token in {where} must be printable ASCII (an HTTP header)")
    return token
