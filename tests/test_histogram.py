"""molotov.stats.histogram: log-linear buckets, exact merges, percentiles and formatting."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable

import pytest

from molotov.stats.histogram import (
    MAX_US,
    NBUCKETS,
    Histogram,
    bucket_bounds,
    bucket_of,
    format_percentiles,
    format_us,
    percentiles_us,
)


def histogram_of(values: Iterable[int]) -> Histogram:
    """A histogram built the obvious way, one value at a time."""
    values = list(values)
    buckets = [0] * NBUCKETS
    for value in values:
        buckets[bucket_of(value)] += 1
    return Histogram(tuple(buckets), len(values), sum(values), max(values, default=0))


def exact_percentile(values: list[int], percent: float) -> int:
    """The nearest-rank percentile of the raw data."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * percent // 100))
    return ordered[int(rank) - 1]


def _sample() -> list[int]:
    values = set(range(5001))
    for power in range(27):  # 2**26 < MAX_US < 2**27
        for delta in (-1, 0, 1):
            values.add(2**power + delta)
    for decade in (10_000, 100_000, 1_000_000, 10_000_000):
        values.update(range(decade - 300, decade + 300))
    rng = random.Random(1234)
    values.update(rng.randrange(0, MAX_US) for _ in range(20_000))
    values.update((MAX_US - 1, MAX_US))
    return sorted(v for v in values if 0 <= v <= MAX_US)


SAMPLE = _sample()


# -- buckets ------------------------------------------------------------------------------


def test_every_value_lies_in_the_bounds_of_its_bucket():
    for value in SAMPLE:
        low, high = bucket_bounds(bucket_of(value))
        assert low <= value <= high, (value, low, high)


def test_bucket_indexes_are_monotonic_and_in_range():
    indexes = [bucket_of(v) for v in SAMPLE]
    assert indexes[0] == 0
    for previous, current in itertools.pairwise(indexes):
        assert previous <= current
    assert all(0 <= i < NBUCKETS for i in indexes)


def test_values_below_256_have_a_bucket_each():
    for value in range(256):
        assert bucket_of(value) == value
        assert bucket_bounds(value) == (value, value)


def test_bucket_width_is_at_most_1_128_of_its_values():
    for index in range(256, bucket_of(MAX_US) + 1):
        low, high = bucket_bounds(index)
        width = high - low + 1
        assert low >= 256
        assert width * 128 <= low, (index, low, high)


def test_buckets_tile_the_range_without_gaps():
    # Consecutive buckets are adjacent: each starts right after the previous one ends.
    last = bucket_of(MAX_US)
    for index in range(1, last + 1):
        assert bucket_bounds(index)[0] == bucket_bounds(index - 1)[1] + 1, index
    for index in range(last + 1):
        low, high = bucket_bounds(index)
        assert bucket_of(low) == index
        assert bucket_of(high) == index


def test_large_values_land_in_one_last_bucket():
    last = bucket_of(MAX_US)
    assert last < NBUCKETS
    for value in (MAX_US, MAX_US + 1, 2 * MAX_US, 10**12, 2**62):
        assert bucket_of(value) == last
    assert max(bucket_of(v) for v in SAMPLE) == last
    assert all(bucket_of(v) <= last for v in range(0, MAX_US, 99_991))


@pytest.mark.parametrize("value", [-1, -255, -(10**9)])
def test_negative_values_count_as_zero(value):
    assert bucket_of(value) == 0


# -- percentiles --------------------------------------------------------------------------


def test_empty_histogram():
    empty = Histogram.empty()
    assert empty.count == 0
    assert len(empty.buckets) == NBUCKETS
    assert empty.percentile_us(50) == 0
    assert empty.mean_us == 0.0
    assert histogram_of([]) == empty


def test_percentiles_of_known_small_values():
    histogram = histogram_of(range(1, 101))
    assert histogram.count == 100
    assert histogram.max_us == 100
    assert histogram.mean_us == 50.5
    assert histogram.percentile_us(0) == 1
    assert histogram.percentile_us(1) == 1
    assert histogram.percentile_us(50) == 50
    assert histogram.percentile_us(90) == 90
    assert histogram.percentile_us(95) == 95
    assert histogram.percentile_us(99) == 99
    assert histogram.percentile_us(99.9) == 100
    assert histogram.percentile_us(100) == 100


def test_percentile_rank_boundaries():
    histogram = histogram_of([10, 10, 10, 200])
    assert histogram.percentile_us(75) == 10
    assert histogram.percentile_us(75.1) == 200
    assert histogram.percentile_us(50) == 10


def test_single_value_percentile_is_exact_not_the_bucket_top():
    histogram = histogram_of([1000])
    assert bucket_bounds(bucket_of(1000))[1] > 1000
    for percent in (0, 50, 99, 100):
        assert histogram.percentile_us(percent) == 1000


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_percentiles_match_the_raw_data_to_the_bucket(seed):
    rng = random.Random(seed)
    values = [int(rng.lognormvariate(9, 2)) % MAX_US for _ in range(3000)]
    histogram = histogram_of(values)
    assert histogram.max_us == max(values)
    for percent in (0, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 100):
        exact = exact_percentile(values, percent)
        result = histogram.percentile_us(percent)
        # The top of the exact value's bucket, capped by the largest value seen.
        assert result == min(bucket_bounds(bucket_of(exact))[1], histogram.max_us)
        assert exact <= result <= histogram.max_us
        assert result - exact <= exact / 128


def test_percentiles_never_exceed_the_max():
    rng = random.Random(7)
    for _ in range(50):
        values = [rng.randrange(256, 10_000_000) for _ in range(rng.randrange(1, 20))]
        histogram = histogram_of(values)
        for percent in (50, 90, 99, 100):
            assert histogram.percentile_us(percent) <= max(values)
        assert histogram.percentile_us(100) == max(values)


def test_many_percentiles_of_sparse_buckets_in_one_pass():
    """percentiles_us (reports' sparse buckets) agrees with percentile_us, in any order."""
    rng = random.Random(11)
    values = [int(rng.lognormvariate(8, 2)) % MAX_US for _ in range(2000)]
    histogram = histogram_of(values)
    pairs = [(i, n) for i, n in enumerate(histogram.buckets) if n]
    percents = [99.9, 0, 50, 100, 90, 50, 1, 99.99]
    got = percentiles_us(pairs, histogram.count, histogram.max_us, percents)
    assert got == [histogram.percentile_us(p) for p in percents]
    assert percentiles_us([], 0, 0, [50, 99]) == [0, 0]


# -- merge and minus ----------------------------------------------------------------------


def test_merge_equals_the_histogram_of_all_values():
    rng = random.Random(42)
    first = [rng.randrange(0, 2_000_000) for _ in range(1000)]
    second = [rng.randrange(100, 50_000) for _ in range(700)]
    merged = Histogram.merge([histogram_of(first), histogram_of(second)])
    combined = histogram_of(first + second)
    assert merged == combined
    for percent in (1, 50, 90, 99, 99.9):
        assert merged.percentile_us(percent) == combined.percentile_us(percent)
    assert merged.mean_us == combined.mean_us


def test_merge_of_many_and_of_none():
    parts = [[1, 2, 3], [], [500, 600], [3]]
    merged = Histogram.merge([histogram_of(p) for p in parts])
    assert merged == histogram_of([1, 2, 3, 500, 600, 3])
    assert Histogram.merge([]) == Histogram.empty()
    assert Histogram.merge([Histogram.empty(), Histogram.empty()]) == Histogram.empty()
    single = histogram_of([5, 6])
    assert Histogram.merge([Histogram.empty(), single]) == single


def test_merge_is_order_independent():
    parts = [histogram_of([i * 37 % 5000 for i in range(n, n + 50)]) for n in range(0, 500, 50)]
    assert Histogram.merge(parts) == Histogram.merge(list(reversed(parts)))


def test_minus_gives_what_was_recorded_since():
    earlier_values = [10, 20, 3000, 40_000]
    later_values = [15, 3000, 700]
    earlier = histogram_of(earlier_values)
    now = histogram_of(earlier_values + later_values)
    delta = now.minus(earlier)
    expected = histogram_of(later_values)
    assert delta.buckets == expected.buckets
    assert delta.count == 3
    assert delta.total_us == sum(later_values)
    # The max stays the all-time max: an observed value, and a bound for the interval.
    assert delta.max_us == 40_000
    assert delta.percentile_us(100) == bucket_bounds(bucket_of(3000))[1]
    assert now.minus(now).count == 0
    assert now.minus(Histogram.empty()) == now


def test_percentiles_of_an_interval_never_exceed_the_max_seen():
    earlier = histogram_of([5])
    now = histogram_of([5, 1000])
    # 1000 lies in a bucket whose top is above 1000: the max seen caps it.
    assert bucket_bounds(bucket_of(1000))[1] > 1000
    assert now.minus(earlier).percentile_us(99) == 1000


# -- formatting ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("us", "text"),
    [
        (0, "0us"),
        (850, "850us"),
        (999, "999us"),
        (1000, "1.0ms"),
        (12_300, "12.3ms"),
        (999_000, "999.0ms"),
        (1_000_000, "1.00s"),
        (1_250_000, "1.25s"),
        (90_000_000, "90.00s"),
        (2.4, "2us"),
    ],
)
def test_format_us(us, text):
    assert format_us(us) == text


def test_format_percentiles():
    histogram = histogram_of(range(1, 101))
    assert format_percentiles(histogram) == "p50=50us p95=95us p99=99us"
    assert format_percentiles(histogram, (99.9,)) == "p99.9=100us"
    assert format_percentiles(Histogram.empty(), (50,)) == "p50=0us"
