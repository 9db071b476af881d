"""The literals molostart writes recorded text with: exact, and formatted as ruff would."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from molotov.scaffold import pysource
from startsupport import ruff

NASTY = [
    "",
    "plain",
    "it's",
    'say "hi"',
    """both ' and " and ''' and \"\"\"""",
    '"""',
    "'''",
    "back\\slash \\' \\\" \\N{BULLET} \\x00",
    "line\nbreak\r\n\ttab \x0b\x0c",
    "nul \x00 del \x7f",
    "line separators \u2028 \u2029 \x85",
    "unicode café 日本 😀",
    "{braces} {{doubled}} }{",
    "a%s %(name)s $HOME `cmd`",
    '"\'"\'"',
    "\\",
]


@pytest.mark.parametrize("text", NASTY)
def test_string_evaluates_back_to_its_text(text: str) -> None:
    literal = pysource.string(text)
    assert ast.literal_eval(literal) == text
    assert "\n" not in literal and "\r" not in literal


@pytest.mark.parametrize("text", NASTY)
def test_fstring_evaluates_to_the_constant_then_the_text(text: str) -> None:
    code = pysource.fstring("BASE", text)
    assert eval(code, {"BASE": "http://h:1"}) == "http://h:1" + text
    assert "\n" not in code


def test_fstring_of_no_text_is_the_constant_itself() -> None:
    assert pysource.fstring("BASE", "") == "BASE"


@pytest.mark.parametrize("data", [b"", b"\x00\xff'\"\\", bytes(range(256)), b'"""'])
def test_bytes_literal_evaluates_back(data: bytes) -> None:
    assert ast.literal_eval(pysource.bytes_literal(data)) == data


def test_names_are_identifiers_whatever_the_text() -> None:
    for text in [*NASTY, "/", "/products/42", "class", "123", "x" * 200]:
        name = pysource.identifier(text, "page_1")
        assert name.isidentifier() and name.startswith("page_1") and len(name) <= 41
        constant = pysource.constant(text, "url", lead="HOST")
        assert constant.isidentifier() and constant == constant.upper()
    assert pysource.identifier("/products/42", "page_1") == "page_1_products_42"
    assert pysource.constant("127.0.0.1:8080", "url", lead="HOST") == "HOST_127_0_0_1_8080_URL"
    assert pysource.constant("cookie", "csrf-token") == "COOKIE_CSRF_TOKEN"


def test_unique_numbers_repeated_names() -> None:
    taken: set[str] = set()
    assert [pysource.unique("a", taken) for _ in range(3)] == ["a", "a_2", "a_3"]


def test_ruff_leaves_the_literals_as_written(tmp_path: Path) -> None:
    """The quotes and escapes picked are ruff's own, so generated files stay formatted."""
    lines = ["import os", "", "BASE = os.environ.get('BASE', '')"]
    lines += [f"S{i} = {pysource.string(text)}" for i, text in enumerate(NASTY)]
    lines += [f"F{i} = {pysource.fstring('BASE', text)}" for i, text in enumerate(NASTY)]
    lines += [f"B{i} = {pysource.bytes_literal(text.encode())}" for i, text in enumerate(NASTY)]
    lines += pysource.environment_constant("SHORT_URL", "http://127.0.0.1:8080")
    lines += pysource.environment_constant("LONG_URL", "https://" + "x" * 90 + ".example")
    lines += pysource.environment_constant("WIDE_URL", "http://日本.example")
    source = tmp_path / "literals.py"
    source.write_text("\n".join(lines).replace("'BASE', ''", '"BASE", ""') + "\n")
    result = ruff("format", "--diff", "literals.py", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
