"""Schema drift at load time: added, dropped, retyped (widening, incompatible), in evolve and freeze.

Retyping needs a source whose types are exact (SQLite's declared types are hints): those tests read
PostgreSQL in both cases (`exact`); the others read the case's own source (`loaded`).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from datakit.contracts import Contract
from datakit.errors import DatakitError
from datakit.load.errors import DriftError
from datakit.load.loader import load_resource
from datakit.load.plan import DriftMode, ResourcePlan, RunOptions
from tests.load.helpers import CUSTOMER_DDL, CUSTOMER_SPEC, customer_contract, plan_for
from tests.matrix import PostgresSourceDb, SourceDb, Target

MODES = [DriftMode.EVOLVE, DriftMode.FREEZE]
NOW = datetime.now(UTC)


class Loaded:
    """A source table of ten rows, loaded once into `dest`; `plan` makes its plan in a drift mode."""

    def __init__(self, dest: Target, db: SourceDb) -> None:
        self.dest, self.db, self.table = dest, db, db.q("customer")
        db.create("customer", CUSTOMER_DDL)
        db.insert("customer", [(g, f"n{g}", g, NOW) for g in range(1, 11)])
        load_resource(self.plan(), dest.destination)

    def plan(self, mode: DriftMode = DriftMode.EVOLVE, contract: Contract | None = None) -> ResourcePlan:
        contract = contract or customer_contract()
        target = self.dest.table("customer")
        return plan_for(self.db.source, self.db.schema, "customer", contract, target, drift_mode=mode)


@pytest.fixture
def loaded(dest: Target, source_db: SourceDb) -> Loaded:
    return Loaded(dest, source_db)


@pytest.fixture
def exact(dest: Target, pg_source: PostgresSourceDb) -> Loaded:
    return Loaded(dest, pg_source)


def columns(dest: Target, table: str = "customer") -> dict[str, tuple[str, bool]]:
    rows = dest.query(
        "SELECT column_name, lower(data_type), is_nullable = 'YES' FROM information_schema.columns "
        "WHERE table_schema = $1 AND table_name = $2",
        [dest.schema, table],
    )
    return {name: (kind, nullable) for name, kind, nullable in rows}


def refused(dest: Target, plan: ResourcePlan, *phrases: str) -> None:
    """The load stops before loading anything, names every difference, and is recorded as failed."""
    before = dest.count("customer")
    with pytest.raises(DriftError) as caught:
        load_resource(plan, dest.destination)
    for phrase in phrases:
        assert phrase in str(caught.value)
    assert dest.count("customer") == before
    status = dest.query(
        "SELECT status FROM _datakit.loads WHERE target = $1 ORDER BY started_at DESC LIMIT 1",
        [str(dest.table("customer"))],
    )
    assert status == [("failed",)]


@pytest.mark.parametrize("mode", MODES)
def test_added_column(dest: Target, loaded: Loaded, mode: DriftMode) -> None:
    loaded.db.execute(f"ALTER TABLE {loaded.table} ADD COLUMN note text")
    # row 12 breaks the score's range: the rejected table, made by this load, has the new column too
    loaded.db.insert("customer", [(11, "eleven", 11, NOW, "hello"), (12, "twelve", 500, NOW, "bad")])
    if mode is DriftMode.FREEZE:
        refused(dest, loaded.plan(mode), "added column note")
        assert "note" not in columns(dest)
        return
    result = load_resource(loaded.plan(mode), dest.destination)
    assert result.schema_changes == (
        f"added column {dest.table('customer')}.note (text)",
    ) or result.schema_changes == (f"added column {dest.table('customer')}.note (varchar)",)
    assert columns(dest)["note"][1] is True
    assert "note" in columns(dest, "customer__rejected")
    assert dest.query(f"SELECT note FROM {dest.q('customer__rejected')}") == [("bad",)]
    assert dest.query(f"SELECT note FROM {dest.q('customer')} WHERE id = 11") == [("hello",)] * 1
    recorded = dest.query("SELECT schema_changes FROM _datakit.loads WHERE load_id = $1", [result.load_id])
    assert recorded == [(result.schema_changes[0],)]


@pytest.mark.parametrize("mode", MODES)
def test_dropped_column(dest: Target, loaded: Loaded, mode: DriftMode) -> None:
    """The table keeps a column the source and its contract no longer have (a reflected contract
    follows the source; a contract that still lists the column refuses to load, see test_missing)."""
    loaded.db.execute(f"ALTER TABLE {loaded.table} DROP COLUMN name")
    kept = {k: v for k, v in CUSTOMER_SPEC["columns"].items() if k != "name"}
    reflected = customer_contract(columns=kept)
    if mode is DriftMode.FREEZE:
        refused(dest, loaded.plan(mode, reflected), "dropped column name")
        return
    result = load_resource(loaded.plan(mode, reflected), dest.destination)
    assert result.schema_changes == (
        f"column {dest.table('customer')}.name is no longer in the source: kept, NOT NULL dropped",
    )
    assert columns(dest)["name"][1] is True
    rows = dest.query(f"SELECT count(*), count(name) FROM {dest.q('customer')}")
    assert rows == [(20, 10)]  # old rows keep their names, new rows carry NULL


@pytest.mark.parametrize("mode", MODES)
def test_retyped_widening(dest: Target, exact: Loaded, mode: DriftMode) -> None:
    exact.db.execute(f"ALTER TABLE {exact.table} ALTER COLUMN id TYPE bigint")
    exact.db.insert("customer", [(5000000000, "big", 1, NOW)])
    if mode is DriftMode.FREEZE:
        refused(dest, exact.plan(mode), "retyped column id is bigint in the source, integer in")
        return
    result = load_resource(exact.plan(mode), dest.destination)
    assert result.schema_changes == (f"widened column {dest.table('customer')}.id from integer to bigint",)
    assert columns(dest)["id"][0] == "bigint"
    assert dest.query(f"SELECT name FROM {dest.q('customer')} WHERE id = 5000000000") == [("big",)]
    assert result.rows_rejected == 0


@pytest.mark.parametrize("mode", MODES)
def test_retyped_incompatible(dest: Target, exact: Loaded, mode: DriftMode) -> None:
    exact.db.execute(f"ALTER TABLE {exact.table} ALTER COLUMN score TYPE boolean USING score > 5")
    if mode is DriftMode.FREEZE:
        refused(dest, exact.plan(mode), "retyped column score is boolean in the source, integer in")
        return
    refused(
        dest,
        exact.plan(mode),
        "cannot change",
        "column score is boolean in the source, integer in",
        "--full-refresh",
    )
    result = load_resource(exact.plan(mode), dest.destination, RunOptions(full_refresh=True))
    assert columns(dest)["score"][0] == "boolean"
    assert dest.query(f"SELECT count(*), count(*) FILTER (WHERE score) FROM {dest.q('customer')}") == [
        (10, 5)
    ]
    assert result.schema_changes == (  # the table is created again from the contract, then retyped
        f"dropped and recreated {dest.table('customer')} (full refresh)",
        f"retyped column {dest.table('customer')}.score from integer to boolean (full refresh)",
    )


def test_drift_error_is_a_datakit_error() -> None:
    assert issubclass(DriftError, DatakitError)


def test_a_drift_error_names_the_datakit_version_the_table_came_from(
    dest: Target, source_db: SourceDb
) -> None:
    """The load that created the table recorded its datakit version in `_datakit.tables`; a later load
    with another version that drifts says both."""
    from dataclasses import replace

    source_db.create("customer", CUSTOMER_DDL)
    source_db.insert("customer", [(g, f"n{g}", g, NOW) for g in range(1, 4)])
    target = dest.table("customer")
    first = plan_for(source_db.source, source_db.schema, "customer", customer_contract(), target)
    load_resource(replace(first, contract_origin=("shop", "1.0.0")), dest.destination)
    recorded = dest.query(
        "SELECT datakit, datakit_version, recorded_by FROM _datakit.tables WHERE table_name = 'customer' "
        "AND schema_name = $1",
        [dest.schema],
    )
    assert [(k, v) for k, v, _ in recorded] == [("shop", "1.0.0")]
    assert recorded[0][2].startswith("load ")

    source_db.execute(f"ALTER TABLE {source_db.q('customer')} ADD COLUMN note text")
    second = plan_for(
        source_db.source,
        source_db.schema,
        "customer",
        customer_contract(),
        target,
        drift_mode=DriftMode.FREEZE,
    )
    refused(
        dest,
        replace(second, contract_origin=("shop", "2.0.0")),
        "added column note",
        "(the table was deployed from datakit shop 1.0.0; this load's contract is shop 2.0.0)",
    )
