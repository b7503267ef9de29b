"""Write dispositions on both destinations: append, replace, merge (twice = identical), load records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from datakit.errors import DatakitError
from datakit.load.loader import load_resource
from datakit.load.plan import Progress, RunOptions
from tests.load.helpers import CUSTOMER_DDL, customer_contract, plan_for
from tests.matrix import WITH_SPARK, Row, SourceDb, Target

ROWS = 1000
START = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def customers(source_db: SourceDb) -> SourceDb:
    source_db.create("customer", CUSTOMER_DDL)
    source_db.insert(
        "customer",
        [(g, f"name {g}", g % 100, START + timedelta(minutes=g)) for g in range(1, ROWS + 1)],
    )
    return source_db


def snapshot(dest: Target, table: str = "customer") -> list[Row]:
    return dest.query(f"SELECT * FROM {dest.q(table)} ORDER BY id, _dk_load_id")


@pytest.mark.parametrize("dest", WITH_SPARK, indirect=True)
def test_append_twice_keeps_both_copies(dest: Target, customers: SourceDb) -> None:
    plan = plan_for(
        customers.source,
        customers.schema,
        "customer",
        customer_contract(),
        dest.table("customer"),
        batch_size=300,
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
    assert first.id is not None and second.id is not None and first.id < second.id
    audit = dest.query(  # every row joins its load record, which holds the source
        f"SELECT t._dk_load_id, count(*), min(l.load_id), min(l.source) FROM {dest.q('customer')} AS t "
        "JOIN _datakit.loads AS l ON l.id = t._dk_load_id GROUP BY 1 ORDER BY 1"
    )
    assert audit == [
        (first.id, ROWS, first.load_id, plan.source_label),
        (second.id, ROWS, second.load_id, plan.source_label),
    ]


def test_audit_columns_are_the_same_in_every_destination(dest: Target, customers: SourceDb) -> None:
    """DuckDB computes the audit columns inside its INSERT, PostgreSQL gets them as Arrow columns: the
    values must not depend on which one wrote them (a merge compares hashes across loads)."""
    import pyarrow as pa

    from datakit.connectors import ReadRequest
    from datakit.connectors.stamp import row_hash
    from datakit.contracts import to_arrow_schema

    customers.execute(f"UPDATE {customers.q('customer')} SET score = NULL WHERE id % 7 = 0")
    contract = customer_contract()
    plan = plan_for(
        customers.source, customers.schema, "customer", contract, dest.table("customer"), batch_size=300
    )
    result = load_resource(plan, dest.destination)
    read = pa.Table.from_batches(customers.source.read(ReadRequest(table=customers.ref("customer"))))
    typed = read.cast(to_arrow_schema(contract))  # as the contract types them (SQLite: from text)
    batch = typed.combine_chunks().to_batches()[0]
    hashes = row_hash(batch, contract.change_columns).to_pylist()
    expected = dict(zip(batch.column("id").to_pylist(), hashes, strict=True))
    rows = dest.query(f"SELECT id, _dk_record_hash, _dk_load_id FROM {dest.q('customer')}")
    assert {row[0]: row[1] for row in rows} == expected
    assert len(set(expected.values())) == ROWS  # distinct rows, distinct hashes
    assert {row[2] for row in rows} == {result.id}


@pytest.mark.parametrize("dest", WITH_SPARK, indirect=True)
def test_replace_refills(dest: Target, customers: SourceDb) -> None:
    plan = plan_for(
        customers.source,
        customers.schema,
        "customer",
        customer_contract(),
        dest.table("customer"),
        disposition="replace",
    )
    load_resource(plan, dest.destination)
    customers.execute(f"DELETE FROM {customers.q('customer')} WHERE id > 600")
    result = load_resource(plan, dest.destination)
    assert result.rows_loaded == 600
    assert dest.query(f"SELECT count(*), max(id), count(DISTINCT _dk_load_id) FROM {dest.q('customer')}") == [
        (600, 600, 1)
    ]


@pytest.mark.parametrize("dest", WITH_SPARK, indirect=True)
def test_merge_twice_gives_identical_tables(dest: Target, customers: SourceDb) -> None:
    seen: list[Progress] = []
    plan = plan_for(
        customers.source,
        customers.schema,
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

    customers.execute(f"UPDATE {customers.q('customer')} SET score = 42 WHERE id <= 10")
    customers.insert("customer", [(5000, "new", 1, datetime.now(UTC))])
    changed = load_resource(plan, dest.destination)
    rows = snapshot(dest)
    assert len(rows) == ROWS + 1
    by_id = {row[0]: row for row in rows}
    assert {by_id[i][2] for i in range(1, 11)} == {42}
    rewritten = {row[0] for row in rows if row[4] == changed.id}
    assert rewritten == {*range(1, 11), 5000}


@pytest.mark.parametrize("dest", WITH_SPARK, indirect=True)
def test_merge_dedupes_the_source_keeping_the_last_row(dest: Target, source_db: SourceDb) -> None:
    now = datetime.now(UTC)
    source_db.create("customer", f"{CUSTOMER_DDL}, seq int")
    source_db.insert("customer", [(g % 50, f"v{g}", g % 100, now, g) for g in range(1, 501)])
    plan = plan_for(
        source_db.source,
        source_db.schema,
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


def test_merge_without_key_is_a_clear_error(dest: Target, customers: SourceDb) -> None:
    contract = customer_contract(primary_key=[])
    plan = plan_for(
        customers.source, customers.schema, "customer", contract, dest.table("customer"), disposition="merge"
    )
    with pytest.raises(DatakitError, match="needs a key"):
        load_resource(plan, dest.destination)
    failed = dest.query(
        "SELECT status, error FROM _datakit.loads WHERE target = $1", [str(dest.table("customer"))]
    )
    assert len(failed) == 1
    assert failed[0][0] == "failed"
    assert "needs a key" in failed[0][1]


def test_a_failing_source_is_a_datakit_error_and_recorded(dest: Target, source_db: SourceDb) -> None:
    plan = plan_for(
        source_db.source, source_db.schema, "missing", customer_contract(), dest.table("customer")
    )
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
