"""MySQL/MariaDB source: types, server-side streaming, incremental bounds, against the real server."""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pymysql
import pytest
from pydantic import SecretStr

from datakit.connectors import Incremental, MysqlParams, ReadRequest, TableRef
from datakit.connectors.sources.mysql import MysqlSource
from tests.cli.test_cli import run
from tests.config.helpers import write

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


@pytest.fixture
def mysql_user(mysql: MysqlParams) -> Iterator[tuple[str, str]]:
    """A user of its own with a password (created by root on the test server), dropped afterwards."""
    user, password = f"dk_{uuid.uuid4().hex[:10]}", f"Right+{uuid.uuid4().hex[:8]}"
    conn = pymysql.connect(
        host=mysql.host,
        port=mysql.port,
        user=mysql.user,
        password=mysql.password.get_secret_value() if mysql.password else "",
        autocommit=True,
    )
    with conn.cursor() as cur:
        cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, password))
        cur.execute(f"GRANT SELECT ON `{mysql.database}`.* TO %s@'%%'", (user,))
    yield user, password
    with conn.cursor() as cur:
        cur.execute("DROP USER %s@'%%'", (user,))
    conn.close()


def test_a_refused_login_says_authentication_failed(mysql: MysqlParams, mysql_user: tuple[str, str]) -> None:
    from datakit.connectors.errors import AuthenticationFailed
    from datakit.orchestrate.retry import is_transient

    user, password = mysql_user
    right = mysql.model_copy(update={"user": user, "password": SecretStr(password)})
    assert MysqlSource(right).tables() is not None  # the user itself is fine
    wrong_password = right.model_copy(update={"password": SecretStr("Wrong+pass-9z")})
    unknown_user = right.model_copy(update={"user": f"{user}_nobody"})
    for params in (wrong_password, unknown_user):
        with pytest.raises(AuthenticationFailed) as caught:
            MysqlSource(params).columns(TableRef("anything"))
        message = str(caught.value)
        assert message.startswith(
            f"authentication failed for user '{params.user}' at {mysql.host}:{mysql.port}: "
        )
        assert "Access denied" in message and "Wrong+pass-9z" not in message
        assert not is_transient(caught.value)


def test_a_pipeline_run_with_a_wrong_password_says_so(
    tmp_path: Path, mysql: MysqlParams, mysql_user: tuple[str, str]
) -> None:
    """The pipeline reflects its contract through SQLAlchemy first: that refusal is reported alike."""
    user, _ = mysql_user
    root = tmp_path / "shop"
    write(root, "datakit.yaml", "name: shop\n")
    write(root, "config/secrets_mapping.yaml", "secrets:\n  shop_password: {env_var: SHOP_PASSWORD}\n")
    write(
        root,
        "config/sources/shop.yaml",
        f"""
        source:
          name: shop
          type: mysql
          connection: {{host: {mysql.host}, port: {mysql.port}, database: {mysql.database}, user: {user},
                        password_secret_key: shop_password}}
          resources: [{{name: orders}}]
        """,
    )
    write(root, "config/destinations/local.yaml", "destination: {name: local, type: duckdb}\n")
    write(
        root,
        "config/pipelines/shop.yaml",
        "pipeline: {name: shop_bronze, source: {name: shop}, destination: {name: local, layer: bronze}}\n",
    )
    write(
        root,
        "config/jobs/daily.yaml",
        "job: {name: daily, pipelines: [shop_bronze], retries: {max_attempts: 3}}\n",
    )
    expected = f"authentication failed for user '{user}' at {mysql.host}:{mysql.port}"
    env = {"SHOP_PASSWORD": "Wrong+pass-9z"}
    pipeline = run("run", "pipeline", "shop_bronze", cwd=root, env=env)
    job = run("run", "job", "daily", "--json", cwd=root, env=env)
    assert pipeline.returncode == 1 and expected in pipeline.stderr, pipeline.stderr
    assert job.returncode == 1 and expected in job.stdout + job.stderr, job.stdout + job.stderr
    for output in (pipeline.stdout + pipeline.stderr, job.stdout + job.stderr):
        assert "internal error" not in output and "Wrong+pass-9z" not in output
    (step,) = json.loads(run("runs", "show", "1", "--json", cwd=root).stdout)["steps"]
    assert step["attempts"] == 1 and expected in step["error"]  # terminal: not retried
