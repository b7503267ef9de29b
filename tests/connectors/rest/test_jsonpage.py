"""The Arrow fast path of page parsing gives what `json.loads` gives, and steps aside when it cannot."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pytest

from datakit.connectors.rest.jsonpage import PageParser
from datakit.connectors.rest.records import to_batches

PAGES: list[tuple[Any, str | None]] = [
    (
        {
            "data": [{"id": 1, "at": "2024-01-01T00:00:00Z", "u": {"n": "a", "d": "2024-02-01"}}],
            "next": "/p2",
        },
        None,
    ),
    ([{"id": 1, "tags": ["x"]}, {"id": 2, "tags": []}], None),
    (
        {"meta": {"next_cursor": "c2", "total": 9}, "result": {"items": [{"id": 1}, {"id": 2}]}},
        "result.items",
    ),
    ({"users": [{"id": 1, "score": 1}, {"id": 2, "score": 2.5}]}, None),
    ({"data": [{"v": 1}, {"v": "one"}]}, None),  # mixed types: the slow path
    ({"id": 1, "name": "single record"}, None),  # no list: the slow path
    ({"data": [1, 2, 3]}, None),  # scalars: the slow path
]


def _table(records: Any) -> list[dict[str, Any]]:
    return to_batches(records, "t", primary_key=["id"])["t"].to_pylist() if len(records) else []


@pytest.mark.parametrize(("body", "path"), PAGES)
def test_fast_and_slow_paths_agree(body: Any, path: str | None) -> None:
    content = json.dumps(body, indent=1).encode()  # pretty-printed, as some APIs send
    _, fast_records = PageParser(path).parse(content)
    _, slow_records = PageParser(path, fast=False).parse(content)
    assert _table(fast_records) == _table(slow_records)


@pytest.mark.parametrize(
    ("index", "expected"),
    [(0, {"next": "/p2"}), (1, None), (2, {"meta": {"next_cursor": "c2", "total": 9}, "result": {}})],
)
def test_the_paginator_gets_the_body_without_the_records(index: int, expected: Any) -> None:
    body, path = PAGES[index]
    parsed, records = PageParser(path).parse(json.dumps(body).encode())
    assert isinstance(records, pa.StructArray)  # the fast path took it
    assert parsed == expected


def test_timestamps_stay_text_and_the_schema_carries_over() -> None:
    parser = PageParser(None)
    _, first = parser.parse(b'{"data": [{"id": 1, "at": "2024-01-01T00:00:00Z"}]}')
    assert isinstance(first, pa.StructArray)
    assert first.type.field("at").type == pa.string()
    _, second = parser.parse(b'{"data": [{"id": 2, "at": "2024-01-02T00:00:00Z", "new": true}]}')
    assert isinstance(second, pa.StructArray)
    assert second.to_pylist() == [{"at": "2024-01-02T00:00:00Z", "id": 2, "new": True}]


def test_a_page_that_breaks_the_carried_schema_is_parsed_afresh() -> None:
    parser = PageParser(None)
    parser.parse(b'{"data": [{"id": 1, "at": "2024-01-01T00:00:00Z"}]}')
    _, records = parser.parse(b'{"data": [{"id": "x-1", "at": "2024-01-01T00:00:00Z"}]}')
    assert isinstance(records, pa.StructArray)
    assert records.to_pylist() == [{"id": "x-1", "at": "2024-01-01T00:00:00Z"}]


def test_invalid_json_raises_value_error() -> None:
    with pytest.raises(ValueError, match="Expecting"):
        PageParser(None).parse(b'{"data": [1,,]}')
