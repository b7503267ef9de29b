"""A tiny dbt project over the example's bronze tables, and bronze rows written straight into them.

The datakit project is a copy of examples/pagila (its contracts decide the bronze tables); bronze is
deployed from the datakit's contracts (`deploy_datakit`) and filled with a few rows by plain SQL, so
the tests exercise dbt, not the loader.
"""

from __future__ import annotations

from pathlib import Path

from datakit.config.project import Project
from datakit.load.deploy import deploy_datakit

DBT_DIR = "transform/tiny"
BRONZE = "br__pagila__public"
CATEGORY_ROWS = [(1, "Action"), (2, "Comedy"), (3, "Drama")]

DBT_PROJECT = """\
name: tiny
version: "1.0"
config-version: 2
profile: tiny
models:
  tiny:
    +materialized: table
"""
GOOD_MODEL = (
    "select category_id, upper(name) as name_upper from {{ source('br__pagila__public', 'category') }}\n"
)
TENANT_MODEL = 'select \'{{ var("tenant", "nobody") }}\' as tenant\n'
BROKEN_MODEL = "select no_such_column from {{ source('br__pagila__public', 'language') }}\n"


def write_dbt_project(root: Path) -> Path:
    """`transform/tiny` under the datakit project: a model that works, one that
    reads a warehouse variable, one that the database rejects."""
    folder = root / DBT_DIR
    (folder / "models").mkdir(parents=True)
    (folder / "dbt_project.yml").write_text(DBT_PROJECT)
    (folder / "models" / "categories.sql").write_text(GOOD_MODEL)
    (folder / "models" / "broken.sql").write_text(BROKEN_MODEL)
    (folder / "models" / "tenant.sql").write_text(TENANT_MODEL)
    return folder


def insert_sql(rows: list[tuple[int, str]], placeholder: str) -> tuple[str, list[tuple[object, ...]]]:
    """INSERT of category rows with the audit columns the loader would write."""
    columns = "category_id, name, last_update, _dk_load_id, _dk_record_hash"
    values = ", ".join([placeholder] * 5)
    statement = f"INSERT INTO {BRONZE}.category ({columns}) VALUES ({values})"
    params: list[tuple[object, ...]] = [(key, name, "2024-01-01 00:00:00", 1, key) for key, name in rows]
    return statement, params


def bronze_duckdb(project: Project, rows: list[tuple[int, str]]) -> Path:
    """Deploy the bronze tables into the project's DuckDB warehouse and add category rows; its path."""
    import duckdb

    deploy_datakit(project, "pagila", "local_duckdb")
    path = project.root / "warehouse.duckdb"
    with duckdb.connect(str(path)) as connection:
        statement, params = insert_sql(rows, "?")
        connection.executemany(statement, params)
    return path


def bronze_postgres(project: Project, dsn: str, rows: list[tuple[int, str]]) -> None:
    """Deploy the bronze tables into the PostgreSQL warehouse at `dsn` and add category rows."""
    import psycopg

    deploy_datakit(project, "pagila", "warehouse_pg")
    with psycopg.connect(dsn, autocommit=True) as connection, connection.cursor() as cursor:
        statement, params = insert_sql(rows, "%s")
        cursor.executemany(statement, params)
