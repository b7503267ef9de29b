"""Selected runs of the Pagila job end to end (`datakit run job --select`), on DuckDB and PostgreSQL:
only the selected loads and dbt nodes run, and `state:failed` re-runs exactly what did not succeed.

Pagila is read from the test server; the DuckDB warehouse is a file in tmp, the PostgreSQL one a scratch
database. Runs are subprocesses, as a user's are; the test reads the warehouse and run history after.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.matrix import ENGINES
from tests.orchestrate.pagila_runs import Warehouse, pagila_warehouse
from tests.orchestrate.test_selection import CUSTOMER_TESTS, RENTAL_TESTS

RENTAL_TO_CUSTOMER = "silver.relationships_rental_customer_id__customer_id__ref_customer_"
"""Run with both models chosen, the test between them runs too (and is skipped when rental fails)."""
BROKEN = "select no_such_column from {{ source('br__pagila__public', 'rental') }}\n"


@pytest.fixture(params=ENGINES)
def warehouse(
    request: pytest.FixtureRequest, tmp_path: Path, pg_dsn: str, pagila_dsn: str
) -> Iterator[Warehouse]:
    yield from pagila_warehouse(request.param, tmp_path, pg_dsn, pagila_dsn)


def test_a_selected_run_loads_and_builds_only_the_selection(warehouse: Warehouse) -> None:
    first = warehouse.run_job("--select", "+silver.customer")
    assert first["status"] == "succeeded", first
    assert first["steps"] == {f"{warehouse.pipeline}.customer": "succeeded", "silver": "succeeded"}
    assert warehouse.tables("br__pagila__public") >= {"customer"}
    assert "rental" not in warehouse.tables("br__pagila__public")  # not loaded
    assert warehouse.tables("silver") == {"customer"}  # the one model built
    assert warehouse.target.query("select count(*) from silver.customer") == [(599,)]
    nodes = warehouse.dbt_nodes(first["run_id"], "silver")
    assert set(nodes) == {"silver.customer", *CUSTOMER_TESTS}
    assert set(nodes.values()) <= {"success", "pass"}


def test_state_failed_reruns_exactly_what_did_not_succeed(warehouse: Warehouse) -> None:
    model = warehouse.root / "transform" / "pagila" / "models" / "silver" / "rental.sql"
    good = model.read_text()
    model.write_text(BROKEN)
    first = warehouse.run_job("--select", "+silver.customer +silver.rental")
    assert first["status"] == "failed"
    loads = {f"{warehouse.pipeline}.customer", f"{warehouse.pipeline}.rental"}
    if warehouse.target.kind == "duckdb":  # one writer: the selected loads are one step
        loads = {f"{warehouse.pipeline}.customer+rental"}
    assert first["steps"] == dict.fromkeys(loads, "succeeded") | {"silver": "failed"}
    statuses = warehouse.dbt_nodes(first["run_id"], "silver")
    assert statuses["silver.rental"] == "error"
    assert statuses["silver.customer"] == "success"

    planned = warehouse.plan("--select", "state:failed")
    assert [s["id"] for s in planned["steps"]] == ["silver"]  # the loads succeeded: not again
    labels = planned["selection"]["labels"]
    failed_part = {"silver.rental", *RENTAL_TESTS, RENTAL_TO_CUSTOMER}
    assert {labels[n] for n in planned["selection"]["nodes"]["silver"]} == failed_part

    model.write_text(good)
    second = warehouse.run_job("--select", "state:failed")
    assert second["status"] == "succeeded", second
    assert second["steps"] == {"silver": "succeeded"}
    rerun = warehouse.dbt_nodes(second["run_id"], "silver")
    assert set(rerun) == failed_part
    assert warehouse.tables("silver") == {"customer", "rental"}

    nothing = warehouse.datakit("plan", "job", warehouse.job, "--select", "state:failed")
    assert nothing.returncode == 2
    assert f"nothing failed in run {second['run_id']}" in nothing.stderr


def test_state_failed_after_a_failed_load_reruns_the_load_and_what_it_held_back(warehouse: Warehouse) -> None:
    source = warehouse.root / "config" / "sources" / "pagila.yaml"
    good = source.read_text()
    source.write_text(good.replace("    - name: store\n", "    - name: store\n      table: no_such_store\n"))
    first = warehouse.run_job("--select", "+silver.store")
    assert first["status"] == "failed"
    assert first["steps"] == {f"{warehouse.pipeline}.store": "failed", "silver": "skipped"}

    source.write_text(good)
    second = warehouse.run_job("--select", "state:failed")
    assert second["status"] == "succeeded", second
    assert second["steps"] == {f"{warehouse.pipeline}.store": "succeeded", "silver": "succeeded"}
    nodes = warehouse.dbt_nodes(second["run_id"], "silver")
    assert "silver.store" in nodes and all(name.split(".")[1].find("store") >= 0 for name in nodes)
    assert warehouse.tables("silver") == {"store"}
