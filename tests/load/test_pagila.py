"""Every Pagila table into bronze, on both destinations: row counts and per-column checksums as the source.

Pagila is read from PostgreSQL in both cases: its arrays, enums, domains and tsvector have no SQLite form.
"""

from __future__ import annotations

from typing import Any

from datakit.connectors import Column, PostgresParams, ReadRequest, TableRef, open_source
from datakit.connectors.reflection import reflect_database
from datakit.load.loader import load_resource
from datakit.load.plan import ResourcePlan
from tests.connectors.checksums import _normal, arrow_checksums, kind, pg_checksums, pg_sql
from tests.matrix import DuckDBTarget, PostgresTarget, Target
from tests.pagila import UNSCALED_ROWS


def target_pg_checksums(dest: PostgresTarget, table: str, columns: list[Column]) -> dict[str, Any]:
    """As `pg_checksums`, on the bronze copy: character(n) was loaded padded, as the source stores it."""
    import psycopg

    parts = ["count(*)"]
    for column in columns:
        c = f'"{column.name}"'
        aggregate = pg_sql(column)
        if kind(column) == "bpchar":
            aggregate = f"md5(string_agg(rtrim({c}::text), E'\\x1f' ORDER BY rtrim({c}::text) COLLATE \"C\"))"
        parts.append(f"count({c}), {aggregate}")
    with psycopg.connect(dest.dsn) as conn:
        row = conn.execute(f"SELECT {', '.join(parts)} FROM {dest.q(table)}").fetchone()
    assert row is not None
    out: dict[str, Any] = {"#rows": row[0]}
    for i, column in enumerate(columns):
        out[column.name] = (row[1 + 2 * i], _normal(row[2 + 2 * i]))
    return out


def target_duckdb_checksums(dest: DuckDBTarget, table: str, columns: list[Column]) -> dict[str, Any]:
    import duckdb

    with duckdb.connect(str(dest.path)) as conn:
        data = conn.sql(f"SELECT * FROM {dest.q(table)}").to_arrow_table()
    return arrow_checksums(data, columns)


def test_pagila_to_bronze(dest: Target, pagila_dsn: str) -> None:
    import psycopg

    source = open_source(PostgresParams.from_dsn(pagila_dsn))
    import sqlalchemy as sa

    engine = sa.create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(pagila_dsn))
    try:
        contracts = reflect_database(engine, "public", system="pagila", layer="bronze")
    finally:
        engine.dispose()
    assert sorted(c.name for c in contracts) == sorted(UNSCALED_ROWS)
    for contract in contracts:
        ref = TableRef(contract.name, "public")
        plan = ResourcePlan(
            pipeline="pagila_bronze",
            resource=contract.name,
            source=source,
            request=ReadRequest(table=ref),
            contract=contract,
            target=dest.table(contract.name),
            source_label=f"pagila.public.{contract.name}",
            write_disposition="replace",
        )
        result = load_resource(plan, dest.destination)
        assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (
            UNSCALED_ROWS[contract.name],
            UNSCALED_ROWS[contract.name],
            0,
        ), contract.name
        assert result.schema_changes == (), contract.name
        columns = source.columns(ref)
        with psycopg.connect(pagila_dsn) as conn:
            expected = pg_checksums(conn, f'public."{contract.name}"', columns)
        if isinstance(dest, PostgresTarget):
            actual = target_pg_checksums(dest, contract.name, columns)
        else:
            assert isinstance(dest, DuckDBTarget)
            actual = target_duckdb_checksums(dest, contract.name, columns)
        assert actual == expected, contract.name
