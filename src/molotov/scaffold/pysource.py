"""Python source literals and names made from untrusted text, for the code molostart writes.

Every piece of user data (a URL, a header, a body, a cookie name) reaches generated code
through one of these functions and nothing else: a literal built here evaluates back to
exactly its input, whatever it holds (quotes, backslashes, newlines, braces, NUL bytes, line
separators), and is spelled the way ``ruff format`` (and black) spell it, so that generated
files are formatted as they are written.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass

_NOT_WORD = re.compile(r"[^0-9a-zA-Z]+")
LINE_LENGTH = 88  # ruff's and black's default


def _quote(text: str) -> str:
    """The quote the formatters pick: double, unless single needs fewer escapes."""
    return "'" if text.count('"') > text.count("'") else '"'


def _escape(char: str, quote: str) -> str:
    if char == quote:
        return "\\" + char
    if char in "'\"":
        return char
    # repr() of one character escapes exactly what a string literal must (backslashes,
    # control and non-printable characters, line separators) and keeps the rest readable.
    return repr(char)[1:-1]


def string(text: str) -> str:
    """A ``str`` literal for ``text``."""
    quote = _quote(text)
    return quote + "".join(_escape(char, quote) for char in text) + quote


@dataclass(frozen=True)
class Code:
    """An expression inside an f-string: generated code (a constant's name, ``resp.status``),
    never user data."""

    text: str


def fstring_of(*parts: str | Code) -> str:
    """An f-string that evaluates to ``parts`` joined: text as it is, code by its value."""
    quote = _quote("".join(part for part in parts if isinstance(part, str)))
    body = [
        f"{{{part.text}}}"
        if isinstance(part, Code)
        else "".join(_escape(char, quote) for char in part).replace("{", "{{").replace("}", "}}")
        for part in parts
    ]
    return f"f{quote}{''.join(body)}{quote}"


def fstring(expression: str, text: str) -> str:
    """An f-string that evaluates to the value of ``expression`` followed by ``text``.

    ``expression`` is code (a constant name made by :func:`constant`), never user data.
    """
    return fstring_of(Code(expression), text) if text else expression


def bytes_literal(data: bytes) -> str:
    """A ``bytes`` literal for ``data``."""
    quote = '"' if data.count(b'"') <= data.count(b"'") else "'"
    parts = []
    for value in data:
        char = chr(value)
        if char == quote:
            parts.append("\\" + char)
        elif char in "'\"":
            parts.append(char)
        else:
            parts.append(repr(bytes([value]))[2:-1])
    return "b" + quote + "".join(parts) + quote


def number(value: float) -> str:
    """A float literal rounded to the millisecond: ``0.25``, ``1.0``."""
    return repr(round(value, 3))


def environment_constant(name: str, default: str) -> list[str]:
    """``NAME = os.environ.get("NAME", default)``, as lines that ruff leaves as they are.

    One line when it fits; else exploded with a trailing comma, which ruff keeps exploded
    whatever the length (``ruff format`` would otherwise pick a layout by line length).
    """
    quoted, value = string(name), string(default)
    line = f"{name} = os.environ.get({quoted}, {value})"
    if len(line) <= LINE_LENGTH and line.isascii():
        return [line]
    return [f"{name} = os.environ.get(", f"    {quoted},", f"    {value},", ")"]


def words(text: str) -> list[str]:
    """The ASCII letter and digit runs of ``text``, lowercased."""
    return [word for word in _NOT_WORD.split(text.lower()) if word]


def identifier(text: str, prefix: str) -> str:
    """A snake_case name from the words of ``text`` after ``prefix`` (a valid identifier)."""
    # 40 at most, so that ``async def NAME(session: ClientSession) -> None:`` fits a line.
    name = "_".join([prefix, *words(text)])[:40].rstrip("_")
    return name + "_" if keyword.iskeyword(name) else name


def constant(*parts: str, lead: str = "X") -> str:
    """An UPPER_CASE name (an environment variable's too) from the words of ``parts``.

    ``lead`` goes first when the words would not start the name with a letter.
    """
    name = "_".join(word.upper() for part in parts for word in words(part))
    return name if name[:1].isalpha() else "_".join(filter(None, [lead, name]))


def unique(name: str, taken: set[str]) -> str:
    """``name``, or ``name_2``, ``name_3``... whichever is not in ``taken`` (which gets it)."""
    candidate, count = name, 1
    while candidate in taken:
        count += 1
        candidate = f"{name}_{count}"
    taken.add(candidate)
    return candidate
