"""The scenario shipped with a run: a file or a directory, as one ConfigMap's data and items.

A directory ships whole (its modules, data files, subdirectories) and runs its
``loadtest.py``.

ConfigMap keys may not hold '/', so every file gets a neutral key (``f0``, ``f1``, ...) and an
``items`` entry puts it back at its relative path under the mount: subdirectories survive.
Text files go in ``data``, others in ``binaryData``. The API server refuses objects over
1 MiB; a shipment over :data:`MAX_BYTES` (what the encoded files weigh) is refused before
anything is created, with the way out: ``--repo``.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from molotov.config.jsonfile import FileTooLarge, read_bounded
from molotov.config.runconfig import DEFAULT_SCENARIO

MAX_BYTES = 900 * 1024
# Never shipped: caches and version-control data the pods do not need.
SKIPPED_DIRS = frozenset({"__pycache__", ".git", ".hg", ".svn", ".tox", ".venv", ".mypy_cache"})
SKIPPED_SUFFIXES = (".pyc", ".pyo")


class ShippingError(Exception):
    """The scenario can't be shipped in a ConfigMap: one line saying why and what to do."""


@dataclass(frozen=True)
class Shipment:
    """A ConfigMap's payload, and where the scenario is under the mount point."""

    scenario: str  # what the agent loads, relative to the mount: the file, or DIR/loadtest.py
    data: dict[str, str] = field(default_factory=dict)
    binary_data: dict[str, str] = field(default_factory=dict)
    items: list[dict[str, str]] = field(default_factory=list)  # [{"key": k, "path": p}]

    @property
    def size(self) -> int:
        text = sum(len(value.encode("utf-8")) for value in self.data.values())
        return text + sum(len(value) for value in self.binary_data.values())


def _files(root: Path) -> list[Path]:
    found: list[Path] = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part in SKIPPED_DIRS for part in relative.parts):
            continue
        if path.is_file() and not path.name.endswith(SKIPPED_SUFFIXES):
            found.append(path)
    return found


def ship(scenario: str | Path, limit: int = MAX_BYTES) -> Shipment:
    """The payload that rebuilds ``scenario`` (a file or a directory) under the mount point."""
    source = Path(scenario)
    if source.is_file():
        files, name = [source], source.name
    elif source.is_dir():
        name = source.resolve().name
        files = _files(source)
        if not (source / DEFAULT_SCENARIO).is_file():
            raise ShippingError(
                f"Can't ship {str(source)!r}: a directory is run by its {DEFAULT_SCENARIO}, "
                "which it does not have"
            )
    else:
        raise ShippingError(
            f"Can't ship {str(source)!r}: no such file or directory (with --repo, SCENARIO is a "
            "path in the repository)"
        )
    entry = name if source.is_file() else f"{name}/{DEFAULT_SCENARIO}"
    shipment = Shipment(scenario=entry)
    for number, path in enumerate(files):
        key = f"f{number}"
        relative = PurePosixPath(name)
        if path != source:  # a file of the directory, at its place under it
            relative = relative / path.relative_to(source).as_posix()
        try:
            content = read_bounded(path, limit, "a ConfigMap")
        except FileTooLarge:
            raise _too_large(source, f"{str(path)!r} alone", limit) from None
        except OSError as exc:
            raise ShippingError(f"Can't ship {str(path)!r}: {exc.strerror}") from None
        try:
            shipment.data[key] = content.decode("utf-8")
        except UnicodeDecodeError:
            shipment.binary_data[key] = base64.b64encode(content).decode("ascii")
        shipment.items.append({"key": key, "path": str(relative)})
        if shipment.size > limit:  # at once: what is read stays within twice the limit
            raise _too_large(source, f"{shipment.size // 1024} KiB", limit)
    return shipment


def _too_large(source: Path, what: str, limit: int) -> ShippingError:
    return ShippingError(
        f"Can't ship {str(source)!r} in a ConfigMap: {what} is over "
        f"{limit // 1024} KiB; put it in a git repository and use --repo URL [--ref REF]"
    )
