"""The JSON -> Arrow rules on their own: where records are, how nesting flattens, how pages align."""

from __future__ import annotations

import pyarrow as pa
import pytest

from datakit.connectors import SchemaMismatch
from datakit.connectors.rest.records import (
    NoDataPath,
    Rebatcher,
    align,
    dig,
    find_records,
    settle,
    to_batches,
)


def test_dig_follows_dotted_paths() -> None:
    body = {"a": {"b": [{"c": 1}]}}
    assert dig(body, "a.b.0.c") == 1
    assert dig(body, "a.x") is None and dig(body, "a.b.5") is None


@pytest.mark.parametrize(
    ("body", "path", "expected"),
    [
        ([{"id": 1}], None, [{"id": 1}]),
        ({"results": [{"id": 1}], "count": 1}, None, [{"id": 1}]),
        ({"meta": {}, "users": [{"id": 1}]}, None, [{"id": 1}]),  # the only list
        ({"id": 1, "name": "x"}, None, [{"id": 1, "name": "x"}]),  # one record
        ({"data": {"items": [1, 2]}}, "data.items", [1, 2]),
        ({"data": {"item": {"id": 1}}}, "data.item", [{"id": 1}]),
        ({"data": {"items": None}}, "data.items", []),
    ],
)
def test_find_records(body: object, path: str | None, expected: list[object]) -> None:
    assert find_records(body, path) == expected


def test_a_missing_data_path_is_an_error() -> None:
    with pytest.raises(NoDataPath, match=r"has no 'data.items' \(it has: data, meta\)"):
        find_records({"data": {}, "meta": 1}, "data.items")


def test_without_a_primary_key_lists_stay_json_text() -> None:
    out = to_batches([{"id": 1, "tags": ["a", "b"], "m": {"k": [1]}}], "t")
    assert list(out) == ["t"]
    assert out["t"].to_pylist() == [{"id": 1, "tags": '["a", "b"]', "m__k": "[1]"}]


def test_lists_inside_child_rows_are_grandchild_tables() -> None:
    records = [
        {"id": 7, "lines": [{"sku": "a", "serials": [1, 2]}, {"sku": "b", "serials": [3]}]},
        {"id": 8, "lines": [{"sku": "c", "serials": []}]},
    ]
    out = to_batches(records, "o", primary_key=["id"])
    assert list(out) == ["o", "o__lines", "o__lines__serials"]
    assert out["o__lines"].to_pylist() == [
        {"_dk_parent__id": 7, "_dk_list_idx": 0, "sku": "a"},
        {"_dk_parent__id": 7, "_dk_list_idx": 1, "sku": "b"},
        {"_dk_parent__id": 8, "_dk_list_idx": 0, "sku": "c"},
    ]
    assert out["o__lines__serials"].to_pylist() == [
        {"_dk_parent__id": 7, "_dk_list_idx__lines": 0, "_dk_list_idx": 0, "value": 1},
        {"_dk_parent__id": 7, "_dk_list_idx__lines": 0, "_dk_list_idx": 1, "value": 2},
        {"_dk_parent__id": 7, "_dk_list_idx__lines": 1, "_dk_list_idx": 0, "value": 3},
    ]


def test_lists_of_lists_nest_as_dlt_names_them() -> None:
    out = to_batches([{"id": 1, "grid": [[1, 2], [3]], "m": {"tags": ["x"]}}], "t", primary_key=["id"])
    assert list(out) == ["t", "t__grid", "t__grid__list", "t__m__tags"]
    assert out["t"].to_pylist() == [{"id": 1}]
    assert out["t__grid"].to_pylist() == [
        {"_dk_parent__id": 1, "_dk_list_idx": 0},
        {"_dk_parent__id": 1, "_dk_list_idx": 1},
    ]
    assert out["t__grid__list"].to_pylist() == [
        {"_dk_parent__id": 1, "_dk_list_idx__grid": 0, "_dk_list_idx": 0, "value": 1},
        {"_dk_parent__id": 1, "_dk_list_idx__grid": 0, "_dk_list_idx": 1, "value": 2},
        {"_dk_parent__id": 1, "_dk_list_idx__grid": 1, "_dk_list_idx": 0, "value": 3},
    ]
    assert out["t__m__tags"].to_pylist() == [{"_dk_parent__id": 1, "_dk_list_idx": 0, "value": "x"}]


def test_nested_objects_kept_as_json_text() -> None:
    records = [
        {
            "id": 1,
            "user": {"name": "ann", "address": {"city": "Oslo"}},
            "lines": [{"sku": "a", "m": {"k": 1}}],
        },
        {"id": 2, "user": None, "lines": []},
    ]
    out = to_batches(records, "t", primary_key=["id"], flatten=False)
    assert out["t"].to_pylist() == [
        {"id": 1, "user": '{"name": "ann", "address": {"city": "Oslo"}}'},
        {"id": 2, "user": None},
    ]
    assert out["t__lines"].to_pylist() == [
        {"_dk_parent__id": 1, "_dk_list_idx": 0, "sku": "a", "m": '{"k": 1}'}
    ]


def test_keys_missing_from_some_records_and_mixed_types() -> None:
    out = to_batches([{"a": 1}, {"b": "x"}, {"a": 2, "c": {"d": 1}}], "t")["t"]
    assert out.to_pylist() == [
        {"a": 1, "b": None, "c__d": None},
        {"a": None, "b": "x", "c__d": None},
        {"a": 2, "b": None, "c__d": 1},
    ]
    mixed = to_batches([{"v": 1}, {"v": "one"}, {"v": {"x": 1}}], "t")["t"]
    assert mixed.to_pylist() == [{"v": "1"}, {"v": "one"}, {"v": '{"x": 1}'}]
    assert to_batches([1, 2], "t")["t"].to_pylist() == [{"value": 1}, {"value": 2}]


def test_align_fills_missing_columns_and_refuses_new_ones_when_inferred() -> None:
    schema = settle(to_batches([{"id": 1, "note": None}], "t")["t"].schema)
    assert schema.field("note").type == pa.string()
    later = to_batches([{"id": 2.0}], "t")["t"]
    assert align(later, schema, strict=True, label="t").to_pylist() == [{"id": 2, "note": None}]
    with pytest.raises(SchemaMismatch, match=r"cannot convert t\.id"):
        align(to_batches([{"id": 2.5}], "t")["t"], schema, strict=True, label="t")
    with pytest.raises(SchemaMismatch, match="new appeared after"):
        align(to_batches([{"id": 3, "new": 1}], "t")["t"], schema, strict=True, label="t")
    assert align(to_batches([{"id": 3, "new": 1}], "t")["t"], schema, strict=False, label="t").num_rows == 1


def test_rebatcher_bounds_batches() -> None:
    batcher = Rebatcher(4)
    out: list[pa.RecordBatch] = []
    for n in (3, 3, 9, 1):
        out += batcher.add(pa.RecordBatch.from_pydict({"x": list(range(n))}))
    out += batcher.flush()
    assert [b.num_rows for b in out] == [4, 4, 4, 4]
