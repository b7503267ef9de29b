"""Incremental loads: ties at the cursor value across batch and run boundaries, late rows, full refresh."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from datakit.load.loader import load_resource
from datakit.load.plan import IncrementalPlan, RunOptions
from tests.load.helpers import CUSTOMER_DDL, customer_contract, plan_for
from tests.matrix import WITH_SPARK, DuckDBTarget, SourceDb, SqliteSourceDb, Target

BASE = datetime(2024, 1, 1, tzinfo=UTC)


def insert(db: SourceDb, ids: range, minutes: Callable[[int], float]) -> None:
    """Insert `ids` with `updated` = BASE + `minutes(id)` minutes."""
    db.insert("customer", [(g, f"n{g}", g % 100, BASE + timedelta(minutes=minutes(g))) for g in ids])


def ids_in(dest: Target) -> list[int]:
    return [row[0] for row in dest.query(f"SELECT id FROM {dest.q('customer')} ORDER BY id")]


@pytest.mark.parametrize("disposition", ["append", "merge"])
@pytest.mark.parametrize("dest", WITH_SPARK, indirect=True)
def test_ties_and_late_rows(dest: Target, source_db: SourceDb, disposition: str) -> None:
    source_db.create("customer", CUSTOMER_DDL)
    insert(source_db, range(1, 101), lambda g: (g - 1) // 10)  # ten rows per value; 91..100 share 9 min
    incremental = IncrementalPlan("updated", initial_value=BASE, lag=timedelta(minutes=1))
    plan = plan_for(
        source_db.source,
        source_db.schema,
        "customer",
        customer_contract(),
        dest.table("customer"),
        disposition=disposition,
        incremental=incremental,
        batch_size=7,
        order_by=("updated", "id"),
    )
    first = load_resource(plan, dest.destination)
    assert first.cursor == BASE + timedelta(minutes=9)
    assert ids_in(dest) == list(range(1, 101))

    insert(source_db, range(101, 106), lambda _: 9)  # more rows at the saved cursor value
    insert(source_db, range(106, 121), lambda g: 10 + g % 3)  # later values
    insert(source_db, range(121, 122), lambda _: 8.5)  # late, but within the lag
    insert(source_db, range(122, 123), lambda _: 1)  # late beyond the lag: only a full refresh sees it
    second = load_resource(plan, dest.destination)
    assert second.rows_read == 20 + 5 + 15 + 1  # the window 8 min.. re-reads ids 81..100
    assert second.rows_read == second.rows_loaded + second.rows_rejected
    assert second.cursor == BASE + timedelta(minutes=12)
    assert ids_in(dest) == list(range(1, 122))

    third = load_resource(plan, dest.destination)  # nothing new: nothing changes
    assert third.cursor == second.cursor
    assert ids_in(dest) == list(range(1, 122))
    saved = dest.query(
        "SELECT cursor_type, cursor_value, load_id FROM _datakit.cursors WHERE target = $1",
        [str(dest.table("customer"))],
    )
    assert len(saved) == 1
    assert saved[0][0] == "datetime"
    assert datetime.fromisoformat(saved[0][1]) == BASE + timedelta(minutes=12)
    assert saved[0][2] == third.load_id

    refreshed = load_resource(plan, dest.destination, RunOptions(full_refresh=True))
    assert refreshed.rows_read == 122
    assert ids_in(dest) == list(range(1, 123))


def test_append_keeps_a_changed_row_reread_in_the_window(dest: Target, source_db: SourceDb) -> None:
    """A re-read row that changed is a new version (append keeps versions); an identical one is not."""
    source_db.create("customer", CUSTOMER_DDL)
    insert(source_db, range(1, 11), lambda g: g)
    incremental = IncrementalPlan("updated", initial_value=BASE)
    plan = plan_for(
        source_db.source,
        source_db.schema,
        "customer",
        customer_contract(),
        dest.table("customer"),
        incremental=incremental,
    )
    load_resource(plan, dest.destination)
    source_db.execute(f"UPDATE {source_db.q('customer')} SET name = 'changed' WHERE id = 10")
    load_resource(plan, dest.destination)
    rows = dest.query(f"SELECT id, name FROM {dest.q('customer')} WHERE id = 10 ORDER BY name")
    assert rows == [(10, "changed"), (10, "n10")]
    assert dest.count("customer") == 11


def test_a_sqlite_timestamp_column_keeps_its_rows_at_a_zoned_bound(tmp_path: Path) -> None:
    """SQLite keeps times as text: a TIMESTAMP column's naive text must meet a contract's zoned cursor."""
    db = SqliteSourceDb(tmp_path / "source.sqlite")
    db.execute(f"CREATE TABLE {db.q('customer')} (id integer, name text, score integer, updated timestamp)")
    naive = [(g, f"n{g}", g, (BASE + timedelta(minutes=g // 10)).replace(tzinfo=None)) for g in range(1, 31)]
    db.insert("customer", naive)  # ids 1..9 at BASE, the initial value; 30 at 3 min, the saved cursor
    dest = DuckDBTarget(tmp_path / "warehouse.duckdb", "bronze")
    incremental = IncrementalPlan("updated", initial_value=BASE)
    plan = plan_for(
        db.source, db.schema, "customer", customer_contract(), dest.table("customer"), incremental=incremental
    )
    assert load_resource(plan, dest.destination).rows_read == 30
    db.insert("customer", [(31, "n31", 31, (BASE + timedelta(minutes=3)).replace(tzinfo=None))])
    again = load_resource(plan, dest.destination)
    assert again.rows_read == 2  # ids 30 and 31, at the saved cursor
    assert ids_in(dest) == list(range(1, 32))
