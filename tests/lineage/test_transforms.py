"""Typed transforms read from their code: which source fields each target field comes from."""

from __future__ import annotations

from typing import Any

from datakit.lineage.model import How
from datakit.lineage.transforms import transform_fields

FIELDS = ("id", "first", "last", "email")


class Row:
    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


def keywords(row: Any) -> Row:
    full = f"{row.first} {row.last}"
    if row.email:
        return Row(id=row.id, key=row.id, full_name=full, kind="person")
    return Row(id=row.id, key=row.id, full_name=full, kind="person", email=row.email.lower())


def mapping(src: Any) -> dict[str, Any]:
    return {"id": src.id, "name": src.first.strip()}


def helper(row: Any) -> Row:
    return Row(id=row.id, everything=str(row))


def method(row: Any) -> Row:
    return Row(data=row.model_dump())


def built_elsewhere(row: Any) -> Row:
    values = {"id": row.id}
    return Row(**values)


def test_keywords_locals_and_branches() -> None:
    found = transform_fields(keywords, FIELDS)
    assert found is not None
    assert (found["id"].reads, found["id"].how) == ({"id"}, How.COPIED)
    assert (found["key"].reads, found["key"].how) == ({"id"}, How.RENAMED)
    assert (found["full_name"].reads, found["full_name"].how) == ({"first", "last"}, How.TRANSFORMED)
    assert found["kind"].reads == frozenset()  # a constant
    assert (found["email"].reads, found["email"].how) == ({"email"}, How.TRANSFORMED)


def test_a_dict_literal() -> None:
    found = transform_fields(mapping, FIELDS)
    assert found is not None
    assert (found["name"].reads, found["name"].how) == ({"first"}, How.TRANSFORMED)


def test_the_whole_row_or_an_unknown_shape_is_unknown() -> None:
    found = transform_fields(helper, FIELDS)
    assert found is not None and found["everything"].unknown and not found["id"].unknown
    method_fields = transform_fields(method, FIELDS)
    assert method_fields is not None and method_fields["data"].unknown
    assert transform_fields(built_elsewhere, FIELDS) is None
    assert transform_fields(len, FIELDS) is None  # no Python source
