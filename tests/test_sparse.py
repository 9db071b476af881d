"""molotov.stats.series.Sparse: a second's histogram kept sparse, equal to the dense one."""

from __future__ import annotations

import random

import pytest

from molotov.stats.histogram import MAX_US, NBUCKETS, Histogram, bucket_of
from molotov.stats.series import Sparse


def histogram_of(values: list[int]) -> Histogram:
    buckets = [0] * NBUCKETS
    for value in values:
        buckets[bucket_of(value)] += 1
    return Histogram(tuple(buckets), len(values), sum(values), max(values, default=0))


@pytest.mark.parametrize(
    "values",
    [
        lambda rng: [int(rng.lognormvariate(7, 0.3)) for _ in range(500)],  # clustered
        lambda rng: [int(rng.lognormvariate(7, 2.5)) for _ in range(500)],  # spread out
        lambda rng: [0, 1, 255, 256, MAX_US, 3 * MAX_US, *range(100, 140)],  # the edges
    ],
)
def test_a_second_between_two_cumulative_histograms_is_their_difference(values):
    rng = random.Random(15)
    first = values(rng)
    then = histogram_of(first)
    now = histogram_of(first + values(rng))
    assert Sparse.between(now, then).histogram == now.minus(then)
    assert Sparse.of(now).histogram == now
    assert Sparse.between(now, now).count == 0 and not Sparse.between(now, now).pairs


def test_a_histogram_whose_maximum_is_below_its_values_is_still_read_whole():
    """The span of the buckets compared ends at the maximum's, unless that would miss some of
    the histogram's count: then every bucket is compared."""
    now = histogram_of([100, 5000, 90_000])
    understated = Histogram(now.buckets, now.count, now.total_us, 100)
    then = histogram_of([100])
    assert Sparse.between(understated, then).count == 2
    assert dict(Sparse.between(understated, then).items()) == {
        bucket_of(5000): 1,
        bucket_of(90_000): 1,
    }
    assert Sparse.of(understated).items() == Sparse.of(now).items()
