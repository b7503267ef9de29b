"""The example project as a fixture: a private copy of examples/pagila pointed at the test servers.

Tests copy the project (so DuckDB files and rendered packages land in tmp), read real Pagila through
the `PAGILA_*` variables its source file interpolates, and load PostgreSQL warehouses into a scratch
database of their own, so parallel tests never share a schema (`br__pagila__public` is fixed).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests import matrix
from tests.conftest import EXAMPLES


def copy_pagila_project(tmp_path: Path) -> Path:
    """A copy of examples/pagila under `tmp_path` (without any warehouse file or state)."""
    target = tmp_path / "pagila"
    shutil.copytree(
        EXAMPLES / "pagila",
        target,
        ignore=shutil.ignore_patterns("*.duckdb", "*.duckdb.wal", ".datakit", "__pycache__"),
    )
    return target


def _params(dsn: str) -> dict[str, str]:
    from psycopg.conninfo import conninfo_to_dict

    return {k: str(v) for k, v in conninfo_to_dict(dsn).items() if v is not None}


def pagila_env(pagila_dsn: str, warehouse_dsn: str | None = None) -> dict[str, str]:
    """Environment variables pointing the example's source (and PostgreSQL warehouse) at test servers."""
    source = _params(pagila_dsn)
    env = {
        "PAGILA_HOST": source.get("host", "127.0.0.1"),
        "PAGILA_DATABASE": source["dbname"],
        "PAGILA_USER": source.get("user", "datakit"),
        "PAGILA_PASSWORD_DEV": source.get("password", ""),
    }
    if warehouse_dsn is not None:
        target = _params(warehouse_dsn)
        env |= {
            "WAREHOUSE_HOST": target.get("host", "127.0.0.1"),
            "WAREHOUSE_DATABASE": target["dbname"],
            "WAREHOUSE_USER": target.get("user", "datakit"),
            "WAREHOUSE_PASSWORD_DEV": target.get("password", ""),
        }
    return env


@contextmanager
def scratch_database(pg_dsn: str) -> Iterator[str]:
    """A new empty database on the test server (dropped afterwards); yields its DSN."""
    with matrix.scratch_database(pg_dsn, "dk_ingest") as dsn:
        yield dsn
