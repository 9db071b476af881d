"""Property tests: whatever a molotov.json or a report holds, its reader answers cleanly.

Random JSON documents (some shaped like real configs and reports, so that the checks past
the first key are reached) go through the real readers from real files. Each must give a
valid result or its own one-line error (:class:`ConfigError`, :class:`ReportError`), never any
other exception. Example counts stay modest: the suite must stay within minutes.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from molotov.config.errors import ConfigError
from molotov.config.jsonconfig import JSON_OPTIONS, apply_config_file, read_config_file
from molotov.config.jsonconfig import test_options as options_of
from molotov.config.runconfig import BOUNDS, RunConfig
from molotov.reports import jsonload, jsonmerge, jsonreport
from molotov.reports.fields import MAX_COUNT, FieldError
from molotov.reports.summary import summary_lines
from molotov.stats.series import SPARSE_MAX
from support import largest, molotov_env, real_report, scaled

EXAMPLES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
# Values an option might plausibly be given, right or wrong.
option_values = (
    json_values
    | st.from_regex(r"\A-?\d{1,25}(\.\d{1,3})?(ms|s|m|h|d)?\Z")
    | st.from_regex(r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)?\Z")
    | st.lists(st.text(max_size=6), max_size=3)
)
option_keys = st.sampled_from([*JSON_OPTIONS, "env", "requirements"]) | st.text(max_size=12)
test_entries = st.dictionaries(option_keys, option_values, max_size=6)
configs = st.fixed_dictionaries(
    {
        "molotov": st.fixed_dictionaries(
            {"tests": st.dictionaries(st.text(max_size=4), test_entries | json_values, max_size=3)}
        )
    }
)


@contextmanager
def written(data: bytes) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "molotov.json"
        path.write_bytes(data)
        yield path


def assert_valid(config: RunConfig) -> None:
    """What a config that passed its checks must be: in bounds, and writable in a report."""
    config.check()
    for name, bound in BOUNDS.items():
        value = getattr(config, name)
        assert value is None or bound.problem(value) is None, (name, value)
    json.dumps(dataclasses.asdict(config), allow_nan=False)


def read_test(path: Path, name: str) -> None:
    warnings: list[str] = []
    try:
        section = read_config_file(path)
        options = options_of(section, name, path, warn=warnings.append)
        assert_valid(RunConfig().replace(**options))
        merged, _ = apply_config_file(RunConfig(config=str(path)), name)
        assert_valid(merged)
    except ConfigError as exc:
        assert "\n" not in str(exc)
    assert len(warnings) <= 1
    assert all("\n" not in line for line in warnings)


@EXAMPLES
@given(document=configs | json_values, data=st.data())
def test_any_json_document_as_a_config(document, data):
    section = document.get("molotov") if isinstance(document, dict) else None
    tests = section.get("tests") if isinstance(section, dict) else None
    names = list(tests) if isinstance(tests, dict) else []
    name = data.draw(st.sampled_from([*names, "test"]))
    with written(json.dumps(document).encode()) as path:
        read_test(path, name)


@EXAMPLES
@given(data=st.binary(max_size=300) | st.text(max_size=100).map(lambda t: t.encode("utf-16")))
def test_any_bytes_as_a_config(data):
    with written(data) as path:
        read_test(path, "test")


numbers = st.integers(min_value=-(10**30), max_value=10**30) | st.floats(
    allow_nan=True, allow_infinity=True
)


@EXAMPLES
@given(values=st.dictionaries(st.sampled_from([*BOUNDS, "start_at"]), numbers, max_size=5))
def test_any_numbers_as_options(values):
    try:
        config = RunConfig(**values)
        config.check()
    except ConfigError as exc:
        assert "\n" not in str(exc)
    else:
        assert_valid(config)


# -- reports --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report(_target_server, tmp_path_factory) -> dict:
    return real_report(tmp_path_factory.mktemp("fuzz"), molotov_env(_target_server.url))


def _paths(node: object, prefix: tuple = ()) -> list[tuple]:
    """The path of every value inside a document (keys and list indexes)."""
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


def assert_merged(runs: list[jsonreport.RunReport]) -> jsonreport.RunReport | None:
    """What moloreport does with reports it accepted: a merge that reads back as it is
    written (as JSON text), or one refused in one line (None)."""
    try:
        merged = jsonmerge.merge_readable(runs)
    except jsonmerge.MergeError as exc:
        assert "\n" not in str(exc)
        return None
    text = json.dumps(jsonreport.document(merged), allow_nan=False)
    assert jsonload.from_document(json.loads(text)).snapshot == merged.snapshot
    return merged


def assert_usable(run: jsonreport.RunReport) -> None:
    """What moloreport does with a report it accepted: merge, summarise, write."""
    merged = assert_merged([run, run])
    if merged is not None:
        summary_lines(merged.snapshot, merged.duration)


@EXAMPLES
@given(data=st.data())
def test_any_damage_to_a_real_report(report, data):
    doc = json.loads(json.dumps(report))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(doc)))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if isinstance(parent, dict) and data.draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = data.draw(json_values)
        if not isinstance(doc, dict) or not _paths(doc):
            break
    try:
        run = jsonload.from_document(doc)
    except FieldError as exc:
        assert "\n" not in str(exc)
    else:
        assert_usable(run)


@EXAMPLES
@given(doc=json_values)
def test_any_json_document_as_a_report(doc):
    try:
        run = jsonload.from_document(doc)
    except FieldError as exc:
        assert "\n" not in str(exc)
    else:
        assert_usable(run)


@EXAMPLES
@given(data=st.binary(max_size=200))
def test_any_bytes_as_a_report_file(data):
    with written(data) as path:
        try:
            jsonload.load(path)
        except jsonload.ReportError as exc:
            assert "\n" not in str(exc)


@EXAMPLES
@given(data=st.data())
def test_merges_of_reports_near_the_bounds(report, data):
    """Reports grown toward the reader's bounds (every count multiplied, consistently; the
    series rows' buckets toward int32): whatever of them reads, their merge reads back or is
    refused in one line, never written unreadable or a crash."""
    counts, buckets = MAX_COUNT // largest(report), SPARSE_MAX // largest(report, rows=True)
    runs = []
    for _ in range(data.draw(st.integers(2, 3))):
        factor = data.draw(st.integers(1, 2 * counts) | st.sampled_from([counts, counts // 2]))
        rows = data.draw(st.integers(1, 2 * buckets) | st.sampled_from([buckets, buckets // 2]))
        try:
            runs.append(jsonload.from_document(scaled(report, factor, rows)))
        except FieldError as exc:
            assert factor > counts or rows > buckets, exc
    if runs:
        assert_merged(runs)
