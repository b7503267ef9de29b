"""Incremental loads: ties at the cursor value across batch and run boundaries, late rows, full refresh."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from datakit.load.loader import load_resource
from datakit.load.plan import IncrementalPlan, RunOptions
from tests.load.helpers import CUSTOMER_DDL, customer_contract, plan_for

BASE = datetime(2024, 1, 1, tzinfo=UTC)


def insert(pg_exec: Any, schema: str, ids: range, minutes: str) -> None:
    """Insert `ids` with `updated` = BASE + `minutes` (an SQL expression of g, the id)."""
    pg_exec(
        f"""INSERT INTO "{schema}".customer SELECT g, 'n' || g, g % 100,
        timestamptz '2024-01-01 00:00:00+00' + ({minutes}) * interval '1 minute'
        FROM generate_series({ids.start}, {ids.stop - 1}) g"""
    )


def ids_in(dest: Any) -> list[int]:
    return [row[0] for row in dest.query(f"SELECT id FROM {dest.q('customer')} ORDER BY id")]


@pytest.mark.parametrize("disposition", ["append", "merge"])
def test_ties_and_late_rows(
    dest: Any, source: Any, source_schema: str, pg_exec: Any, disposition: str
) -> None:
    pg_exec(f'CREATE TABLE "{source_schema}".customer ({CUSTOMER_DDL})')
    insert(pg_exec, source_schema, range(1, 101), "(g - 1) / 10")  # ten rows per value; 91..100 share 9 min
    incremental = IncrementalPlan("updated", initial_value=BASE, lag=timedelta(minutes=1))
    plan = plan_for(
        source,
        source_schema,
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

    insert(pg_exec, source_schema, range(101, 106), "9")  # more rows at the saved cursor value
    insert(pg_exec, source_schema, range(106, 121), "10 + g % 3")  # later values
    insert(pg_exec, source_schema, range(121, 122), "8.5")  # late, but within the lag
    insert(pg_exec, source_schema, range(122, 123), "1")  # late beyond the lag: only a full refresh sees it
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


def test_append_keeps_a_changed_row_reread_in_the_window(
    dest: Any, source: Any, source_schema: str, pg_exec: Any
) -> None:
    """A re-read row that changed is a new version (append keeps versions); an identical one is not."""
    pg_exec(f'CREATE TABLE "{source_schema}".customer ({CUSTOMER_DDL})')
    insert(pg_exec, source_schema, range(1, 11), "g")
    incremental = IncrementalPlan("updated", initial_value=BASE)
    plan = plan_for(
        source,
        source_schema,
        "customer",
        customer_contract(),
        dest.table("customer"),
        incremental=incremental,
    )
    load_resource(plan, dest.destination)
    pg_exec(f'UPDATE "{source_schema}".customer SET name = $$changed$$ WHERE id = 10')
    load_resource(plan, dest.destination)
    rows = dest.query(f"SELECT id, name FROM {dest.q('customer')} WHERE id = 10 ORDER BY name")
    assert rows == [(10, "changed"), (10, "n10")]
    assert dest.count("customer") == 11
