"""The YAML reader: positions for every path, and what plain safe_load would silently accept."""

from __future__ import annotations

from pathlib import Path

import pytest

from datakit.config.yaml_source import YamlProblem, read_yaml


def _read(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "f.yaml"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return read_yaml(path)


def test_positions_of_keys_values_and_list_items(tmp_path: Path) -> None:
    doc = _read(tmp_path, "a:\n  b: 1\n  items:\n    - x\n    - {c: 2}\n")
    assert doc.data == {"a": {"b": 1, "items": ["x", {"c": 2}]}}
    assert doc.key_positions[("a", "b")] == (2, 3)
    assert doc.value_positions[("a", "b")] == (2, 6)
    assert doc.value_positions[("a", "items", 1)] == (5, 7)
    assert doc.key_positions[("a", "items", 1, "c")] == (5, 8)
    assert doc.position(("a", "missing", "deeper")) == doc.position(("a",))


@pytest.mark.parametrize(
    ("text", "message", "line", "column"),
    [
        ("a: 1\na: 2\n", "duplicate key 'a' (first defined on line 1)", 2, 1),
        ("a:\n\tb: 1\n", "tab character in indentation; YAML indents with spaces only", 2, 1),
        ("on: 1\n", "mapping keys must be strings, got True", 1, 1),
        (
            "a: [1, 2\n",
            "invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence)",
            1,
            4,
        ),
        ("a: !custom 1\n", "invalid YAML: could not determine a constructor for the tag '!custom'", 1, 4),
    ],
)
def test_bad_yaml_is_located(tmp_path: Path, text: str, message: str, line: int, column: int) -> None:
    with pytest.raises(YamlProblem) as caught:
        _read(tmp_path, text)
    problem = caught.value.problem
    assert (problem.message, problem.line, problem.column) == (message, line, column)


def test_merge_keys_and_anchors_work(tmp_path: Path) -> None:
    doc = _read(tmp_path, "base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\n")
    assert doc.data["other"] == {"x": 1, "y": 3}


def test_invalid_utf8_and_recursive_alias(tmp_path: Path) -> None:
    path = tmp_path / "bin.yaml"
    path.write_bytes(b"a: \xff\xfe\n")
    with pytest.raises(YamlProblem, match="not valid UTF-8"):
        read_yaml(path)
    with pytest.raises(YamlProblem, match="too deep"):
        _read(tmp_path, "a: &x\n  - *x\n")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: !!int word\n", "invalid int value 'word': invalid literal for int() with base 10: 'word'"),
        ("a: 2024-13-01\n", "invalid timestamp value '2024-13-01': month must be in 1..12"),
    ],
)
def test_values_the_constructor_rejects_are_located(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(YamlProblem) as caught:
        _read(tmp_path, text)
    assert (caught.value.problem.message, caught.value.problem.line, caught.value.problem.column) == (
        message,
        1,
        4,
    )


def test_aliases_that_expand_exponentially_are_refused_quickly(tmp_path: Path) -> None:
    levels = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for previous, name in zip("abcdef", "bcdefg", strict=True):
        levels.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 10)}]")
    with pytest.raises(YamlProblem, match=r"expands to over 200,000 values \(nested aliases\?\)"):
        _read(tmp_path, "\n".join(levels) + "\n")


def test_undefined_alias_is_named(tmp_path: Path) -> None:
    with pytest.raises(YamlProblem) as caught:
        _read(tmp_path, "a: 1\nb: *nope\n")
    problem = caught.value.problem
    assert (problem.line, problem.column, problem.message) == (
        2,
        4,
        "invalid YAML: found undefined alias 'nope'",
    )
    assert problem.suggestion == "define the anchor (&name) before its first use (*name)"


def test_collection_keys_are_refused_without_quotes_in_the_message(tmp_path: Path) -> None:
    with pytest.raises(YamlProblem) as caught:
        _read(tmp_path, "? [a, b]\n: 1\n")
    assert caught.value.problem.message == "mapping keys must be strings, got a collection"
    assert caught.value.problem.suggestion is None
