"""Molotov 2.x's ``molotov.util``, for the scenario files that import from it.

Real 2.x load tests do ``from molotov.util import set_var, get_var`` (Kinto's, Tecken's). This
module re-exports the implementations that ``molotov`` itself uses (:mod:`molotov.api`,
:mod:`molotov.sync`); nothing here is a second copy. It imports aiohttp (through
``request``), which is why ``molotov/__init__.py`` does not import it.

Kept from 2.x, with its names and signatures: ``set_var``, ``get_var``, ``request``,
``json_request``, ``stop``, ``is_stopped``, ``stop_reason`` and ``printable_error``. Left out,
as 2.x's own machinery that no scenario needs: ``expand_options``/``OptionError`` (the config
reader), ``get_timer``/``set_timer``/``now``, ``event_loop`` and ``cancellable_sleep``.
"""

from __future__ import annotations

import sys
import traceback
from types import TracebackType

from molotov.api import get_var, is_stopped, set_var, stop, stop_reason
from molotov.sync import json_request, request


def printable_error(error: BaseException, tb: TracebackType | None = None) -> list[str]:
    """``repr(error)`` then the lines of its traceback (``tb``, else the one being handled)."""
    if tb is None:
        tb = sys.exc_info()[2]
    return [repr(error), *"".join(traceback.format_tb(tb)).splitlines()]


__all__ = [
    "get_var",
    "is_stopped",
    "json_request",
    "printable_error",
    "request",
    "set_var",
    "stop",
    "stop_reason",
]
