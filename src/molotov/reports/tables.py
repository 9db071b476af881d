"""The terminal summary's text tables: names left-aligned, numbers right-aligned in fixed columns.

Shared by the summary's step and time tables (:mod:`.summary`) and its per-request tables
(:mod:`.requesttables`), so every table of the summary lines up the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

NAME_WIDTH = 18
COLUMN_WIDTH = 7  # the narrowest column: 6 characters and a space
CONTINUATION = "  "  # a wrapped name's next lines are indented this much more


def ms(us: float) -> str:
    """Milliseconds, to about three significant digits (the histograms' precision)."""
    value = us / 1000
    if value < 10:
        return f"{value:.2f}"
    return f"{value:.1f}" if value < 1000 else f"{value:.0f}"


def table(
    title: str,
    header: Sequence[str],
    rows: Sequence[tuple[str, Sequence[str]]],
    width: int | None = None,
) -> list[str]:
    """A blank line, the title and header, then the rows: cells never wrap inside a number,
    whatever the width of the terminal or the CI log.

    Without ``width`` the name column is as wide as the longest name. With it, the name column
    shrinks so that a line fits in ``width`` characters (unless the cells alone do not), and a
    longer name goes on over continuation lines below its row's numbers.
    """
    cells_width = 1 + max(len(cell) for cells in (header, *(c for _, c in rows)) for cell in cells)
    column = max(COLUMN_WIDTH, cells_width)
    name_width = max(NAME_WIDTH, len(title) + 1, *(len(name) + 2 for name, _ in rows))
    if width is not None:
        name_width = min(name_width, max(len(title) + 1, width - column * len(header)))

    def line(name: str, cells: Sequence[str]) -> str:
        return (f"{name:<{name_width}}" + "".join(f"{cell:>{column}}" for cell in cells)).rstrip()

    lines = ["", line(title, header)]
    for name, cells in rows:
        first, *more = wrap(name, name_width - 1)
        lines.append(line(first, cells))
        lines += more
    return lines


def wrap(name: str, limit: int) -> list[str]:
    """``name`` in lines of at most ``limit`` characters, its indent kept (and two more spaces
    on the next lines); a line ends after a slash or at a space in its second half, if any."""
    text = name.lstrip(" ")
    indent = name[: len(name) - len(text)]
    lines: list[str] = []
    while True:
        room = max(1, limit - len(indent))
        if len(text) <= room:
            return [*lines, indent + text]
        slash = text.rfind("/", room // 2, room) + 1
        space = text.rfind(" ", room // 2, room + 1)
        cut = max(slash, space) if max(slash, space) > 0 else room
        lines.append(indent + text[:cut].rstrip(" "))
        text = text[cut:].lstrip(" ")
        if not lines[1:]:
            indent += CONTINUATION
