"""Fixtures of the loader tests: a scratch source schema in PostgreSQL, and each destination kind.

Every test that takes `dest` runs once per destination (PostgreSQL, DuckDB), in its own schema or file,
so tests run in parallel (`-n auto`) without seeing each other.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from datakit.connectors import (
    Destination,
    DuckDBParams,
    PostgresParams,
    Source,
    TableRef,
    open_destination,
    open_source,
)


@dataclass
class Target:
    """A destination under test, with a private schema and a way to look at what was loaded."""

    kind: str
    destination: Destination
    schema: str
    dsn: str | None = None
    path: Path | None = None

    def table(self, name: str) -> TableRef:
        return TableRef(name, self.schema)

    def query(self, sql: str, params: list[Any] | tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run SQL outside the loader (psycopg or a fresh DuckDB connection); `%s`-free, `$1` params."""
        if self.kind == "duckdb":
            import duckdb

            assert self.path is not None
            with duckdb.connect(str(self.path)) as conn:
                table = conn.sql(sql, params=list(params) or None).to_arrow_table()  # no pytz needed
                return [tuple(row.values()) for row in table.to_pylist()]
        import psycopg

        assert self.dsn is not None
        with psycopg.connect(self.dsn) as conn:
            conn.execute("SET TimeZone = 'UTC'")
            text = sql
            for i in range(len(params), 0, -1):
                text = text.replace(f"${i}", "%s")
            return list(conn.execute(text, list(params) or None).fetchall())

    def q(self, name: str) -> str:
        return f'"{self.schema}"."{name}"'

    def count(self, name: str) -> int:
        return int(self.query(f"SELECT count(*) FROM {self.q(name)}")[0][0])


@pytest.fixture(scope="session")
def load_dsn(pg_dsn: str) -> Iterator[str]:
    """A database of this test session's own (per xdist worker): sources and PostgreSQL targets live
    here, so nothing another suite does to the shared test database (dropping `_datakit`) reaches us."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    name = f"dk_load_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    params = conninfo_to_dict(pg_dsn)
    params["dbname"] = name
    yield make_conninfo("", **params)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_params(load_dsn: str) -> PostgresParams:
    return PostgresParams.from_dsn(load_dsn)


@pytest.fixture
def source_schema(load_dsn: str) -> Iterator[str]:
    """A fresh schema in the test database for source tables the test builds."""
    import psycopg

    name = f"dk_src_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(load_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    yield name
    with psycopg.connect(load_dsn, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{name}" CASCADE')


@pytest.fixture
def source(pg_params: PostgresParams) -> Source:
    return open_source(pg_params)


@pytest.fixture
def pg_exec(load_dsn: str) -> Any:
    """Run statements on the test database (autocommit), for building and changing source tables."""
    import psycopg

    def run(sql: str, params: Any = None) -> None:
        with psycopg.connect(load_dsn, autocommit=True) as conn:
            conn.execute(sql, params)

    return run


@pytest.fixture(params=["postgres", "duckdb"])
def dest(
    request: pytest.FixtureRequest, load_dsn: str, pg_params: PostgresParams, tmp_path: Path
) -> Iterator[Target]:
    schema = f"dk_dst_{uuid.uuid4().hex[:10]}"
    if request.param == "duckdb":
        path = tmp_path / "warehouse.duckdb"
        yield Target("duckdb", open_destination(DuckDBParams(database=str(path))), schema, path=path)
        return
    yield Target("postgres", open_destination(pg_params), schema, dsn=load_dsn)
    import psycopg

    with psycopg.connect(load_dsn, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
