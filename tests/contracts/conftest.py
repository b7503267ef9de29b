"""Fixtures for contract tests: real DuckDB, real PostgreSQL schemas and a private Pagila database.

Every PostgreSQL object a test creates has a unique name and is dropped afterwards, so tests run in
parallel (pytest -n) without meeting each other.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import duckdb
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from datakit.connectors import Column, Engine, PostgresParams, TableRef
from datakit.connectors.engines.duckdb.destination import DuckDBTransaction
from datakit.connectors.engines.duckdb.engine import DUCKDB
from datakit.connectors.engines.postgres.destination import PostgresTransaction
from datakit.connectors.engines.postgres.engine import POSTGRES
from datakit.contracts.model import Contract, Layer, LayerRules


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def with_dbname(dsn: str, dbname: str) -> str:
    return make_conninfo("", **{**conninfo_to_dict(dsn), "dbname": dbname})


@pytest.fixture
def duck() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    yield connection
    connection.close()


@pytest.fixture
def pg(pg_dsn: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(pg_dsn, autocommit=True) as connection:
        yield connection


@pytest.fixture
def pg_schema(pg: psycopg.Connection[Any]) -> Iterator[str]:
    """A schema name of this test's own; the schema is dropped afterwards (created by the code under test)."""
    name = unique_name("dk_ct")
    yield name
    pg.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def sqlalchemy_url(dsn: str) -> str:
    """The SQLAlchemy URL (psycopg 3 driver) of a libpq DSN."""
    params = conninfo_to_dict(dsn)
    password = f":{params['password']}" if params.get("password") else ""
    port = f":{params['port']}" if params.get("port") else ""
    return f"postgresql+psycopg://{params['user']}{password}@{params['host']}{port}/{params['dbname']}"


def engine_of(connection: Any) -> Engine:
    """The engine of a raw duckdb or psycopg connection."""
    return DUCKDB if isinstance(connection, duckdb.DuckDBPyConnection) else POSTGRES


def deploy_contracts(
    contracts: Sequence[Contract],
    connection: Any,
    schema: str,
    *,
    layer_rules: LayerRules | Layer | str | None = None,
) -> list[str]:
    """Create `schema` and the contracts' tables in one transaction, with the DDL the connection's engine
    writes (`Engine.create_tables_sql`, what `datakit deploy` runs); returns the statements."""
    engine = engine_of(connection)
    statements = [
        engine.create_schema_sql(schema),
        *engine.create_tables_sql(contracts, schema, layer_rules=layer_rules),
    ]
    if isinstance(connection, duckdb.DuckDBPyConnection):
        connection.execute("BEGIN TRANSACTION")
        try:
            for statement in statements:
                connection.execute(statement)
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
    else:
        with connection.transaction():
            for statement in statements:
                connection.execute(statement)
    return statements


def live_columns(connection: Any, table: str, schema: str) -> list[Column]:
    """The columns of `schema.table` as the engine's catalog read gives them (what drift compares)."""
    if isinstance(connection, duckdb.DuckDBPyConnection):
        return DuckDBTransaction(connection).columns(TableRef(table, schema))
    params = PostgresParams.from_dsn(connection.info.dsn)
    return PostgresTransaction(connection, params).columns(TableRef(table, schema))
