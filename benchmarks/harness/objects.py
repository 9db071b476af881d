"""The memory that Python objects hold, for the benchmarks that look at the parent's state."""

from __future__ import annotations

import gc
import sys
import types

# Not counted, nor followed: code and the module graph that functions and classes lead to, and
# bound methods (a callback leads to its object: another part of the state than the one asked).
_SHARED = (
    type,
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.CodeType,
    types.MethodType,
)


def deep_size(root: object) -> int:
    """Bytes of every object reachable from ``root`` (``sys.getsizeof``, each object once),
    leaving out classes, modules, functions and bound methods (see ``_SHARED``)."""
    seen: set[int] = set()
    size = 0
    stack = [root]
    while stack:
        item = stack.pop()
        if id(item) in seen or isinstance(item, _SHARED):
            continue
        seen.add(id(item))
        size += sys.getsizeof(item)
        stack.extend(gc.get_referents(item))
    return size
