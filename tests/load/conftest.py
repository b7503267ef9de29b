"""Fixtures of the loader tests: `dest`, `source_db` and `pg_source` come from `tests.matrix`.

`source`, `source_schema` and `pg_exec` are the PostgreSQL source as tests written before the matrix take
it (test_transforms.py: SQL in PostgreSQL's dialect, psycopg's `%s` parameters), so their DuckDB case still
needs PostgreSQL; new tests take `source_db`, which feeds the DuckDB case from SQLite.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import pytest

from datakit.connectors import Source
from tests.matrix import PostgresSourceDb, Target

__all__ = ["Target"]  # imported from here by older tests


Params = Sequence[object] | Mapping[str, object] | None


class PgExec(Protocol):
    def __call__(self, sql: str, params: Params = None) -> None: ...


@pytest.fixture
def source_schema(pg_source: PostgresSourceDb) -> str:
    """A fresh schema in the test database for source tables the test builds."""
    return pg_source.schema


@pytest.fixture
def source(pg_source: PostgresSourceDb) -> Source:
    return pg_source.source


@pytest.fixture
def pg_exec(load_dsn: str) -> PgExec:
    """Run statements on the test database (autocommit), for building and changing source tables."""
    import psycopg

    def run(sql: str, params: Params = None) -> None:
        with psycopg.connect(load_dsn, autocommit=True) as conn:
            conn.execute(sql, params)

    return run
