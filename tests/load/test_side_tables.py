"""A load makes the side tables it needs and no others (issue 21 item 2): a clean append leaves the
target alone in its schema — no rejected table, no stage left behind — while a load that rejects a row
makes the rejected table then. The held connection (`Destination.held`) serves several loads in turn."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from datakit.load.loader import load_resource
from datakit.load.plan import IncrementalPlan
from tests.load.helpers import CUSTOMER_DDL, customer_contract, plan_for
from tests.matrix import SourceDb, Target

BASE = datetime(2024, 1, 1, tzinfo=UTC)


def tables(dest: Target) -> list[str]:
    """The tables and views of the test's schema (temporary stages included, on both engines)."""
    rows = dest.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 OR table_name LIKE $2 "
        "ORDER BY 1",
        [dest.schema, "%dk_stage%"],
    )
    return [str(name) for (name,) in rows]


@pytest.mark.parametrize("incremental", [False, True], ids=["full", "incremental"])
def test_a_clean_append_makes_no_rejected_or_stage_table(
    dest: Target, source_db: SourceDb, incremental: bool
) -> None:
    source_db.create("customer", CUSTOMER_DDL)
    source_db.insert("customer", [(g, f"n{g}", g, BASE + timedelta(minutes=g)) for g in range(1, 4)])
    plan = plan_for(
        source_db.source,
        source_db.schema,
        "customer",
        customer_contract(),
        dest.table("customer"),
        incremental=IncrementalPlan("updated", initial_value=BASE) if incremental else None,
    )
    with dest.destination.held():  # two loads on one connection, as a grouped step makes them
        first = load_resource(plan, dest.destination)
        source_db.insert("customer", [(4, "n4", 4, BASE + timedelta(minutes=4))])
        second = load_resource(plan, dest.destination)

    assert (first.rows_loaded, first.rows_rejected) == (3, 0)
    # incremental: the window from the saved cursor (inclusive: row 3 again, already there), else all
    assert second.rows_loaded == (2 if incremental else 4)
    assert tables(dest) == ["customer"]
    assert dest.count("customer") == (4 if incremental else 7)
    recorded = dest.query(
        "SELECT status FROM _datakit.loads WHERE load_id IN ($1, $2)", [first.load_id, second.load_id]
    )
    assert recorded == [("succeeded",), ("succeeded",)]


def test_a_rejected_row_makes_the_rejected_table(dest: Target, source_db: SourceDb) -> None:
    source_db.create("customer", CUSTOMER_DDL)
    source_db.insert("customer", [(1, "one", 1, BASE)])
    plan = plan_for(
        source_db.source, source_db.schema, "customer", customer_contract(), dest.table("customer")
    )
    load_resource(plan, dest.destination)
    assert tables(dest) == ["customer"]

    source_db.insert("customer", [(2, "two", 500, BASE)])  # a score out of range
    result = load_resource(plan, dest.destination)
    assert result.rows_rejected == 1
    assert tables(dest) == ["customer", "customer__rejected"]
    assert dest.query(f"SELECT id, _dk_failed_rule FROM {dest.q('customer__rejected')}") == [("2", "range")]
