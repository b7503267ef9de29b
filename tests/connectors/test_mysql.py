"""MySQL/MariaDB source: types, server-side streaming, incremental bounds, against the real server."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pyarrow as pa
import pymysql
import pytest

from datakit.connectors import Incremental, MysqlParams, ReadRequest, TableRef
from datakit.connectors.sources.mysql import MysqlSource

pytestmark = pytest.mark.mysql
ROWS = 3_000


@pytest.fixture
def mysql_table(mysql: MysqlParams) -> Iterator[str]:
    name = f"dk_test_{uuid.uuid4().hex[:10]}"
    conn = pymysql.connect(
        host=mysql.host,
        port=mysql.port,
        user=mysql.user,
        password=mysql.password.get_secret_value() if mysql.password else "",
        database=mysql.database,
        autocommit=True,
    )
    with conn.cursor() as cur:
        cur.execute("SET time_zone = '+00:00'")
        cur.execute(
            f"CREATE TABLE `{name}` (id INT PRIMARY KEY, big BIGINT UNSIGNED, small TINYINT, "
            "flag TINYINT(1), amount DECIMAL(7,2), ratio DOUBLE, label VARCHAR(40) NOT NULL, body TEXT, "
            "raw BLOB, day DATE, at DATETIME(6), stamp TIMESTAMP(6) NULL, kind ENUM('a','b','c'))"
        )
        cur.executemany(
            f"INSERT INTO `{name}` VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    i,
                    2**63 + i,
                    i % 100 - 50,
                    i % 2,
                    Decimal(i) / 100,
                    i / 3,
                    f"label {i} é",
                    None if i % 5 == 0 else "x" * (i % 17),
                    bytes([i % 256, 0]),
                    datetime.date(2024, 1, 1) + datetime.timedelta(days=i % 365),
                    datetime.datetime(2024, 1, 1) + datetime.timedelta(seconds=i, microseconds=i),
                    datetime.datetime(2024, 1, 1) + datetime.timedelta(minutes=i),
                    "abc"[i % 3],
                )
                for i in range(1, ROWS + 1)
            ],
        )
    yield name
    with conn.cursor() as cur:
        cur.execute(f"DROP TABLE `{name}`")
    conn.close()


def test_reads_every_type_exactly(mysql: MysqlParams, mysql_table: str) -> None:
    source = MysqlSource(mysql)
    request = ReadRequest(table=TableRef(mysql_table), order_by=["id"])
    data = pa.Table.from_batches(list(source.read(request)), schema=source.arrow_schema(request))
    assert data.num_rows == ROWS == source.count(request)
    types = {f.name: f.type for f in data.schema}
    assert types["big"] == pa.uint64() and types["small"] == pa.int8() and types["flag"] == pa.bool_()
    assert types["amount"] == pa.decimal128(7, 2) and types["stamp"] == pa.timestamp("us", tz="UTC")
    row = data.slice(9, 1).to_pylist()[0]
    assert row["id"] == 10 and row["big"] == 2**63 + 10 and row["small"] == -40 and row["flag"] is False
    assert row["amount"] == Decimal("0.10") and row["label"] == "label 10 é" and row["body"] is None
    assert row["raw"] == b"\x0a\x00" and row["kind"] == "b"
    assert row["at"] == datetime.datetime(2024, 1, 1, 0, 0, 10, 10)
    assert row["stamp"] == datetime.datetime(2024, 1, 1, 0, 10, tzinfo=datetime.UTC)
    assert sum(data.column("amount").to_pylist(), Decimal(0)) == sum(
        Decimal(i) / 100 for i in range(1, ROWS + 1)
    )
    assert TableRef(mysql_table) in source.tables()


def test_streaming_batches_are_identical(mysql: MysqlParams, mysql_table: str) -> None:
    source = MysqlSource(mysql)
    whole = pa.Table.from_batches(
        list(source.read(ReadRequest(table=TableRef(mysql_table), order_by=["id"])))
    )
    parts = list(source.read(ReadRequest(table=TableRef(mysql_table), order_by=["id"], batch_size=7)))
    assert max(b.num_rows for b in parts) == 7
    assert pa.Table.from_batches(parts).equals(whole)


@pytest.mark.parametrize(("inclusive", "extra"), [(False, 0), (True, 1)])
def test_incremental_bounds(mysql: MysqlParams, mysql_table: str, inclusive: bool, extra: int) -> None:
    source = MysqlSource(mysql)
    by_id = ReadRequest(
        table=TableRef(mysql_table), incremental=Incremental("id", 2900, inclusive), order_by=["id"]
    )
    ids = pa.Table.from_batches(list(source.read(by_id))).column("id").to_pylist()
    assert ids == list(range(2901 - extra, ROWS + 1))
    bound = datetime.datetime(2024, 1, 1) + datetime.timedelta(minutes=2990)
    by_stamp = ReadRequest(table=TableRef(mysql_table), incremental=Incremental("stamp", bound, inclusive))
    assert source.count(by_stamp) == ROWS - 2990 + extra


def test_query_source_with_target_schema(mysql: MysqlParams, mysql_table: str) -> None:
    source = MysqlSource(mysql)
    schema = pa.schema([("id", pa.int64()), ("amount", pa.decimal128(9, 2))])
    request = ReadRequest(
        query=f"SELECT id, amount FROM `{mysql_table}` WHERE id <= 100", schema=schema, batch_size=30
    )
    data = pa.Table.from_batches(list(source.read(request)), schema=schema)
    assert data.num_rows == 100 and data.schema == schema


def test_types_connectorx_cannot_decode_use_pymysql(mysql: MysqlParams, mysql_table: str) -> None:
    """A DECIMAL wider than 28 digits (connectorx panics) and TIME (a signed duration) read exactly."""
    conn = pymysql.connect(
        host=mysql.host, port=mysql.port, user=mysql.user, database=mysql.database, autocommit=True
    )
    name = f"{mysql_table}_wide"
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE `{name}` (id INT, wide DECIMAL(30,0), span TIME)")
        cur.execute(
            f"INSERT INTO `{name}` VALUES (1, 123456789012345678901234567890, '-838:59:59'), (2, NULL, NULL)"
        )
    try:
        data = pa.Table.from_batches(
            list(MysqlSource(mysql).read(ReadRequest(table=TableRef(name), order_by=["id"])))
        )
        assert data.column("wide").to_pylist() == [Decimal("123456789012345678901234567890"), None]
        assert data.column("span").to_pylist() == [
            -datetime.timedelta(hours=838, minutes=59, seconds=59),
            None,
        ]
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP TABLE `{name}`")
        conn.close()
