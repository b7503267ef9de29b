"""Write dispositions on both destinations: append, replace, merge (twice = identical), load records."""

from __future__ import annotations

from typing import Any

import pytest

from datakit.errors import DatakitError
from datakit.load.loader import load_resource
from datakit.load.plan import Progress, RunOptions
from tests.load.helpers import CUSTOMER_DDL, customer_contract, plan_for

ROWS = 1000


@pytest.fixture
def customers(source_schema: str, pg_exec: Any) -> str:
    pg_exec(f'CREATE TABLE "{source_schema}".customer ({CUSTOMER_DDL})')
    pg_exec(
        f"""INSERT INTO "{source_schema}".customer
        SELECT g, 'name ' || g, g % 100, timestamptz '2024-01-01' + g * interval '1 minute'
        FROM generate_series(1, {ROWS}) g"""
    )
    return source_schema


def snapshot(dest: Any, table: str = "customer") -> list[tuple[Any, ...]]:
    return dest.query(f"SELECT * FROM {dest.q(table)} ORDER BY id, _dk_load_id")


def test_append_twice_keeps_both_copies(dest: Any, source: Any, customers: str) -> None:
    plan = plan_for(
        source, customers, "customer", customer_contract(), dest.table("customer"), batch_size=300
    )
    first = load_resource(plan, dest.destination)
    second = load_resource(plan, dest.destination)
    assert (first.rows_read, first.rows_loaded, first.rows_rejected) == (ROWS, ROWS, 0)
    assert second.rows_loaded == ROWS
    assert dest.count("customer") == 2 * ROWS
    loads = dest.query(
        "SELECT load_id, status, rows_read, rows_loaded, rows_rejected FROM _datakit.loads "
        "WHERE target = $1 ORDER BY started_at",
        [str(dest.table("customer"))],
    )
    assert loads == [
        (first.load_id, "succeeded", ROWS, ROWS, 0),
        (second.load_id, "succeeded", ROWS, ROWS, 0),
    ]
    audit = dest.query(
        f"SELECT _dk_load_id, count(*), count(DISTINCT _dk_loaded_at), min(_dk_source) "
        f"FROM {dest.q('customer')} GROUP BY 1 ORDER BY 1"
    )
    assert sorted(audit) == sorted(
        [
            (first.load_id, ROWS, 1, f"test.{customers}.customer"),
            (second.load_id, ROWS, 1, f"test.{customers}.customer"),
        ]
    )


def test_audit_columns_are_the_same_in_every_destination(
    dest: Any, source: Any, customers: str, pg_exec: Any
) -> None:
    """DuckDB computes the audit columns inside its INSERT, PostgreSQL gets them as Arrow columns: the
    values must not depend on which one wrote them (a merge compares hashes across loads)."""
    import pyarrow as pa

    from datakit.connectors import ReadRequest, TableRef
    from datakit.connectors.stamp import row_hash

    pg_exec(f'UPDATE "{customers}".customer SET score = NULL WHERE id % 7 = 0')
    contract = customer_contract()
    result = load_resource(
        plan_for(source, customers, "customer", contract, dest.table("customer"), batch_size=300),
        dest.destination,
    )
    read = pa.Table.from_batches(source.read(ReadRequest(table=TableRef("customer", customers))))
    batch = read.combine_chunks().to_batches()[0]
    hashes = row_hash(batch, contract.change_columns).to_pylist()
    expected = dict(zip(batch.column("id").to_pylist(), hashes, strict=True))
    rows = dest.query(
        f"SELECT id, _dk_record_hash, _dk_load_id, _dk_loaded_at, _dk_source FROM {dest.q('customer')}"
    )
    assert {row[0]: row[1] for row in rows} == expected
    assert len(set(expected.values())) == ROWS  # distinct rows, distinct hashes
    assert {row[2:] for row in rows} == {(result.load_id, result.started_at, f"test.{customers}.customer")}


def test_replace_refills(dest: Any, source: Any, customers: str, pg_exec: Any) -> None:
    plan = plan_for(
        source, customers, "customer", customer_contract(), dest.table("customer"), disposition="replace"
    )
    load_resource(plan, dest.destination)
    pg_exec(f'DELETE FROM "{customers}".customer WHERE id > 600')
    result = load_resource(plan, dest.destination)
    assert result.rows_loaded == 600
    assert dest.query(f"SELECT count(*), max(id), count(DISTINCT _dk_load_id) FROM {dest.q('customer')}") == [
        (600, 600, 1)
    ]


def test_merge_twice_gives_identical_tables(dest: Any, source: Any, customers: str, pg_exec: Any) -> None:
    seen: list[Progress] = []
    plan = plan_for(
        source,
        customers,
        "customer",
        customer_contract(),
        dest.table("customer"),
        disposition="merge",
        batch_size=128,
    )
    load_resource(plan, dest.destination, RunOptions(progress=seen.append))
    once = snapshot(dest)
    again = load_resource(plan, dest.destination)
    assert snapshot(dest) == once  # unchanged rows are not rewritten: not even their audit columns
    assert again.rows_loaded == ROWS
    assert len(seen) == 8  # one report per batch, counts growing to the total
    assert (seen[-1].rows_read, seen[-1].rows_loaded, seen[-1].rows_rejected) == (ROWS, ROWS, 0)

    pg_exec(f'UPDATE "{customers}".customer SET score = 42 WHERE id <= 10')
    pg_exec(f"INSERT INTO \"{customers}\".customer VALUES (5000, 'new', 1, now())")
    changed = load_resource(plan, dest.destination)
    rows = snapshot(dest)
    assert len(rows) == ROWS + 1
    by_id = {row[0]: row for row in rows}
    assert {by_id[i][2] for i in range(1, 11)} == {42}
    rewritten = {row[0] for row in rows if row[4] == changed.load_id}
    assert rewritten == {*range(1, 11), 5000}


def test_merge_dedupes_the_source_keeping_the_last_row(
    dest: Any, source: Any, source_schema: str, pg_exec: Any
) -> None:
    pg_exec(f'CREATE TABLE "{source_schema}".customer ({CUSTOMER_DDL}, seq int)')
    pg_exec(
        f"""INSERT INTO "{source_schema}".customer
        SELECT g % 50, 'v' || g, g % 100, now(), g FROM generate_series(1, 500) g"""
    )
    plan = plan_for(
        source,
        source_schema,
        "customer",
        customer_contract(),
        dest.table("customer"),
        disposition="merge",
        batch_size=64,
        order_by=("seq",),
    )
    load_resource(plan, dest.destination)
    rows = dest.query(f"SELECT id, name FROM {dest.q('customer')} ORDER BY id")
    assert rows == [(i, f"v{450 + i if i else 500}") for i in range(50)]


def test_merge_without_key_is_a_clear_error(dest: Any, source: Any, customers: str) -> None:
    contract = customer_contract(primary_key=[])
    plan = plan_for(source, customers, "customer", contract, dest.table("customer"), disposition="merge")
    with pytest.raises(DatakitError, match="needs a key"):
        load_resource(plan, dest.destination)
    failed = dest.query(
        "SELECT status, error FROM _datakit.loads WHERE target = $1", [str(dest.table("customer"))]
    )
    assert len(failed) == 1
    assert failed[0][0] == "failed"
    assert "needs a key" in failed[0][1]


def test_a_failing_source_is_a_datakit_error_and_recorded(dest: Any, source: Any, source_schema: str) -> None:
    plan = plan_for(source, source_schema, "missing", customer_contract(), dest.table("customer"))
    with pytest.raises(DatakitError, match="missing") as caught:
        load_resource(plan, dest.destination)
    assert "Traceback" not in str(caught.value)
    recorded = dest.query(
        "SELECT status, rows_read, error FROM _datakit.loads WHERE target = $1", [str(dest.table("customer"))]
    )
    assert len(recorded) == 1
    assert recorded[0][:2] == ("failed", 0)
    assert "missing" in recorded[0][2]
    assert dest.query(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1", [dest.schema]
    ) == [(0,)]
