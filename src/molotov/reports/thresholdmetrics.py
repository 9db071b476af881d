"""The metrics a ``--threshold`` names: which subject takes each, and what unit its value has.

A threshold judges one of three subjects: the run, one scenario (``SCENARIO:``, step metrics
only) or one request name (``[NAME]:``). Besides the fixed names below, the status metrics are
a family: ``status_NNN`` (one status code), ``status_1xx`` … ``status_5xx`` and
``status_other`` (a class), each a count, or a share of requests with ``_rate``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from molotov.stats.snapshot import STATUS_CLASSES

PERCENTILES = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "p99.9": 99.9}
DURATION_METRICS = (*PERCENTILES, "max", "mean")
HTTP_METRICS = tuple(f"http_{name}" for name in DURATION_METRICS)
RESPONSE_METRICS = tuple(f"response_{name}" for name in DURATION_METRICS)
STATUS_METRICS = tuple(f"status_{name}" for name in STATUS_CLASSES)
RATE_METRICS = ("failure_rate", "http_failure_rate", "checks")
COUNT_METRICS = ("failures", "errors", "dropped", "requests")
TIME_METRICS = (*DURATION_METRICS, *HTTP_METRICS, *RESPONSE_METRICS)

# What a scenario takes (its steps); the run takes these too, over every scenario.
STEP_METRICS = (*DURATION_METRICS, *RESPONSE_METRICS, "failure_rate", "rps", "failures")
RUN_WIDE = (
    *HTTP_METRICS,
    "http_rps",
    "errors",
    "dropped",
    "requests",
    "checks",
    *STATUS_METRICS,
    "http_failure_rate",
)
# What a request name takes: its latency, its HTTP failures, its counts (and status metrics).
REQUEST_METRICS = (*DURATION_METRICS, "failure_rate", "failures", "errors", "requests", "rps")
METRICS = (*STEP_METRICS, *RUN_WIDE)  # every fixed name; the status family besides
STATUS_FAMILY = "status_NNN (a status code), status_Nxx, status_other, each also with _rate"

_STATUS = re.compile(r"status_(?P<what>[1-5]xx|other|[1-9][0-9][0-9])(?P<rate>_rate)?")
_OTHER_LOW, _OTHER_HIGH = 100, 599  # a status outside counts in the class "other"


class Subject(Enum):
    """What a threshold judges."""

    RUN = "the run"
    SCENARIO = "a scenario"
    REQUEST = "a request"


@dataclass(frozen=True)
class StatusMetric:
    """``status_503``, ``status_5xx``, ``status_other_rate``, ...: which responses, and
    whether as a count or a share of requests."""

    what: str  # "503", "5xx" or "other"
    rate: bool

    def counts(self, code: int) -> bool:
        """Whether a response with ``code`` is one of these."""
        if self.what == "other":
            return not _OTHER_LOW <= code <= _OTHER_HIGH
        if self.what.endswith("xx"):
            return code // 100 == int(self.what[0])
        return code == int(self.what)

    @property
    def is_class(self) -> bool:
        return not self.what.isdigit()


def status_metric(metric: str) -> StatusMetric | None:
    """The status metric ``metric`` names, or None if it is not one."""
    match = _STATUS.fullmatch(metric)
    if match is None:
        return None
    return StatusMetric(match["what"], match["rate"] is not None)


def takes(subject: Subject, metric: str) -> bool:
    """Whether ``subject`` has ``metric``."""
    if subject is Subject.SCENARIO:
        return metric in STEP_METRICS
    if status_metric(metric) is not None:
        return True
    if subject is Subject.REQUEST:
        return metric in REQUEST_METRICS
    return metric in METRICS


def is_known(metric: str) -> bool:
    return metric in METRICS or status_metric(metric) is not None


def is_rate(metric: str) -> bool:
    """A share: its value is a percent (``1%``), observed as a fraction."""
    status = status_metric(metric)
    return metric in RATE_METRICS or (status is not None and status.rate)


def is_count(metric: str) -> bool:
    status = status_metric(metric)
    return metric in COUNT_METRICS or (status is not None and not status.rate)
