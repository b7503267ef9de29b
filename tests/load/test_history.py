"""History: inserts, updates and deletes from source changes, validity by `systime` or by load time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from datakit.contracts import Contract, contract_from_spec
from datakit.load.loader import load_resource
from datakit.load.plan import IncrementalPlan
from tests.load.helpers import CUSTOMER_SPEC, plan_for
from tests.matrix import WITH_SPARK, Row, SourceDb, Target

T1 = datetime(2024, 1, 1, tzinfo=UTC)
T2 = datetime(2024, 2, 1, tzinfo=UTC)
T3 = datetime(2024, 3, 1, tzinfo=UTC)
DDL = (
    "id integer, name varchar(20) NOT NULL, score integer, updated timestamptz NOT NULL, systime timestamptz"
)


def contract(*, systime: bool = True) -> Contract:
    spec = {**CUSTOMER_SPEC, "history": True, "columns": dict(CUSTOMER_SPEC["columns"])}
    if systime:
        spec["columns"]["systime"] = {"type": "timestamptz", "nullable": False}
        spec["temporal_exclude"] = ["systime"]
    return contract_from_spec(spec)


def history(dest: Target) -> list[Row]:
    return dest.query(
        f"SELECT id, name, _dk_operation, _dk_valid_from, _dk_valid_to, _dk_load_id "
        f"FROM {dest.q('customer__history')} ORDER BY id, _dk_valid_from, _dk_operation"
    )


@pytest.mark.parametrize("dest", WITH_SPARK, indirect=True)
def test_updates_and_deletes_by_systime(dest: Target, source_db: SourceDb) -> None:
    table = source_db.q("customer")
    source_db.create("customer", DDL)
    source_db.insert("customer", [(g, f"n{g}", g, T1, T1) for g in range(1, 6)])
    plan = plan_for(
        source_db.source,
        source_db.schema,
        "customer",
        contract(),
        dest.table("customer"),
        disposition="merge",
    )
    first = load_resource(plan, dest.destination)
    assert history(dest) == [(i, f"n{i}", "insert", T1, None, first.load_id) for i in range(1, 6)]

    source_db.execute(f"UPDATE {table} SET name = 'changed', systime = $1 WHERE id = 2", T2)
    source_db.execute(f"UPDATE {table} SET systime = $1 WHERE id = 3", T2)  # systime alone is no change
    source_db.execute(f"DELETE FROM {table} WHERE id = 4")
    second = load_resource(plan, dest.destination)
    at = second.started_at
    assert history(dest) == [
        (1, "n1", "insert", T1, None, first.load_id),
        (2, "n2", "insert", T1, T2, first.load_id),
        (2, "changed", "update", T2, None, second.load_id),
        (3, "n3", "insert", T1, None, first.load_id),
        (4, "n4", "insert", T1, at, first.load_id),
        (4, "n4", "delete", at, at, second.load_id),
        (5, "n5", "insert", T1, None, first.load_id),
    ]
    assert [r[0] for r in dest.query(f"SELECT id FROM {dest.q('customer')} ORDER BY id")] == [1, 2, 3, 5]

    before = history(dest)
    load_resource(plan, dest.destination)  # same source: no new version
    assert history(dest) == before

    source_db.insert("customer", [(4, "back", 4, T3, T3)])
    fourth = load_resource(plan, dest.destination)
    assert {row for row in history(dest) if row[0] == 4} == {
        (4, "n4", "insert", T1, at, first.load_id),
        (4, "n4", "delete", at, at, second.load_id),
        (4, "back", "insert", T3, None, fourth.load_id),
    }


def test_validity_by_load_time_without_systime(dest: Target, source_db: SourceDb) -> None:
    source_db.create("customer", DDL)
    source_db.insert("customer", [(g, f"n{g}", g, T1, None) for g in range(1, 4)])
    plan = plan_for(
        source_db.source,
        source_db.schema,
        "customer",
        contract(systime=False),
        dest.table("customer"),
        disposition="replace",
    )
    first = load_resource(plan, dest.destination)
    source_db.execute(f"UPDATE {source_db.q('customer')} SET score = 50 WHERE id = 1")
    second = load_resource(plan, dest.destination)
    rows = history(dest)
    assert rows[:2] == [
        (1, "n1", "insert", first.started_at, second.started_at, first.load_id),
        (1, "n1", "update", second.started_at, None, second.load_id),
    ]
    assert len(rows) == 4


@pytest.mark.parametrize("disposition", ["merge", "append"])
def test_incremental_reads_cannot_see_deletes(dest: Target, source_db: SourceDb, disposition: str) -> None:
    table = source_db.q("customer")
    source_db.create("customer", DDL)
    source_db.insert("customer", [(g, f"n{g}", g, T1, T1) for g in range(1, 4)])
    plan = plan_for(
        source_db.source,
        source_db.schema,
        "customer",
        contract(),
        dest.table("customer"),
        disposition=disposition,
        incremental=IncrementalPlan("updated"),
    )
    load_resource(plan, dest.destination)
    source_db.execute(f"DELETE FROM {table} WHERE id = 3")
    source_db.execute(f"UPDATE {table} SET name = 'x', updated = $1, systime = $2 WHERE id = 1", T2, T2)
    load_resource(plan, dest.destination)
    ops = [(r[0], r[2], r[4]) for r in history(dest)]
    assert ops == [(1, "insert", T2), (1, "update", None), (2, "insert", None), (3, "insert", None)]
