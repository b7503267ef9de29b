"""Fixtures for contract tests: real DuckDB, real PostgreSQL schemas and a private Pagila database.

Every PostgreSQL object a test creates has a unique name and is dropped afterwards, so tests run in
parallel (pytest -n) without meeting each other.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import duckdb
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo


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
