"""MySQL/MariaDB and SQLite sources load through the same loader as PostgreSQL, on both destinations."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from datakit.connectors import MysqlParams, SqliteParams, open_source
from datakit.contracts import contract_from_spec
from datakit.load.loader import load_resource
from datakit.load.plan import LoadResult
from tests import services
from tests.load.helpers import plan_for
from tests.matrix import PostgresSourceDb, Target

ROWS = 2_500
SPEC: dict[str, Any] = {
    "table": "orders",
    "layer": "bronze",
    "primary_key": ["id"],
    "columns": {
        "id": {"type": "integer", "nullable": False},
        "name": {"type": "string", "max_length": 20, "nullable": False},
        "score": {"type": "integer", "min": 0, "max": 100},
        "amount": {"type": "decimal(7,2)"},
        "placed": {"type": "timestamp", "nullable": False},
    },
}


def _row(i: int) -> tuple[Any, ...]:
    score = None if i % 10 == 0 else (i * 7) % 101
    score = 150 if i % 500 == 1 else score  # out of range: rejected, not dropped
    return (i, f"name-{i}", score, Decimal(i % 1000) / 4, f"2024-01-{1 + i % 28:02d} 10:{i % 60:02d}:00")


def _expected() -> tuple[int, int, Decimal]:
    rows = [_row(i) for i in range(1, ROWS + 1)]
    good = [r for r in rows if r[2] is None or r[2] <= 100]
    return len(good), ROWS - len(good), sum((r[3] for r in good), Decimal(0))


@pytest.fixture
def mysql_table() -> Iterator[tuple[MysqlParams, str]]:
    import pymysql

    parts = urlsplit(services.mysql_url())
    params = MysqlParams(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=unquote(parts.username or "root"),
        database=parts.path.lstrip("/") or "test",
    )
    name = f"dk_orders_{uuid.uuid4().hex[:10]}"
    conn = pymysql.connect(host=params.host, port=params.port, user=params.user, database=params.database)
    try:
        with conn.cursor() as cur:
            cur.execute(
                f"CREATE TABLE `{name}` (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL, score INT, "
                "amount DECIMAL(7,2), placed DATETIME NOT NULL)"
            )
            cur.executemany(
                f"INSERT INTO `{name}` VALUES (%s, %s, %s, %s, %s)", [_row(i) for i in range(1, ROWS + 1)]
            )
        conn.commit()
        yield params, name
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS `{name}`")
        conn.close()


@pytest.fixture
def sqlite_table(tmp_path: Path) -> tuple[SqliteParams, str]:
    path = tmp_path / "shop.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, name VARCHAR(20) NOT NULL, score INTEGER, "
            "amount NUMERIC(7,2), placed TIMESTAMP NOT NULL)"
        )
        rows = [(*r[:3], str(r[3]), r[4]) for r in (_row(i) for i in range(1, ROWS + 1))]
        conn.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?)", rows)
    return SqliteParams(database=path), "orders"


def _check(dest: Target, result: LoadResult) -> None:
    loaded, rejected, total = _expected()
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (ROWS, loaded, rejected)
    assert dest.count("orders") == loaded
    assert dest.count("orders__rejected") == rejected
    [(amount, names, first)] = dest.query(
        f"SELECT sum(amount), count(DISTINCT name), min(placed) FROM {dest.q('orders')}"
    )
    assert (Decimal(amount), names) == (total, loaded)
    assert str(first).startswith("2024-01-01 10:")


def test_mysql_source_loads_exactly(mysql_table: tuple[MysqlParams, str], dest: Target) -> None:
    params, table = mysql_table
    plan = plan_for(
        open_source(params), params.database, table, contract_from_spec(SPEC), dest.table("orders")
    )
    _check(dest, load_resource(plan, dest.destination))


def test_sqlite_source_loads_exactly(sqlite_table: tuple[SqliteParams, str], dest: Target) -> None:
    params, table = sqlite_table
    plan = plan_for(open_source(params), None, table, contract_from_spec(SPEC), dest.table("orders"))
    _check(dest, load_resource(plan, dest.destination))


def test_a_widened_column_keeps_its_rules(pg_source: PostgresSourceDb, dest: Target) -> None:
    """evolve widens int -> bigint when the source does, and `max: 100` still rejects 150 (a source with
    exact types: PostgreSQL in both cases)."""
    spec = {**SPEC, "columns": {"id": SPEC["columns"]["id"], "score": SPEC["columns"]["score"]}}
    pg_source.create("orders", "id integer NOT NULL, score integer")
    pg_source.insert("orders", [(1, 10)])
    plan = plan_for(
        pg_source.source, pg_source.schema, "orders", contract_from_spec(spec), dest.table("orders")
    )
    assert load_resource(plan, dest.destination).rows_loaded == 1
    pg_source.execute(f"ALTER TABLE {pg_source.q('orders')} ALTER score TYPE bigint")
    pg_source.insert("orders", [(2, 150), (3, 5000000000), (4, 99)])
    result = load_resource(plan, dest.destination)
    assert any("widened column" in change and "score" in change for change in result.schema_changes)
    assert (result.rows_loaded, result.rows_rejected) == (2, 2)  # ids 1 and 4 load; 150 and 5e9 break max
    reasons = dest.query(f"SELECT score, _dk_failed_rule FROM {dest.q('orders__rejected')} ORDER BY 1")
    assert [(str(score), rule) for score, rule in reasons] == [("150", "range"), ("5000000000", "range")]
