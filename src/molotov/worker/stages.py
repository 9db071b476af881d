"""When the closed model's workers run steps: the stages' number of active workers.

The closed model with ``--stages``: a :class:`StageController` follows the number of active
workers the stages ask for (:func:`molotov.config.load.worker_shape`), spread over the
processes; the pool's workers above it park between steps until they are wanted again.
"""

from __future__ import annotations

import asyncio

from molotov.config.load import process_workers, worker_shape
from molotov.config.runconfig import RunConfig
from molotov.config.shape import local_share
from molotov.worker.stopflag import StopFlag


class StageController:
    """The closed model's stages: how many of this process's workers are wanted now."""

    def __init__(self, config: RunConfig, index: int, flag: StopFlag) -> None:
        self._config = config
        self._shape = worker_shape(config)
        self._index = index
        self._process = config.process_offset + index  # cluster-wide, as the arrivals
        self._processes = config.process_total
        self._flag = flag
        self.local_target = self.target_at(0.0)
        self._changed = asyncio.Event()

    @property
    def pool_size(self) -> int:
        """Workers this process needs at the stages' peak."""
        return process_workers(self._config, self._index)

    def target_at(self, seconds: float) -> int:
        return local_share(round(self._shape.value_at(seconds)), self._process, self._processes)

    def update(self, seconds: float) -> None:
        """Follow the stages (the monitor calls it a few times a second)."""
        target = self.target_at(seconds)
        if target != self.local_target:
            self.local_target = target
            self.wake()

    def wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(self, wid: int) -> None:
        """Until worker ``wid`` is wanted again, or the run stops."""
        while wid >= self.local_target and not self._flag.stopping:
            await self._changed.wait()
