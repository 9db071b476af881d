"""Importing scenario modules and extensions by file path or dotted module name."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
from pathlib import Path
from types import ModuleType


class LoadError(Exception):
    """A module could not be loaded; ``detail`` holds the traceback for ``-v``."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


def _looks_like_path(target: str) -> bool:
    return target.endswith(".py") or "/" in target or "\\" in target


def _import_file(path: Path) -> ModuleType:
    name = path.stem if path.stem.isidentifier() else "loadtest"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"not a Python file: {path}")
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs, as a normal import is, so dataclasses and pickling work.
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def load_module(target: str, what: str = "") -> ModuleType:
    """Import ``target``; a file's folder goes first on ``sys.path`` so its imports work.

    Errors start with Molotov 2.x's ``Cannot import 'X'``, then say why, then ``(what)``.
    """
    head = f"Cannot import {target!r}"
    tail = f" ({what})" if what else ""
    path = Path(target)
    try:
        if path.is_file():
            sys.path.insert(0, str(path.resolve().parent))
            return _import_file(path)
        if _looks_like_path(target):
            raise LoadError(f"{head}: no such file{tail}")
        if "" not in sys.path and str(Path.cwd()) not in sys.path:
            sys.path.insert(0, str(Path.cwd()))
        return importlib.import_module(target)
    except LoadError:
        raise
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (target == missing or target.startswith(missing + ".")):
            raise LoadError(f"{head}: no such module{tail}") from None
        raise LoadError(
            f"{head}: {type(exc).__name__}: {exc}{tail}", traceback.format_exc()
        ) from None
    except Exception as exc:
        raise LoadError(
            f"{head}: it raised {type(exc).__name__}: {exc}{tail}",
            traceback.format_exc(),
        ) from None
