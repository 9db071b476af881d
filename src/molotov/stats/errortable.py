"""The error tables of the stats bus's slots, read by the parent.

A slot's table holds the first occurrence of each (kind, message, scenario, request) its process
met, with a count (the writer is :meth:`molotov.stats.slot.SlotWriter.error`); an entry's text
is written before the slot's ``ERROR_ENTRIES`` counter publishes it, and never changes after.
"""

from __future__ import annotations

from collections.abc import Callable

from molotov.stats.layout import (
    E_COUNT,
    E_KIND,
    E_REQUEST,
    E_SCENARIO,
    E_TB_LEN,
    E_TEXT_LEN,
    ERROR_ENTRIES,
    ERROR_HEADER,
    ERROR_TEXT_BYTES,
    ERROR_WORDS,
    WORD,
)
from molotov.stats.snapshot import ErrorKind, ErrorStat


class ErrorReader:
    """The parent's side of every slot's error table: each entry's texts decoded once."""

    def __init__(self, words: memoryview, raw: memoryview, scenario_names: list[str]) -> None:
        self._words = words
        self._raw = raw
        self._scenario_names = scenario_names
        self._texts: dict[int, tuple[ErrorKind, str, str]] = {}  # entry -> kind, text, traceback

    def read(
        self, tables: list[tuple[int, int, int]], names_of: Callable[[int], list[str]]
    ) -> tuple[ErrorStat, ...]:
        """The errors of ``tables`` ((slot, table's base, published entries) each), summed by
        (kind, message, scenario, request); ``names_of(slot)``: the slot's request names by
        entry number (an entry refers to its request so)."""
        words = self._words
        totals: dict[tuple[ErrorKind, str, str, str], tuple[int, str]] = {}
        for slot, base, published in tables:
            names: list[str] | None = None
            end = base + min(published, ERROR_ENTRIES) * ERROR_WORDS
            for entry in range(base, end, ERROR_WORDS):
                kind, text, traceback = self._texts.get(entry) or self._decode(entry)
                scenario = words[entry + E_SCENARIO]
                request = words[entry + E_REQUEST]
                if request and names is None:
                    names = names_of(slot)
                key = (
                    kind,
                    text,
                    self._scenario_names[scenario - 1]
                    if 0 < scenario <= len(self._scenario_names)
                    else "",
                    names[request - 1] if names and 0 < request <= len(names) else "",
                )
                count, first = totals.get(key, (0, traceback))  # the first slot's traceback
                totals[key] = (count + words[entry + E_COUNT], first)
        return tuple(
            ErrorStat(kind, message, count, traceback, scenario, request)
            for (kind, message, scenario, request), (count, traceback) in totals.items()
        )

    def _decode(self, entry: int) -> tuple[ErrorKind, str, str]:
        words = self._words
        start = (entry + ERROR_HEADER) * WORD
        text = bytes(self._raw[start : start + words[entry + E_TEXT_LEN]])
        start += ERROR_TEXT_BYTES
        traceback = bytes(self._raw[start : start + words[entry + E_TB_LEN]])
        decoded = self._texts[entry] = (
            ErrorKind(words[entry + E_KIND]),
            text.decode("utf-8", "replace"),
            traceback.decode("utf-8", "replace"),
        )
        return decoded
