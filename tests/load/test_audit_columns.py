"""The lean audit columns (issue 21 item 5): two per bronze row, both integers, joining `_datakit.loads`;
tables of the old four-column layout keep loading as before."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from datakit.connectors import TableRef
from datakit.contracts.types import TypeKind, integer
from datakit.load import state
from datakit.load.loader import load_resource
from datakit.load.plan import STATE_SCHEMA, ResourcePlan
from tests.load.helpers import CUSTOMER_DDL, customer_contract, plan_for
from tests.matrix import WITH_SPARK, SourceDb, Target

ROWS = 50
START = datetime(2024, 1, 1, tzinfo=UTC)
OLD_LOAD = "00000000-0000-0000-0000-000000000001"


def _plan(dest: Target, customers: SourceDb, **changes: Any) -> ResourcePlan:
    """The customer plan, with load records in a state schema of this test's own (`<schema>__datakit`)."""
    plan = plan_for(
        customers.source, customers.schema, "customer", customer_contract(), dest.table("customer"), **changes
    )
    return dataclasses.replace(plan, state_schema=_state(dest))


def _state(dest: Target) -> str:
    return f"{dest.table('customer').schema}__datakit"


@pytest.fixture
def customers(source_db: SourceDb) -> SourceDb:
    source_db.create("customer", CUSTOMER_DDL)
    source_db.insert(
        "customer", [(g, f"name {g}", g % 100, START + timedelta(minutes=g)) for g in range(1, ROWS + 1)]
    )
    return source_db


@pytest.mark.parametrize("dest", WITH_SPARK, indirect=True)
def test_bronze_rows_carry_two_integer_audit_columns(dest: Target, customers: SourceDb) -> None:
    """The load id and the record hash, both BIGINT; the source and the time are the load record's."""
    plan = _plan(dest, customers)
    load_resource(plan, dest.destination)
    with dest.destination.transaction() as tx:
        live = {column.name: column for column in tx.columns(dest.table("customer"))}
    audit = {name: column.type for name, column in live.items() if name.startswith("_dk_")}
    assert audit == {"_dk_load_id": integer(64), "_dk_record_hash": integer(64)}


@pytest.mark.parametrize("dest", WITH_SPARK, indirect=True)
def test_load_ids_join_the_load_records(dest: Target, customers: SourceDb) -> None:
    plan = _plan(dest, customers)
    first = load_resource(plan, dest.destination)
    second = load_resource(plan, dest.destination)
    assert first.id is not None and second.id is not None and second.id > first.id
    joined = dest.query(
        f"SELECT t._dk_load_id, count(*), min(l.load_id), min(l.source), min(l.status), "
        f"count(l.id) FROM {dest.q('customer')} AS t "
        f"LEFT JOIN {_state(dest)}.loads AS l ON l.id = t._dk_load_id "
        "GROUP BY t._dk_load_id ORDER BY t._dk_load_id"
    )
    assert joined == [
        (first.id, ROWS, first.load_id, plan.source_label, "succeeded", ROWS),
        (second.id, ROWS, second.load_id, plan.source_label, "succeeded", ROWS),
    ]


def test_a_failed_load_record_has_an_id_too(dest: Target, customers: SourceDb) -> None:
    plan = _plan(dest, customers)
    good = load_resource(plan, dest.destination)
    customers.execute(f"DROP TABLE {customers.q('customer')}")
    with pytest.raises(Exception):  # noqa: B017, PT011 - any error: the source table is gone
        load_resource(plan, dest.destination)
    rows = dest.query(f"SELECT id, status FROM {_state(dest)}.loads ORDER BY id")
    assert rows[0] == (good.id, "succeeded")
    assert [status for _, status in rows[1:]] == ["failed"] and rows[1][0] > good.id


def _old_layout(dest: Target) -> None:
    """A bronze customer table and a `_datakit.loads` as a datakit before the lean audit columns made
    them: four audit columns (text load id, load time, source, hash), load records without `id`/`source`;
    one row and its load record already there."""
    engine = dest.destination.engine
    text, tz = engine.sql_type(state._TEXT), engine.timestamptz
    old_loads = [column for column in state._LOADS_COLUMNS if column[0] not in ("id", "source")]
    body = ", ".join(engine.column_sql(name, kind, nullable=nullable) for name, kind, nullable in old_loads)
    target = engine.table(dest.table("customer"))
    name = engine.sql_type(state._TEXT, max_length=20)
    with dest.destination.transaction() as tx:
        tx.execute(f"CREATE SCHEMA IF NOT EXISTS {_state(dest)}")
        tx.execute(f"CREATE SCHEMA IF NOT EXISTS {engine.quote(str(dest.table('customer').schema))}")
        tx.execute(f"CREATE TABLE {_state(dest)}.loads ({body})")
        tx.execute(
            f"INSERT INTO {_state(dest)}.loads (load_id, pipeline, resource, target, status, rows_read, "
            "rows_loaded, rows_rejected, started_at, finished_at) "
            "VALUES ($1, 'test', 'customer', $2, 'succeeded', 1, 1, 0, "
            f"CAST($3 AS {tz}), CAST($3 AS {tz}))",
            [OLD_LOAD, str(dest.table("customer")), START],
        )
        tx.execute(
            f"CREATE TABLE {target} (id INTEGER NOT NULL, name {name} NOT NULL, score INTEGER, "
            f"updated {tz} NOT NULL, "
            f"_dk_load_id {text} NOT NULL, _dk_loaded_at {tz} NOT NULL, _dk_source {text} NOT NULL, "
            "_dk_record_hash BIGINT NOT NULL)"
        )
        tx.execute(
            f"INSERT INTO {target} "
            f"VALUES (1000, 'old', 1, CAST($1 AS {tz}), $2, CAST($1 AS {tz}), 'old.source', 7)",
            [START, OLD_LOAD],
        )


@pytest.mark.parametrize("disposition", ["append", "merge"])
def test_a_table_of_the_old_layout_keeps_loading_as_before(
    dest: Target, customers: SourceDb, disposition: str
) -> None:
    """Read as before: the table keeps its four audit columns, filled as they were; the old load records
    get the new columns (NULL id), the new record an id and the source."""
    _old_layout(dest)
    plan = _plan(dest, customers, disposition=disposition)
    result = load_resource(plan, dest.destination)
    again = load_resource(plan, dest.destination)  # a merge of the same rows writes nothing
    assert (result.rows_loaded, result.rows_rejected) == (ROWS, 0)
    with dest.destination.transaction() as tx:
        live = [column.name for column in tx.columns(dest.table("customer"))]
    assert live[-4:] == ["_dk_load_id", "_dk_loaded_at", "_dk_source", "_dk_record_hash"]
    rows = dest.query(
        f"SELECT _dk_load_id, _dk_loaded_at, _dk_source, count(*) FROM {dest.q('customer')} "
        "GROUP BY 1, 2, 3 ORDER BY 2"
    )
    loads = {
        (OLD_LOAD, START, "old.source", 1),
        (result.load_id, result.started_at, plan.source_label, ROWS),
    }
    if disposition == "append":
        loads.add((again.load_id, again.started_at, plan.source_label, ROWS))
    assert set(rows) == loads
    records = dest.query(f"SELECT load_id, id, source FROM {_state(dest)}.loads ORDER BY started_at")
    assert records == [
        (OLD_LOAD, None, None),
        (result.load_id, result.id, plan.source_label),
        (again.load_id, again.id, plan.source_label),
    ]
    assert result.id is not None and again.id == result.id + 1


def test_a_full_refresh_recreates_an_old_table_lean(dest: Target, customers: SourceDb) -> None:
    from datakit.load.plan import RunOptions

    _old_layout(dest)
    plan = _plan(dest, customers)
    result = load_resource(plan, dest.destination, RunOptions(full_refresh=True))
    with dest.destination.transaction() as tx:
        live = {column.name: column.type for column in tx.columns(dest.table("customer"))}
    assert "_dk_source" not in live and "_dk_loaded_at" not in live
    assert live["_dk_load_id"] == integer(64)
    assert dest.query(f"SELECT DISTINCT _dk_load_id FROM {dest.q('customer')}") == [(result.id,)]


def test_the_load_records_state_table_names_its_types() -> None:
    """`id` is a BIGINT (what bronze rows carry) and nullable (records from before it)."""
    layout = {name: (kind, nullable) for name, kind, nullable in state._LOADS_COLUMNS}
    assert layout["id"] == (integer(64), True)
    assert layout["source"][0].kind is TypeKind.STRING
    assert TableRef("loads", "_datakit") == TableRef(state.LOADS, STATE_SCHEMA)


def test_deploy_validation_reads_a_table_of_the_old_layout_as_before(dest: Target) -> None:
    """`deploy --validate` compares a table of the old layout with the contract as that layout holds it."""
    from datakit.contracts.audit import in_layout, with_audit_columns
    from datakit.load.drift import diff_schema

    _old_layout(dest)
    contract = with_audit_columns(customer_contract())
    with dest.destination.transaction() as tx:
        live = tx.columns(dest.table("customer"))
    engine = dest.destination.engine
    assert {d.column for d in diff_schema(contract, live, engine)} >= {"_dk_load_id", "_dk_source"}
    assert diff_schema(in_layout(contract, [c.name for c in live]), live, engine) == []
