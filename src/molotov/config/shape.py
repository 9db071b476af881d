"""Load shapes: a value that ramps linearly through stages, and the arrival times it implies.

A :class:`LoadShape` is a start value followed by stages (``30s:100,2m:100,30s:0``): each
stage ramps linearly from the previous target to its own over its duration. In the closed
model the value is a number of active workers; in the open model it is an arrival rate, and
the arrivals of the whole run are the instants where the rate's integral crosses 0, 1, 2, ...
(constant spacing), or the points of a Poisson process of that rate (``--arrivals poisson``).

Every process computes the same global schedule from the same start instant and keeps its
own share: with constant spacing, process ``i`` of ``P`` takes arrivals ``i, i+P, i+2P, ...``,
so the merged arrivals of all processes are evenly spaced, not ``P`` bursts.

Only arithmetic lives here: no clock, no event loop.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    """Ramp linearly to ``target`` over ``duration`` seconds."""

    duration: float
    target: float


class LoadShape:
    """A value over time: ``start``, then the stages' linear ramps; constant without stages."""

    def __init__(self, start: float, stages: Sequence[Stage] = ()) -> None:
        self.start = start
        self.stages = tuple(stages)
        # Knots: (time, value, integral up to that time) at each stage boundary.
        self._knots: list[tuple[float, float, float]] = [(0.0, start, 0.0)]
        for stage in self.stages:
            t, v, area = self._knots[-1]
            area += stage.duration * (v + stage.target) / 2
            self._knots.append((t + stage.duration, stage.target, area))

    @property
    def length(self) -> float | None:
        """Seconds until the last stage ends; None when the shape never ends."""
        return self._knots[-1][0] if self.stages else None

    @property
    def peak(self) -> float:
        return max(v for _, v, _ in self._knots)

    def value_at(self, t: float) -> float:
        """The value at ``t`` seconds from the start (the last target after the end)."""
        knots = self._knots
        if t <= 0 or len(knots) == 1:
            return knots[0][1]
        for (t0, v0, _), (t1, v1, _) in itertools.pairwise(knots):
            if t < t1:
                return v0 + (v1 - v0) * (t - t0) / (t1 - t0)
        return knots[-1][1]

    def time_of(self, x: float) -> float | None:
        """The instant the value's integral reaches ``x`` (None if it never does in the shape).

        Where the integral stays flat (a rate of 0), the instant is the end of the flat part:
        nothing arrives while the rate is 0.
        """
        if not self.stages:
            return x / self.start if self.start > 0 else None
        knots = self._knots
        for (t0, v0, a0), (t1, v1, a1) in itertools.pairwise(knots):
            if a1 > x:
                # Solve a0 + v0*tau + (v1 - v0) / (2 D) * tau^2 = x for tau in [0, D].
                need = x - a0
                slope = (v1 - v0) / (t1 - t0)
                root = math.sqrt(max(0.0, v0 * v0 + 2 * slope * need))
                tau = 2 * need / (v0 + root) if v0 + root > 0 else 0.0
                return t0 + min(tau, t1 - t0)
        return None


def arrival_offsets(
    shape: LoadShape,
    process: int,
    processes: int,
    *,
    poisson: bool = False,
    seed: int | None = None,
    total: int | None = None,
) -> Iterator[float]:
    """Seconds from the start of each arrival of process ``process`` (of ``processes``).

    Constant spacing: the run's arrival ``n`` is where the rate's integral reaches ``n``, and
    this process takes every ``processes``-th one from its index. Poisson: this process draws
    its own Poisson process of ``rate / processes`` (their sum is a Poisson process of the
    full rate), seeded by ``seed + process``. ``total`` caps the run's arrivals, split exactly.
    """
    if poisson:
        rng = random.Random(None if seed is None else seed + process)
        quota = None if total is None else total // processes + (process < total % processes)
        x = 0.0
        while quota is None or quota > 0:
            x += rng.expovariate(1.0 / processes)
            t = shape.time_of(x)
            if t is None:
                return
            yield t
            if quota is not None:
                quota -= 1
        return
    n = process
    while total is None or n < total:
        t = shape.time_of(n)
        if t is None:
            return
        yield t
        n += processes


def local_share(total: int, process: int, processes: int) -> int:
    """How many of ``total`` things (numbered ``k``, owned by process ``k % processes``) are
    this process's."""
    return max(0, (total - process + processes - 1) // processes)
