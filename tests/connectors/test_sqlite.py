"""SQLite source: declared types become Arrow types, values cast exactly, streaming and incremental."""

from __future__ import annotations

import datetime
import sqlite3
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from datakit.connectors import (
    ConnectorError,
    DuckDBParams,
    Incremental,
    ReadRequest,
    SchemaMismatch,
    SqliteParams,
    TableRef,
)
from datakit.connectors.engines.duckdb.destination import DuckDBDestination
from datakit.connectors.sources.sqlite import SqliteSource

ROWS = 2_500


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Path:
    path = tmp_path / "src.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute(
            'CREATE TABLE "order items" (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price DECIMAL(7,2), '
            "weight REAL, payload BLOB, created DATETIME, day DATE, active BOOLEAN)"
        )
        conn.executemany(
            'INSERT INTO "order items" VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
            [
                (
                    i,
                    f"item {i} ü",
                    f"{i}.{i % 100:02d}",
                    i / 4,
                    bytes([i % 256]) if i % 3 else None,
                    f"2024-01-01 00:{i // 60 % 60:02d}:{i % 60:02d}",
                    "2024-02-29",
                    i % 2,
                )
                for i in range(1, ROWS + 1)
            ],
        )
    return path


def test_reads_every_type_exactly(sqlite_db: Path) -> None:
    source = SqliteSource(SqliteParams(database=sqlite_db))
    table = TableRef("order items")
    data = pa.Table.from_batches(list(source.read(ReadRequest(table=table, order_by=["id"]))))
    assert data.num_rows == ROWS
    assert data.schema.field("price").type == pa.decimal128(7, 2)
    assert data.schema.field("created").type == pa.timestamp("us")
    row = data.slice(6, 1).to_pylist()[0]
    assert row == {
        "id": 7,
        "name": "item 7 ü",
        "price": Decimal("7.07"),
        "weight": 1.75,
        "payload": b"\x07",
        "created": datetime.datetime(2024, 1, 1, 0, 0, 7),
        "day": datetime.date(2024, 2, 29),
        "active": True,
    }
    assert sum(data.column("price").to_pylist(), Decimal(0)) == sum(
        (Decimal(f"{i}.{i % 100:02d}") for i in range(1, ROWS + 1)), Decimal(0)
    )
    assert data.column("payload").null_count == ROWS // 3
    assert source.count(ReadRequest(table=table)) == ROWS
    assert source.tables() == [table]


@pytest.mark.parametrize("batch_size", [1, 333])
def test_streaming_batches_are_identical(sqlite_db: Path, batch_size: int) -> None:
    source = SqliteSource(SqliteParams(database=sqlite_db))
    whole = pa.Table.from_batches(
        list(source.read(ReadRequest(table=TableRef("order items"), order_by=["id"])))
    )
    request = ReadRequest(table=TableRef("order items"), order_by=["id"], batch_size=batch_size)
    parts = list(source.read(request))
    assert max(b.num_rows for b in parts) == batch_size
    assert pa.Table.from_batches(parts).equals(whole)


@pytest.mark.parametrize(("inclusive", "first"), [(False, 2001), (True, 2000)])
def test_incremental_bounds(sqlite_db: Path, inclusive: bool, first: int) -> None:
    source = SqliteSource(SqliteParams(database=sqlite_db))
    request = ReadRequest(
        table=TableRef("order items"), incremental=Incremental("id", 2000, inclusive), order_by=["id"]
    )
    ids = pa.Table.from_batches(list(source.read(request))).column("id").to_pylist()
    assert ids == list(range(first, ROWS + 1))
    by_time = ReadRequest(
        table=TableRef("order items"),
        incremental=Incremental("created", datetime.datetime(2024, 1, 1, 0, 41, 38), inclusive),
    )  # row i was created i seconds after midnight, so this bound sits at row 2498
    assert source.count(by_time) == ROWS - 2498 + (1 if inclusive else 0)


def test_values_that_do_not_fit_fail_with_the_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (n INTEGER)")
        conn.execute("INSERT INTO t VALUES (1), ('not a number')")
    source = SqliteSource(SqliteParams(database=path))
    with pytest.raises(SchemaMismatch, match=r"t\.n"):
        list(source.read(ReadRequest(table=TableRef("t"))))


def test_missing_file_and_table(tmp_path: Path, sqlite_db: Path) -> None:
    with pytest.raises(ConnectorError, match="does not exist"):
        SqliteSource(SqliteParams(database=tmp_path / "nope.sqlite")).columns(TableRef("t"))
    with pytest.raises(ConnectorError, match="does not exist"):
        SqliteSource(SqliteParams(database=sqlite_db)).columns(TableRef("nope"))


def test_sqlite_to_duckdb(sqlite_db: Path, tmp_path: Path) -> None:
    source = SqliteSource(SqliteParams(database=sqlite_db))
    destination = DuckDBDestination(DuckDBParams(database=str(tmp_path / "dst.duckdb")))
    with destination.transaction() as tx:
        tx.execute(
            "CREATE TABLE items (id BIGINT, name VARCHAR, price DECIMAL(7,2), weight DOUBLE, payload BLOB, "
            "created TIMESTAMP, day DATE, active BOOLEAN)"
        )
        assert tx.write(TableRef("items"), source.read(ReadRequest(table=TableRef("order items")))) == ROWS
        total = tx.query("SELECT sum(price), count(payload), min(created) FROM items")[0]
    assert total[0] == sum((Decimal(f"{i}.{i % 100:02d}") for i in range(1, ROWS + 1)), Decimal(0))
    assert total[1] == ROWS - ROWS // 3
    assert total[2] == datetime.datetime(2024, 1, 1, 0, 0, 1)
