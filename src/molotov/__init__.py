"""molotov: load tests written as plain async Python.

This module is the public API that scenario files import, and nothing else.
"""

from molotov._version import __version__
from molotov.api import (
    events,
    get_var,
    global_setup,
    global_teardown,
    scenario,
    scenario_picker,
    set_var,
    setup,
    setup_session,
    teardown,
    teardown_session,
)
from molotov.scope import CheckFailed, check, named


def __getattr__(name: str) -> object:
    # These pull in aiohttp: loaded when a scenario asks for them, not for `molotov --help`.
    if name == "get_context":
        from molotov.worker.session import get_context

        return get_context
    if name in ("request", "json_request"):
        from molotov import sync

        return getattr(sync, name)
    raise AttributeError(f"module 'molotov' has no attribute {name!r}")


__all__ = [
    "CheckFailed",
    "__version__",
    "check",
    "events",
    "get_context",
    "get_var",
    "global_setup",
    "global_teardown",
    "json_request",
    "named",
    "request",
    "scenario",
    "scenario_picker",
    "set_var",
    "setup",
    "setup_session",
    "teardown",
    "teardown_session",
]
