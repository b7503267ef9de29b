"""`--full-refresh` of a selection, on DuckDB and PostgreSQL: the selected bronze tables are dropped and
reloaded with their cursors reset, the selected dbt models rebuilt from scratch, nothing else touched;
refused in prod without `--yes`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from datakit.config import load_project
from datakit.errors import UsageError
from datakit.orchestrate.run import refuse_full_refresh
from tests.cli.test_cli import run
from tests.matrix import ENGINES
from tests.orchestrate.pagila_runs import Warehouse, pagila_warehouse

LOG_MODEL = """\
{{ config(materialized='incremental') }}
select customer_id, '{{ invocation_id }}' as built_by from {{ ref('customer') }}
"""
"""An incremental model that appends every customer on every run: a full refresh starts it over."""
FUTURE = "2999-01-01T00:00:00+00:00"


@pytest.fixture(params=ENGINES)
def warehouse(
    request: pytest.FixtureRequest, tmp_path: Path, pg_dsn: str, pagila_dsn: str
) -> Iterator[Warehouse]:
    yield from pagila_warehouse(request.param, tmp_path, pg_dsn, pagila_dsn)


def _write(warehouse: Warehouse, statements: list[str]) -> None:
    """Change the warehouse behind datakit's back (as a stale or damaged warehouse would be)."""
    if warehouse.target.kind == "duckdb":
        import duckdb

        with duckdb.connect(warehouse.target.location) as conn:
            for statement in statements:
                conn.execute(statement)
        return
    import psycopg

    with psycopg.connect(warehouse.target.location, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)  # type: ignore[arg-type]


def _copy_row(table: str, key: str) -> list[str]:
    """Statements adding a copy of row 1 of `table` under key 100001 (a row the source does not have)."""
    stale = f"stale_{key}"
    return [
        f"create temporary table {stale} as select * from {table} where {key} = 1",
        f"update {stale} set {key} = 100001",
        f"insert into {table} select * from {stale}",
    ]


def test_full_refresh_of_a_selection(warehouse: Warehouse) -> None:
    (warehouse.root / "transform" / "pagila" / "models" / "silver" / "customer_log.sql").write_text(LOG_MODEL)
    selection = "+silver.customer_log +silver.store"
    for _ in range(2):
        assert warehouse.run_job("--select", selection)["status"] == "succeeded"
    assert warehouse.target.query("select count(*) from silver.customer_log") == [(2 * 599,)]
    bronze = "br__pagila__public"
    # stale state: a row the source no longer has, a column the contract no longer has, a rejected row,
    # a cursor past every row (a normal run would read nothing) — in customer, and a stale row in store
    _write(
        warehouse,
        [
            *_copy_row(f"{bronze}.customer", "customer_id"),
            f"alter table {bronze}.customer add column junk integer",
            # (clean loads made no rejected table: a stale one as an earlier load would have left it)
            f"create table if not exists {bronze}.customer__rejected (_dk_load_id text, "
            "_dk_row_index bigint, _dk_failed_rule text, _dk_reason text, _dk_rejected_at timestamptz)",
            f"insert into {bronze}.customer__rejected (_dk_load_id, _dk_row_index, _dk_failed_rule, "
            "_dk_reason, _dk_rejected_at) values ('old', 0, 'old', 'old', current_timestamp)",
            f"update _datakit.cursors set cursor_value = '{FUTURE}' where resource = 'customer'",
            *_copy_row(f"{bronze}.store", "store_id"),
        ],
    )

    refreshed = warehouse.run_job("--select", "+silver.customer_log", "--full-refresh")
    assert refreshed["status"] == "succeeded", refreshed
    assert set(refreshed["steps"]) == {f"{warehouse.pipeline}.customer", "silver"}
    assert warehouse.target.query(f"select count(*), max(customer_id) from {bronze}.customer") == [(599, 599)]
    columns = warehouse.target.query(
        "select column_name from information_schema.columns where table_schema = $1 and table_name = $2",
        [bronze, "customer"],
    )
    assert "junk" not in {row[0] for row in columns}  # dropped and created again from the contract
    rejected = warehouse.target.query(
        "select count(*) from information_schema.tables where table_schema = $1 and table_name = $2",
        [bronze, "customer__rejected"],
    )
    assert rejected == [(0,)]  # dropped by the refresh; its clean load made none
    cursor = warehouse.target.query("select cursor_value from _datakit.cursors where resource = 'customer'")
    assert cursor and cursor[0][0] != FUTURE  # reset, then saved anew from the rows read
    # the selected incremental model was rebuilt from scratch, once
    assert warehouse.target.query("select count(*), count(distinct built_by) from silver.customer_log") == [
        (599, 1)
    ]
    nodes = warehouse.dbt_nodes(refreshed["run_id"], "silver")
    assert {"silver.customer", "silver.customer_log"} <= set(nodes)
    assert "silver.store" not in nodes
    # what was not selected is as it was: store keeps its stale row
    assert warehouse.target.query(f"select count(*) from {bronze}.store where store_id > 100000") == [(1,)]


@pytest.mark.parametrize("engine", ["postgres"])
def test_a_table_views_read_is_emptied_not_dropped(
    engine: str, tmp_path: Path, pg_dsn: str, pagila_dsn: str
) -> None:
    for warehouse in pagila_warehouse(engine, tmp_path, pg_dsn, pagila_dsn):
        done = warehouse.datakit("run", "pipeline", warehouse.pipeline, "-r", "store", "--json")
        assert done.returncode == 0, done.stderr
        bronze = "br__pagila__public"
        _write(warehouse, [f"create view public.store_names as select store_id from {bronze}.store"])
        again = warehouse.datakit(
            "run", "pipeline", warehouse.pipeline, "-r", "store", "--full-refresh", "--json"
        )
        assert again.returncode == 0, again.stderr
        assert "not dropped: views read it: public.store_names" in again.stdout
        assert warehouse.target.query("select count(*) from public.store_names") == [(500,)]


def test_full_refresh_is_refused_in_prod_without_yes(tmp_path: Path, pg_dsn: str, pagila_dsn: str) -> None:
    for warehouse in pagila_warehouse("duckdb", tmp_path, pg_dsn, pagila_dsn):
        prod = warehouse.env | {"ENVIRONMENT": "prod"}
        for command in (
            ["run", "job", warehouse.job, "--select", "pagila_bronze.store", "--full-refresh"],
            ["run", "pipeline", warehouse.pipeline, "--full-refresh"],
        ):
            done = run("-p", str(warehouse.root), *command, env=prod)
            assert done.returncode == 2, done.stdout + done.stderr
            assert "full refresh in prod" in done.stderr and "--yes" in done.stderr
        project = load_project(warehouse.root, environment="prod")
        with pytest.raises(UsageError):
            refuse_full_refresh(project, confirmed=False)
        refuse_full_refresh(project, confirmed=True)  # --yes
        refuse_full_refresh(load_project(warehouse.root), confirmed=False)  # dev: no question


def test_yes_lets_a_full_refresh_run_in_prod(tmp_path: Path) -> None:
    """`--yes` reaches the refusal from each command line (the scaffold: SQLite into DuckDB, in prod)."""
    from datakit.config.scaffold import init_project

    root = tmp_path / "shop"
    init_project(root, name="shop")
    prod = {"ENVIRONMENT": "prod"}
    for command in (
        ["run", "job", "daily", "--select", "shop_bronze.customers", "--full-refresh", "--yes", "--json"],
        ["run", "pipeline", "shop_bronze", "--full-refresh", "--yes", "--json"],
    ):
        done = run("-p", str(root), *command, env=prod)
        assert done.returncode == 0, done.stdout + done.stderr
    assert (root / "warehouse-prod.duckdb").is_file()
