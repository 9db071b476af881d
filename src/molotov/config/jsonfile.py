"""Parsing the JSON files users hand to molotov, moloslave and moloreport.

Every way such a file can fail to parse is one :class:`JSONFileError` whose text says why
(without the file's name: each caller words its own message). Encodings: JSON is UTF-8
(RFC 8259), but Windows tools write UTF-16 with a byte-order mark (PowerShell's ``>``, Notepad's
"Unicode"), so the text is decoded as :func:`json.loads` does with bytes: UTF-8 with or without
a BOM, UTF-16 and UTF-32 (told apart by their BOM or their zero bytes).
"""

from __future__ import annotations

import json
from typing import Any


class JSONFileError(Exception):
    """The file's bytes are not a JSON document; the message says why in a few words."""


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
