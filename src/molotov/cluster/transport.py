"""How the coordinator reaches one agent: :class:`AgentTransport`, and its HTTP form.

``call(method, path, body, timeout)`` sends one API call (``path`` is the API's own, e.g.
``/v1/status``), adds the token header, and returns ``(HTTP status, parsed JSON body)``.
Anything that leaves no answer (refused, reset, timed out, not JSON) raises
:class:`AgentUnreachable`. The Kubernetes pod-proxy transport implements the same Protocol.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import aiohttp

from molotov.cluster.protocol import TOKEN_HEADER


class AgentUnreachable(Exception):
    """No answer from agent ``name``: ``reason`` says why in a few words."""

    def __init__(self, name: str, reason: str, refused: bool = False) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason
        self.refused = refused  # nothing listens there (the agent process is gone)


class AgentTransport(Protocol):
    name: str  # how the summary and the live view name the agent (its URL, or a pod name)

    async def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, timeout: float = 5.0
    ) -> tuple[int, Any]: ...

    async def close(self) -> None: ...


class HttpTransport:
    """An agent at a URL (``http://HOST:PORT``), over one shared keep-alive session."""

    def __init__(self, url: str, token: str, session: aiohttp.ClientSession) -> None:
        self.name = url.rstrip("/")
        self._token = token
        self._session = session

    async def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, timeout: float = 5.0
    ) -> tuple[int, Any]:
        try:
            async with self._session.request(
                method,
                self.name + path,
                json=body,
                headers={TOKEN_HEADER: self._token},
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                text = await response.text()
                return response.status, json.loads(text) if text else None
        except TimeoutError:
            raise AgentUnreachable(self.name, f"no answer within {timeout:g}s") from None
        except aiohttp.ClientConnectorError as exc:
            refused = isinstance(exc.os_error, ConnectionRefusedError)
            why = exc.os_error.strerror or str(exc.os_error)
            raise AgentUnreachable(self.name, f"cannot connect ({why})", refused) from None
        except aiohttp.ClientError as exc:
            raise AgentUnreachable(self.name, f"{type(exc).__name__}: {exc}") from None
        except ValueError:
            raise AgentUnreachable(self.name, "answered something that is not JSON") from None

    async def close(self) -> None:
        """The session belongs to the fleet, which closes it."""
