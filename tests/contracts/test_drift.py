"""Drift between a contract and a live table, read from real DuckDB and PostgreSQL catalogs."""

from __future__ import annotations

from typing import Any

import duckdb
import psycopg
import pytest

from datakit.connectors.engines.duckdb.engine import DUCKDB
from datakit.connectors.engines.postgres.engine import POSTGRES
from datakit.contracts.spec import contract_from_spec
from datakit.load.drift import Drift, DriftKind, diff_schema
from tests.contracts.conftest import deploy_contracts, engine_of, live_columns

CONTRACT = contract_from_spec(
    {
        "table": "customer",
        "layer": "silver",
        "primary_key": ["customer_id"],
        "columns": {
            "customer_id": {"type": "integer"},
            "email": {"type": "string", "max_length": 50},
            "balance": {"type": "decimal"},
            "score": {"type": "float32"},
            "tags": {"type": "array<string>"},
            "joined": {"type": "timestamptz", "nullable": False},
        },
    }
)


@pytest.mark.parametrize("engine", ["duckdb", "postgresql"])
def test_a_fresh_deploy_has_no_drift(
    engine: str, duck: duckdb.DuckDBPyConnection, pg: psycopg.Connection[Any], pg_schema: str
) -> None:
    connection: Any = duck if engine == "duckdb" else pg
    deploy_contracts([CONTRACT], connection, pg_schema)
    live = live_columns(connection, "customer", pg_schema)
    assert [column.name for column in live] == list(CONTRACT.column_names)
    assert [str(column.type) for column in live] == [
        "int32",
        "string",
        "decimal(38,9)" if engine == "duckdb" else "decimal",
        "float32",
        "array<string>",
        "timestamptz",
    ]
    assert diff_schema(CONTRACT, live, engine_of(connection)) == []


def test_duckdb_drift(duck: duckdb.DuckDBPyConnection) -> None:
    deploy_contracts([CONTRACT], duck, "sv")
    duck.execute("ALTER TABLE sv.customer DROP COLUMN tags")
    duck.execute("ALTER TABLE sv.customer ADD COLUMN nickname VARCHAR")
    duck.execute("ALTER TABLE sv.customer ALTER COLUMN score TYPE DOUBLE")
    duck.execute("ALTER TABLE sv.customer ALTER COLUMN joined DROP NOT NULL")
    drifts = diff_schema(CONTRACT, live_columns(duck, "customer", "sv"), DUCKDB)
    assert drifts == [
        Drift(DriftKind.TYPE_CHANGED, "score", expected="float32", actual="DOUBLE", widening=True),
        Drift(DriftKind.MISSING, "tags", expected="array<string>"),
        Drift(DriftKind.NULLABILITY_CHANGED, "joined", expected="not null", actual="nullable", widening=True),
        Drift(DriftKind.EXTRA, "nickname", actual="VARCHAR"),
    ]
    assert [str(drift) for drift in drifts] == [
        "column 'score' is DOUBLE in the table, float32 in the contract (wider: contract values still fit)",
        "column 'tags' (array<string>) is missing from the table",
        "column 'joined' is nullable in the table, not null in the contract",
        "column 'nickname' (VARCHAR) is in the table but not in the contract",
    ]


def test_postgres_drift_sees_lengths_enums_and_domains(pg: psycopg.Connection[Any], pg_schema: str) -> None:
    deploy_contracts([CONTRACT], pg, pg_schema)
    table = f'"{pg_schema}".customer'
    pg.execute(f"ALTER TABLE {table} ALTER COLUMN email TYPE varchar(20)")
    pg.execute(f"ALTER TABLE {table} ALTER COLUMN customer_id TYPE bigint")
    pg.execute(f"CREATE TYPE \"{pg_schema}\".mood AS ENUM ('ok', 'meh')")
    pg.execute(f'CREATE DOMAIN "{pg_schema}".pct AS numeric(5,2) NOT NULL CHECK (VALUE BETWEEN 0 AND 100)')
    pg.execute(f'ALTER TABLE {table} ADD COLUMN mood "{pg_schema}".mood, ADD COLUMN share "{pg_schema}".pct')
    live = {column.name: column for column in live_columns(pg, "customer", pg_schema)}
    assert (str(live["mood"].type), live["mood"].nullable) == ("string", True)
    share = live["share"]  # the domain's base type and its NOT NULL
    assert (str(share.type), share.nullable) == ("decimal(5,2)", False)
    drifts = diff_schema(CONTRACT, list(live.values()), POSTGRES)
    assert drifts == [
        Drift(DriftKind.TYPE_CHANGED, "customer_id", expected="int32", actual="bigint", widening=True),
        Drift(
            DriftKind.TYPE_CHANGED,
            "email",
            expected="string, max length 50",
            actual="character varying(20)",
            widening=False,
        ),
        Drift(DriftKind.EXTRA, "mood", actual=f"{pg_schema}.mood"),
        Drift(DriftKind.EXTRA, "share", actual=f"{pg_schema}.pct"),
    ]


def test_absent_table_reports_every_column_missing(duck: duckdb.DuckDBPyConnection) -> None:
    drifts = diff_schema(CONTRACT, live_columns(duck, "customer", "nowhere"), DUCKDB)
    assert [drift.kind for drift in drifts] == [DriftKind.MISSING] * len(CONTRACT.columns)
