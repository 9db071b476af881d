"""What a :class:`~molotov.config.runconfig.RunConfig` means in load: arrivals and workers.

The run's arrival rate over time (the open model), its number of active workers over time
(the closed model's stages), and the most workers one process may have. The parent uses them
(the console's target, the descriptor limit) and so do the worker processes (the scheduler,
the stages): plain arithmetic on the configuration, kept below both.
"""

from __future__ import annotations

from molotov.config.runconfig import RunConfig
from molotov.config.shape import LoadShape, local_share


def rate_shape(config: RunConfig) -> LoadShape:
    """The open model's arrival rate over time (per second, for the whole run)."""
    assert config.rate is not None
    return LoadShape(config.rate, config.stages)


def worker_shape(config: RunConfig) -> LoadShape:
    """The closed model's number of active workers over time, for the whole run (every
    process of every agent of a cluster run)."""
    return LoadShape(config.workers * config.process_total, config.stages)


def process_workers(config: RunConfig, process: int = 0) -> int:
    """The most workers process ``process`` can have (process 0's share is the largest):
    the pool's limit in the open model, the stages' peak share, or ``-w``."""
    if config.open_model:
        return config.pool_limit
    if config.stages:
        peak = round(worker_shape(config).peak)
        return local_share(peak, config.process_offset + process, config.process_total)
    return config.workers
