"""Prometheus remote write's wire format: a ``WriteRequest`` in protobuf, snappy-compressed.

The messages are Prometheus's own (``prompb/types.proto`` and ``prompb/remote.proto``, the
remote-write 1.0 specification): ``WriteRequest{timeseries, metadata}``, ``TimeSeries{labels,
samples}``, ``Label{name, value}``, ``Sample{value, timestamp}``, ``MetricMetadata{type,
metric_family_name, help}``. Their classes are built at import from a descriptor written
below, with the field numbers of those files, rather than checked in as ``protoc`` output:
generated ``_pb2`` modules pin the protobuf runtime they accept (they refuse an older one and
warn on another major version), and a dozen declared fields are easier to check against the
``.proto`` files than a serialized blob. The protobuf runtime does all of the encoding, and
cramjam's snappy the block compression (remote write uses snappy's block format, not its
framing format): no framing is written by hand here.

Both libraries are the ``prometheus`` extra (``pip install 'molotov[prometheus]'``):
:func:`missing_extra` says so in one line when they are not installed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

INSTALL = "pip install 'molotov[prometheus]'"

# What the wire says a metric is (prompb's MetricMetadata.MetricType).
COUNTER, GAUGE, HISTOGRAM = 1, 2, 3

# (message, [(field, number, type, repeated, message type)]), in prompb's numbering.
_TYPE_DOUBLE, _TYPE_INT64, _TYPE_STRING, _TYPE_MESSAGE, _TYPE_ENUM = 1, 3, 9, 11, 14
_MESSAGES: tuple[tuple[str, tuple[tuple[str, int, int, bool, str], ...]], ...] = (
    ("Label", (("name", 1, _TYPE_STRING, False, ""), ("value", 2, _TYPE_STRING, False, ""))),
    ("Sample", (("value", 1, _TYPE_DOUBLE, False, ""), ("timestamp", 2, _TYPE_INT64, False, ""))),
    (
        "TimeSeries",
        (
            ("labels", 1, _TYPE_MESSAGE, True, "Label"),
            ("samples", 2, _TYPE_MESSAGE, True, "Sample"),
        ),
    ),
    (
        "MetricMetadata",
        (
            ("type", 1, _TYPE_ENUM, False, "MetricType"),
            ("metric_family_name", 2, _TYPE_STRING, False, ""),
            ("help", 4, _TYPE_STRING, False, ""),
            ("unit", 5, _TYPE_STRING, False, ""),
        ),
    ),
    (
        "WriteRequest",
        (
            ("timeseries", 1, _TYPE_MESSAGE, True, "TimeSeries"),
            ("metadata", 3, _TYPE_MESSAGE, True, "MetricMetadata"),
        ),
    ),
)
_METRIC_TYPES = (
    ("UNKNOWN", 0),
    ("COUNTER", COUNTER),
    ("GAUGE", GAUGE),
    ("HISTOGRAM", HISTOGRAM),
    ("GAUGEHISTOGRAM", 4),
    ("SUMMARY", 5),
    ("INFO", 6),
    ("STATESET", 7),
)
_PACKAGE = "prometheus"


def missing_extra() -> str:
    """Why remote write cannot work here (one line naming the pip command), or ""."""
    try:
        import cramjam  # noqa: F401
        import google.protobuf  # noqa: F401
    except ImportError as exc:
        return f"--prometheus-rw needs the prometheus extra ({exc.name} is missing): {INSTALL}"
    return ""


def _message_classes() -> dict[str, Any]:
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    file = descriptor_pb2.FileDescriptorProto(
        name="molotov/prompb.proto", package=_PACKAGE, syntax="proto3"
    )
    for message, fields in _MESSAGES:
        proto = file.message_type.add(name=message)
        if message == "MetricMetadata":
            enum = proto.enum_type.add(name="MetricType")
            for name, number in _METRIC_TYPES:
                enum.value.add(name=name, number=number)
        for name, number, kind, repeated, type_name in fields:
            field = proto.field.add(name=name, number=number, type=kind)
            field.label = field.LABEL_REPEATED if repeated else field.LABEL_OPTIONAL
            if type_name:
                scope = f".{_PACKAGE}.MetricMetadata" if kind == _TYPE_ENUM else f".{_PACKAGE}"
                field.type_name = f"{scope}.{type_name}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return {
        message: message_factory.GetMessageClass(
            pool.FindMessageTypeByName(f"{_PACKAGE}.{message}")
        )
        for message, _ in _MESSAGES
    }


_CLASSES: dict[str, Any] = {}

Labels = Sequence[tuple[str, str]]  # sorted by name, ``__name__`` first


def write_request(
    series: Iterable[tuple[Labels, float]],
    timestamp_ms: int,
    metadata: Iterable[tuple[str, int, str]] = (),
) -> bytes:
    """A snappy-compressed ``WriteRequest``: one sample at ``timestamp_ms`` per series
    (``(labels, value)``), and ``(family, type, help)`` metadata."""
    import cramjam

    if not _CLASSES:
        _CLASSES.update(_message_classes())
    request = _CLASSES["WriteRequest"]()
    add_series = request.timeseries.add  # bound once: a send can have thousands of series
    for labels, value in series:
        one = add_series()
        add_label = one.labels.add
        for name, text in labels:
            add_label(name=name, value=text)
        one.samples.add(value=value, timestamp=timestamp_ms)
    for family, kind, text in metadata:
        request.metadata.add(type=kind, metric_family_name=family, help=text)
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))
