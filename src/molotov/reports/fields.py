"""Reading the fields of a report document, each checked and named when it is wrong.

``moloreport`` reads files that anything may have written or damaged. :class:`Fields` wraps one
JSON object of the document; each getter returns a value of the type and range the report's
schema says, or raises :class:`FieldError` naming the field by its path
(``scenarios.login.durations.max_us``), so a reader is one line per field and a bad file is one
line of error. Ranges are what a run can produce: counters fit the stats bus's int64 words,
durations stay under ten years.
"""

from __future__ import annotations

import json
import math
import reprlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from molotov.stats.histogram import NBUCKETS, Histogram

MAX_COUNT = 2**63 - 1  # the stats bus counts in int64 words
MAX_SECONDS = 10 * 365 * 86400.0  # no run, step or request lasts ten years
MAX_DURATION_US = int(MAX_SECONDS * 1_000_000)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_EPOCH = int(datetime(9999, 12, 31, tzinfo=UTC).timestamp())  # ISO 8601's last year

T = TypeVar("T")


class FieldError(ValueError):
    """A field of a report that is missing, of the wrong type, or impossible."""

    def __init__(self, field: str, why: str) -> None:
        super().__init__(f"field {field!r} {why}")
        self.field = field
        self.why = why


def _got(value: Any) -> str:
    return reprlib.repr(value)


class Fields:
    """One JSON object of a report document, found at ``where`` (a dotted path)."""

    def __init__(self, value: Any, where: str) -> None:
        if not isinstance(value, dict):
            raise FieldError(where, f"must be an object, got {_got(value)}")
        self._object: dict[str, Any] = value
        self.where = where

    def path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def has(self, key: str) -> bool:
        return key in self._object

    def raw(self, key: str) -> Any:
        if key not in self._object:
            raise FieldError(self.path(key), "is missing")
        return self._object[key]

    def names(self) -> list[str]:
        return list(self._object)

    def data(self) -> dict[str, Any]:
        """The object itself (a copy), for free-form fields (``options``): plain JSON only,
        since a merged report writes it again."""
        try:
            json.dumps(self._object, allow_nan=False)
        except ValueError:
            raise FieldError(self.where, "must hold no NaN or Infinity") from None
        return dict(self._object)

    def obj(self, key: str) -> Fields:
        return Fields(self.raw(key), self.path(key))

    def objects(self, key: str) -> list[Fields]:
        """A list of objects, each named ``key[i]``."""
        items = self.raw(key)
        if not isinstance(items, list):
            raise FieldError(self.path(key), f"must be a list, got {_got(items)}")
        return [Fields(item, f"{self.path(key)}[{i}]") for i, item in enumerate(items)]

    def texts(self, key: str) -> list[str]:
        """A list of strings, each named ``key[i]``."""
        items = self.raw(key)
        if not isinstance(items, list):
            raise FieldError(self.path(key), f"must be a list, got {_got(items)}")
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise FieldError(f"{self.path(key)}[{i}]", f"must be a string, got {_got(item)}")
        return list(items)

    def count(self, key: str, low: int = 0, high: int = MAX_COUNT) -> int:
        """A whole number from ``low`` to ``high``."""
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise FieldError(self.path(key), f"must be a whole number, got {_got(value)}")
        if not low <= value <= high:
            raise FieldError(self.path(key), f"must be from {low} to {high}, got {_got(value)}")
        return value

    def number(self, key: str, high: float) -> float:
        """A finite number from 0 to ``high``."""
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise FieldError(self.path(key), f"must be a number, got {_got(value)}")
        if not (math.isfinite(value) and 0 <= value <= high):
            raise FieldError(self.path(key), f"must be from 0 to {high:.15g}, got {_got(value)}")
        return float(value)

    def text(self, key: str) -> str:
        value = self.raw(key)
        if not isinstance(value, str):
            raise FieldError(self.path(key), f"must be a string, got {_got(value)}")
        return value

    def flag(self, key: str) -> bool:
        value = self.raw(key)
        if not isinstance(value, bool):
            raise FieldError(self.path(key), f"must be true or false, got {_got(value)}")
        return value

    def choice(self, key: str, choices: Mapping[str, T]) -> T:
        value = self.text(key)
        if value not in choices:
            raise FieldError(self.path(key), f"must be one of {', '.join(choices)}, got {value!r}")
        return choices[value]

    def time(self, key: str) -> float:
        """Epoch seconds of a UTC ISO 8601 time, from 1970 on."""
        text = self.text(key)
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise FieldError(self.path(key), f"must be an ISO 8601 time, got {text!r}") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        if moment < _EPOCH:
            raise FieldError(self.path(key), f"must be a time from 1970 on, got {text!r}")
        return moment.timestamp()

    def equal(self, key: str, expected: Any) -> None:
        if self.raw(key) != expected:
            raise FieldError(self.path(key), f"must be {_got(expected)}, got {_got(self.raw(key))}")

    def buckets(self, key: str, high: int = MAX_COUNT) -> list[int]:
        """Sparse ``[[index, count], ...]`` pairs as dense counts, each up to ``high`` (also
        when an index repeats: its counts add)."""
        pairs = self.raw(key)
        where = self.path(key)
        if not isinstance(pairs, list):
            raise FieldError(where, f"must be a list of [index, count], got {_got(pairs)}")
        dense = [0] * NBUCKETS
        for i, pair in enumerate(pairs):
            if not (isinstance(pair, list) and len(pair) == 2):
                raise FieldError(f"{where}[{i}]", f"must be [index, count], got {_got(pair)}")
            index, hits = pair
            # The usual pair passes these tests (``type(x) is int`` leaves bools out, as
            # count() does); any other goes through Fields to be named. A long run's report
            # has millions of pairs: a Fields each took most of the time to read it.
            usual = type(index) is int and type(hits) is int
            if not (usual and 0 <= index < NBUCKETS and 0 <= hits <= high):
                item = Fields(dict(zip(("index", "count"), pair, strict=True)), f"{where}[{i}]")
                index = item.count("index", high=NBUCKETS - 1)
                hits = item.count("count", high=high)
            dense[index] += hits
            if dense[index] > high:
                raise FieldError(f"{where}[{i}]", f"brings bucket {index} past {high}")
        return dense

    def durations(self, counted: bool = True, high: int = MAX_COUNT) -> Histogram:
        """This object's ``buckets`` (counts up to ``high``), ``sum_us``, ``max_us`` and
        ``count`` (unless not ``counted``: a series row's count is its buckets' sum)."""
        buckets = self.buckets("buckets", high)
        count = self.count("count") if counted else sum(buckets)
        total = self.count("sum_us")
        largest = self.count("max_us", high=MAX_DURATION_US)
        if sum(buckets) != count:
            raise FieldError(self.path("buckets"), f"add up to {sum(buckets)}, not {count}")
        if total > count * largest:
            raise FieldError(self.path("sum_us"), f"is more than the count times max_us: {total}")
        return Histogram(tuple(buckets), count, total, largest)

    def histogram(self, key: str) -> Histogram:
        """A histogram object (its ``*_ms`` fields are derived: only checked)."""
        data = self.obj(key)
        for name in data.names():
            if name.endswith("_ms"):
                data.number(name, MAX_DURATION_US / 1000)
        return data.durations()
