"""Reading the files users hand to molotov, moloslave and moloreport: bounded, then parsed.

Every such file is read through :func:`read_bounded`, which never holds more than its limit
(plus one byte) in memory: ``--config /dev/zero`` or a FIFO that never ends is refused in one
line, :class:`FileTooLarge`, instead of filling the memory. The limits are the sizes of
the largest real files of each kind, with a wide margin:

- a config file (``molotov.json``): :data:`CONFIG_LIMIT`, 4 MiB (real ones are a few KB);
- a JSON report: :data:`REPORT_LIMIT`, 1 GiB (a 24-hour run's report is a few tens of MB:
  its series joins older seconds into wider rows, see :mod:`molotov.stats.series`);
- a HAR recording: :data:`HAR_LIMIT`, 1 GiB (response bodies included, real ones reach
  hundreds of MB);
- an agent token file: :data:`TOKEN_LIMIT`, 64 KiB (one line).

Every way a JSON file can fail to parse is one :class:`JSONFileError` whose text says why
(without the file's name: each caller words its own message). Encodings: JSON is UTF-8
(RFC 8259), but Windows tools write UTF-16 with a byte-order mark (PowerShell's ``>``, Notepad's
"Unicode"), so the text is decoded as :func:`json.loads` does with bytes: UTF-8 with or without
a BOM, UTF-16 and UTF-32 (told apart by their BOM or their zero bytes).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MIB = 1024 * 1024
CONFIG_LIMIT = 4 * MIB
REPORT_LIMIT = 1024 * MIB
HAR_LIMIT = 1024 * MIB
TOKEN_LIMIT = 64 * 1024


class JSONFileError(Exception):
    """The file's bytes are not a JSON document; the message says why in a few words."""


class FileTooLarge(Exception):
    """A file past its limit: the message is the whole line (``FILE is larger than ...``)."""

    def __init__(self, path: str | Path, limit: int, what: str) -> None:
        size = f"{limit // MIB} MiB" if limit >= MIB else f"{limit // 1024} KiB"
        super().__init__(f"{str(path)!r} is larger than {size}: too large for {what}")


def read_bounded(path: str | Path, limit: int, what: str) -> bytes:
    """The bytes of the file at ``path``, or :class:`FileTooLarge` past ``limit`` bytes.

    At most ``limit + 1`` bytes are read, whatever the file is (a device, a FIFO, a file
    still growing): its size as ``stat`` says it is not trusted. ``what`` names the kind of
    file in the message ("a config file"). Opening or reading raises :class:`OSError`, as
    :func:`open` does.
    """
    with open(path, "rb") as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise FileTooLarge(path, limit, what)
    return data


def parse_json(data: bytes) -> Any:
    """The document in ``data``, or a :class:`JSONFileError`."""
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise JSONFileError(f"{exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except UnicodeDecodeError as exc:
        raise JSONFileError(
            f"not {exc.encoding.upper()} text ({exc.reason} at byte {exc.start})"
        ) from None
    except RecursionError:
        raise JSONFileError("nested too deeply") from None
    except ValueError as exc:  # an integer of more digits than Python converts, say
        raise JSONFileError(str(exc).split(";")[0]) from None


def read_json(path: str | Path, limit: int, what: str) -> Any:
    """The JSON document in the file at ``path``, read within ``limit`` bytes.

    Raises :class:`OSError` (``FileNotFoundError``, ...) when the file can't be read,
    :class:`FileTooLarge` past the limit, :class:`JSONFileError` when it is not JSON: each
    caller words these in its own message.
    """
    return parse_json(read_bounded(path, limit, what))
