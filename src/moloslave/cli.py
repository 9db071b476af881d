"""``moloslave``: the name is reserved here; the repository runner lands with its own issue."""

from __future__ import annotations

import sys


def main() -> None:
    sys.stderr.write("moloslave is not part of this release yet; use `molotov` directly.\n")
    sys.exit(2)
