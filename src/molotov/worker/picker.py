"""The choice of each step's scenario: a ``@scenario_picker``, ``-s``, or the weights.

A worker builds its own :class:`Picker` when its steps start (the closed model's
``--single-run`` walks the scenarios in order instead); :meth:`Picker.pick` runs once per step,
so the weights are summed once, into a cumulative table that a bisection reads.
"""

from __future__ import annotations

import bisect
import random

from molotov.api import Registry, Scenario
from molotov.config.runconfig import RunConfig


class Picker:
    """Chooses each step's scenario: a ``@scenario_picker``, ``-s``, or the weights."""

    def __init__(self, registry: Registry, config: RunConfig, rng: random.Random) -> None:
        self._by_name = registry.scenarios
        self._picker = registry.fixture("scenario_picker")
        self._scenarios = registry.sorted_scenarios()
        self._single = registry.scenarios[config.single_mode] if config.single_mode else None
        self._random = rng.random
        cumulative: list[float] = []
        total = 0.0
        for item in self._scenarios:
            total += item.weight
            cumulative.append(total)
        self._cumulative = cumulative
        self._total = total

    def pick(self, worker_id: int, step: int) -> Scenario:
        if self._picker is not None:
            name = self._picker(worker_id, step)
            try:
                return self._by_name[name]
            except KeyError:
                raise LookupError(f"scenario_picker returned unknown scenario {name!r}") from None
        if self._single is not None:
            return self._single
        if len(self._scenarios) == 1:
            return self._scenarios[0]
        index = bisect.bisect_right(self._cumulative, self._random() * self._total)
        return self._scenarios[min(index, len(self._scenarios) - 1)]
