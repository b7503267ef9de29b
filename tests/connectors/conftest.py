"""Fixtures of the connector tests: the Pagila database, a scratch schema in it, MariaDB, DuckDB files."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import unquote, urlsplit

import pytest

from datakit.connectors import MysqlParams, PostgresParams
from tests import services


@pytest.fixture(scope="session")
def pagila(pagila_dsn: str) -> PostgresParams:
    return PostgresParams.from_dsn(pagila_dsn)


@pytest.fixture
def scratch_schema(pagila_dsn: str) -> Iterator[str]:
    """A fresh schema in the Pagila database (so LIKE can copy Pagila's enum and domain types)."""
    import psycopg

    name = f"dk_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pagila_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    yield name
    with psycopg.connect(pagila_dsn, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{name}" CASCADE')


@pytest.fixture(scope="session")
def mysql() -> MysqlParams:
    parts = urlsplit(services.mysql_url())
    from pydantic import SecretStr

    return MysqlParams(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=unquote(parts.username or "root"),
        password=SecretStr(unquote(parts.password)) if parts.password else None,
        database=parts.path.lstrip("/") or "test",
    )
