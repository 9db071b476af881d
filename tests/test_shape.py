"""Load shapes and arrival times: the arithmetic behind ``--rate`` and ``--stages``."""

from __future__ import annotations

import itertools
import statistics

import pytest

from molotov.config.load import process_workers
from molotov.config.parsers import parse_rate, parse_stages
from molotov.config.runconfig import RunConfig
from molotov.config.shape import LoadShape, Stage, arrival_offsets, local_share


@pytest.mark.parametrize(
    ("text", "per_second"),
    [("100", 100.0), ("100/s", 100.0), ("6000/m", 100.0), ("6000/min", 100.0), ("36/h", 0.01),
     ("2.5", 2.5), (" 10 / s ", 10.0), (0, 0.0), (7, 7.0)],
)  # fmt: skip
def test_rates(text, per_second):
    assert parse_rate(text) == pytest.approx(per_second)


@pytest.mark.parametrize("text", ["", "x", "-1", "1/d", "inf", "nan", "1e9", "10/s/s", True])
def test_bad_rates(text):
    with pytest.raises(ValueError, match="not a rate"):
        parse_rate(text)


def test_stages_from_text_and_json():
    text, as_rate = parse_stages("30s:100,2m:100,30s:0")
    assert text == (Stage(30, 100), Stage(120, 100), Stage(30, 0))
    assert not as_rate
    listed, as_rate = parse_stages(
        [{"duration": "30s", "target": "100/s"}, {"duration": 60, "target": 0}]
    )
    assert listed == (Stage(30, 100), Stage(60, 0))
    assert as_rate


@pytest.mark.parametrize(
    "stages",
    ["", "30s", "30s:", ":5", "x:5", "0s:5", "5s:x", "5s:-1", [{"duration": "5s"}], [5], {}],
)
def test_bad_stages(stages):
    with pytest.raises(ValueError):
        parse_stages(stages)


def test_a_constant_shape():
    shape = LoadShape(10.0)
    assert shape.length is None
    assert shape.value_at(123.0) == 10.0
    assert shape.time_of(0) == 0.0
    assert shape.time_of(25) == 2.5


def test_ramps_between_targets():
    shape = LoadShape(0.0, (Stage(10, 100), Stage(10, 100), Stage(10, 0)))
    assert shape.length == 30
    assert shape.peak == 100
    assert [shape.value_at(t) for t in (0, 5, 10, 15, 25, 30, 99)] == [0, 50, 100, 100, 50, 0, 0]
    # The integral: 500 during the ramp up, 1000 more at 100/s, 500 more down to 0.
    assert shape.time_of(500 - 1e-9) == pytest.approx(10.0)
    assert shape.time_of(1000) == pytest.approx(15.0)
    assert shape.time_of(1999.999) == pytest.approx(30 - (0.001 / 5) ** 0.5)
    assert shape.time_of(2000) is None
    # Inverting the ramp up: the area under 0 -> 100 over 10 s is 5 t^2.
    assert shape.time_of(125) == pytest.approx(5.0)


def test_nothing_arrives_while_the_rate_is_zero():
    shape = LoadShape(0.0, (Stage(5, 0), Stage(5, 10)))
    assert shape.time_of(0) == pytest.approx(5.0)
    assert shape.time_of(25 - 1e-9) == pytest.approx(10.0)


def test_constant_arrivals_of_the_processes_interleave_evenly():
    shape = LoadShape(100.0, (Stage(1, 100),))
    parts = [list(arrival_offsets(shape, p, 3)) for p in range(3)]
    assert [len(p) for p in parts] == [34, 33, 33]
    merged = sorted(itertools.chain(*parts))
    assert merged == pytest.approx([n / 100 for n in range(100)])
    # Process p's arrivals are p/100 s after process 0's: phase offsets, not 3 bursts.
    assert parts[1][0] - parts[0][0] == pytest.approx(0.01)


def test_a_total_is_split_exactly():
    shape = LoadShape(1000.0)
    for poisson in (False, True):
        counts = [
            len(list(arrival_offsets(shape, p, 4, poisson=poisson, seed=1, total=10)))
            for p in range(4)
        ]
        assert sum(counts) == 10
        assert max(counts) - min(counts) <= 1


def test_poisson_arrivals_have_the_mean_rate_and_a_seed():
    shape = LoadShape(200.0, (Stage(50, 200),))
    one = list(arrival_offsets(shape, 0, 1, poisson=True, seed=7))
    assert one == list(arrival_offsets(shape, 0, 1, poisson=True, seed=7))
    assert one != list(arrival_offsets(shape, 0, 1, poisson=True, seed=8))
    assert len(one) == pytest.approx(10_000, rel=0.05)
    gaps = [b - a for a, b in itertools.pairwise(one)]
    # Exponential gaps: the standard deviation equals the mean (constant spacing: 0).
    assert statistics.mean(gaps) == pytest.approx(0.005, rel=0.05)
    assert statistics.stdev(gaps) == pytest.approx(0.005, rel=0.1)


@pytest.mark.parametrize(("total", "expected"), [(0, [0, 0, 0]), (1, [1, 0, 0]), (5, [2, 2, 1])])
def test_local_share(total, expected):
    assert [local_share(total, p, 3) for p in range(3)] == expected


def test_run_length_and_arrival_total():
    stages = (Stage(10, 5), Stage(20, 5))
    assert RunConfig(stages=stages).run_length == 30
    assert RunConfig(stages=stages, duration=12).run_length == 12
    assert RunConfig(duration=12).run_length == 12
    assert RunConfig().run_length is None
    assert RunConfig(rate=10, max_runs=3, workers=2, processes=2).arrival_total == 12
    assert RunConfig(rate=10, iterations=7).arrival_total == 7


def test_the_workers_a_process_may_need():
    # What the descriptor check counts: -w, the open model's pool limit, the stages' peak.
    assert process_workers(RunConfig(workers=7)) == 7
    assert process_workers(RunConfig(workers=2, rate=10, max_workers=50)) == 50
    staged = RunConfig(processes=3, stages=(Stage(1, 10), Stage(1, 0)))
    assert [process_workers(staged, p) for p in range(3)] == [4, 3, 3]
