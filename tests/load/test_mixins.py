"""The transactional mixin means what it says: `created_at` is the key's first load and stays,
`updated_at` moves only when the row changes, and neither (nor `systime`) makes a new version."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import Field, SQLModel

from datakit.contracts import Contract, TransactionalTableMixin, contract_from_spec
from datakit.load.loader import load_resource
from datakit.load.transforms import row_transform
from tests.load.helpers import CUSTOMER_DDL, CUSTOMER_SPEC, plan_for
from tests.matrix import Row, SourceDb, Target

T1 = datetime(2020, 1, 1, tzinfo=UTC)
T2 = datetime(2021, 6, 1, tzinfo=UTC)


def transactional(**changes: Any) -> Contract:
    return contract_from_spec({**CUSTOMER_SPEC, "mixins": ["transactional"], **changes})


def times(dest: Target, table: str = "customer") -> dict[int, Row]:
    rows = dest.query(f"SELECT id, created_at, updated_at, systime FROM {dest.q(table)}")
    return {row[0]: row[1:] for row in rows}


def versions(dest: Target) -> list[Row]:
    return dest.query(
        f"SELECT id, name, _dk_operation, _dk_valid_from, created_at, updated_at, systime "
        f"FROM {dest.q('customer__history')} ORDER BY id, _dk_valid_from"
    )


def test_one_changed_row_of_100_is_one_new_version(dest: Target, source_db: SourceDb) -> None:
    """The source has none of the mixin's columns: the loader fills them by the mixin's rules."""
    source_db.create("customer", CUSTOMER_DDL)
    source_db.insert("customer", [(g, f"n{g}", g % 100, T1) for g in range(1, 101)])
    plan = plan_for(
        source_db.source,
        source_db.schema,
        "customer",
        transactional(history=True),
        dest.table("customer"),
        disposition="merge",
    )
    first = load_resource(plan, dest.destination)
    at1 = first.started_at
    assert set(times(dest).values()) == {(at1, at1, at1)}
    assert len(versions(dest)) == 100

    source_db.execute(f"UPDATE {source_db.q('customer')} SET name = 'changed' WHERE id = 7")
    second = load_resource(plan, dest.destination)
    at2 = second.started_at
    (first_rows, second_rows) = (first.rows_loaded, second.rows_loaded)
    assert (first_rows, second_rows) == (100, 100)
    after = times(dest)
    assert after[7] == (at1, at2, at2)  # created_at kept; updated_at and systime: this version's
    assert {row for key, row in after.items() if key != 7} == {(at1, at1, at1)}
    history = versions(dest)
    assert len(history) == 101
    assert [row for row in history if row[0] == 7] == [
        (7, "n7", "insert", at1, at1, at1, at1),
        (7, "changed", "update", at2, at1, at2, at2),
    ]

    third = load_resource(plan, dest.destination)  # the same source again
    assert third.rows_loaded == 100
    assert times(dest) == after
    assert versions(dest) == history


def test_values_the_source_gives_are_kept_and_are_no_change(dest: Target, source_db: SourceDb) -> None:
    """created_at/updated_at from the source are the system's truth; changing only them is no change."""
    table = source_db.q("customer")
    source_db.create("customer", f"{CUSTOMER_DDL}, created_at timestamptz, updated_at timestamptz")
    source_db.insert("customer", [(g, f"n{g}", g, T1, T1, T1) for g in range(1, 6)])
    plan = plan_for(
        source_db.source,
        source_db.schema,
        "customer",
        transactional(history=True),
        dest.table("customer"),
        disposition="merge",
    )
    first = load_resource(plan, dest.destination)
    at1 = first.started_at
    assert set(times(dest).values()) == {(T1, T1, at1)}

    source_db.execute(f"UPDATE {table} SET updated_at = $1 WHERE id = 1", T2)  # a touch, not a change
    source_db.execute(f"UPDATE {table} SET updated_at = $1, name = 'changed' WHERE id = 2", T2)
    source_db.execute(f"UPDATE {table} SET created_at = NULL WHERE id = 3")  # no value: the stored one stays
    second = load_resource(plan, dest.destination)
    after = times(dest)
    assert after[1] == (T1, T1, at1)
    assert after[2] == (T1, T2, second.started_at)
    assert after[3] == (T1, T1, at1)
    assert len(versions(dest)) == 6


@pytest.mark.parametrize("disposition", ["append", "replace"])
def test_direct_writes_fill_the_load_time(dest: Target, source_db: SourceDb, disposition: str) -> None:
    """Without a stage there is no stored row to keep: every empty time is this load's."""
    source_db.create("customer", CUSTOMER_DDL)
    source_db.insert("customer", [(g, f"n{g}", g, T1) for g in range(1, 4)])
    plan = plan_for(
        source_db.source,
        source_db.schema,
        "customer",
        transactional(),
        dest.table("customer"),
        disposition=disposition,
    )
    result = load_resource(plan, dest.destination)
    at = result.started_at
    assert times(dest) == {1: (at, at, at), 2: (at, at, at), 3: (at, at, at)}


class SourcePerson(SQLModel, table=True):
    __tablename__ = "dk_test_mixin_source_person"
    id: int = Field(primary_key=True)
    name: str


class BronzePerson(TransactionalTableMixin, SQLModel, table=True):
    __tablename__ = "dk_test_mixin_bronze_person"
    id: int = Field(primary_key=True)
    name: str


def to_bronze(person: SourcePerson) -> BronzePerson:
    return BronzePerson(id=person.id, name=person.name.upper(), created_at=T1)


def test_a_typed_transform_leaves_unset_times_to_the_loader() -> None:
    """The model's default (now, per row) would make every load a new created_at/updated_at."""
    import pyarrow as pa

    transform = row_transform(to_bronze, SourcePerson, BronzePerson)
    out = transform(pa.RecordBatch.from_pylist([{"id": 1, "name": "ann"}])).batch.to_pylist()
    assert out == [{"id": 1, "name": "ANN", "created_at": T1, "updated_at": None, "systime": None}]
