"""Log-linear latency histograms (HDR-style), in whole microseconds.

Values below 256 µs have a bucket each; above, every power of two is split into 128 equal
buckets, so a bucket is never wider than 1/128 (< 0.8 %) of its values: about two significant
digits from 1 µs up to :data:`MAX_US` (100 s; larger values land in the last bucket). Buckets
are plain int64 counters, so histograms of many processes merge exactly by adding them.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import compress

_LINEAR = 256  # one bucket per microsecond below this
_SUB_BITS = 7  # 2**7 = 128 buckets per power of two above it
MAX_US = 100_000_000
NBUCKETS = ((MAX_US.bit_length() - 8) << _SUB_BITS) + _LINEAR
_PAIRWISE = 4  # merge up to this many histograms by adding pairs (see Histogram.merge)


def bucket_of(us: int) -> int:
    """The bucket index of a value in microseconds (negative counts as 0, large as the last)."""
    if us < _LINEAR:
        return us if us > 0 else 0
    if us >= MAX_US:  # noqa: PLR1730 - a comparison is cheaper than min() on the hot path
        us = MAX_US
    shift = us.bit_length() - 8
    return (shift << _SUB_BITS) + (us >> shift)


def bucket_bounds(index: int) -> tuple[int, int]:
    """The smallest and largest value (µs, inclusive) that fall in bucket ``index``."""
    if index < _LINEAR:
        return index, index
    shift = (index >> _SUB_BITS) - 1
    mantissa = index - (shift << _SUB_BITS)
    return mantissa << shift, ((mantissa + 1) << shift) - 1


@dataclass(frozen=True)
class Histogram:
    """An immutable histogram: bucket counts plus the exact count, sum and maximum."""

    buckets: tuple[int, ...]
    count: int
    total_us: int
    max_us: int

    @classmethod
    def empty(cls) -> Histogram:
        return _EMPTY

    @classmethod
    def merge(cls, histograms: Sequence[Histogram]) -> Histogram:
        live = [h for h in histograms if h.count]
        if not live:
            return cls.empty()
        if len(live) == 1:
            return live[0]
        if len(live) <= _PAIRWISE:
            # map(operator.add) runs in C: 3x faster than summing zipped tuples for a few.
            buckets = live[0].buckets
            for other in live[1:]:
                buckets = tuple(map(operator.add, buckets, other.buckets))
        else:
            buckets = tuple(map(sum, zip(*(h.buckets for h in live), strict=True)))
        return cls(
            buckets,
            sum(h.count for h in live),
            sum(h.total_us for h in live),
            max(h.max_us for h in live),
        )

    def minus(self, earlier: Histogram) -> Histogram:
        """What was recorded since ``earlier``.

        Its max stays this histogram's max: a value observed, and a bound of the interval's,
        so the interval's percentiles never exceed a value that was really seen.
        """
        return Histogram(
            tuple(map(operator.sub, self.buckets, earlier.buckets)),
            self.count - earlier.count,
            self.total_us - earlier.total_us,
            self.max_us,
        )

    @property
    def min_us(self) -> int:
        """The bottom of the lowest non-empty bucket: the smallest value, within 1/128."""
        for index, hits in enumerate(self.buckets):
            if hits:
                return bucket_bounds(index)[0]
        return 0

    @property
    def mean_us(self) -> float:
        return self.total_us / self.count if self.count else 0.0

    def percentile_us(self, percent: float) -> int:
        """The value at ``percent`` (0-100): the top of its bucket, never above the max seen."""
        return self.percentiles_us((percent,))[0]

    def percentiles_us(self, percents: Sequence[float]) -> list[int]:
        """The values at ``percents`` in one pass (see :func:`percentiles_us`)."""
        buckets = self.buckets
        # compress() and filter() find the non-empty buckets in C: a live console asks for a
        # few histograms' percentiles at every redraw, each of 2,688 buckets.
        pairs = zip(compress(range(NBUCKETS), buckets), filter(None, buckets), strict=True)
        return percentiles_us(pairs, self.count, self.max_us, percents)


_EMPTY = Histogram((0,) * NBUCKETS, 0, 0, 0)  # immutable: one serves every empty histogram


def percentiles_us(
    pairs: Iterable[Sequence[int]], count: int, max_us: int, percents: Sequence[float]
) -> list[int]:
    """The values at ``percents`` (each 0-100) of a histogram given as sparse buckets.

    ``pairs`` are ``(bucket index, count)`` in increasing index order, as reports store them
    (``count`` is their total);
    one pass answers every percentile, so long series stay cheap. A value is the top of its
    bucket, never above ``max_us``; an empty histogram gives 0.
    """
    if not count:
        return [0] * len(percents)
    # rank: ceil(count * percent / 100), and at least the first value
    ranks = sorted((max(1, -(-count * p // 100)), i) for i, p in enumerate(percents))
    values = [max_us] * len(percents)
    seen = 0
    pending = iter(ranks)
    rank, slot = next(pending)
    for index, hits in pairs:
        seen += hits
        while seen >= rank:
            values[slot] = min(bucket_bounds(index)[1], max_us)
            step = next(pending, None)
            if step is None:
                return values
            rank, slot = step
    return values


def format_us(us: float) -> str:
    """A duration with a unit a human reads at a glance: ``850us``, ``12.3ms``, ``1.25s``."""
    if us < 1000:
        return f"{us:.0f}us"
    if us < 1_000_000:
        return f"{us / 1000:.1f}ms"
    return f"{us / 1_000_000:.2f}s"


def format_percentiles(histogram: Histogram, percents: Sequence[float] = (50, 95, 99)) -> str:
    """``p50=12.3ms p95=20.1ms p99=31.0ms`` for the given percentiles."""
    values = histogram.percentiles_us(percents)
    return " ".join(f"p{p:g}={format_us(v)}" for p, v in zip(percents, values, strict=True))
