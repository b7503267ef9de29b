"""Spark reads PostgreSQL itself (issue 18, item 3): over JDBC, by its executors, split on the key.

The source's own `read` (ADBC through the driver) is made to fail, so a load that passes did not use
it; the rows, the rejected rows and the cursor are what the same load gives through the driver.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from datakit.connectors import ReadRequest
from datakit.connectors.base import JdbcRead
from datakit.connectors.engines.postgres.source import PostgresSource
from datakit.connectors.params import MysqlParams
from datakit.load.loader import load_resource
from datakit.load.plan import IncrementalPlan
from tests.load.helpers import CUSTOMER_DDL, customer_contract, plan_for
from tests.matrix import WITH_SPARK, PostgresSourceDb, Target

pytestmark = pytest.mark.parametrize("dest", [WITH_SPARK[-1]], indirect=True)
START = datetime(2024, 1, 1, tzinfo=UTC)
ROWS = 500


class _NativeOnly(PostgresSource):
    """A PostgreSQL source whose rows may only be read by the destination's workers."""

    def __init__(self, source: PostgresSource) -> None:
        super().__init__(source.params)
        self.native: list[JdbcRead] = []

    def read(self, request: ReadRequest) -> Iterator[object]:  # type: ignore[override]
        raise AssertionError(f"{request.label} was read through the driver")

    def native_read(self, request: ReadRequest, *, split_by: str | None = None) -> JdbcRead | None:
        read = super().native_read(request, split_by=split_by)
        assert read is not None
        self.native.append(read)
        return read


def test_jdbc_read_split_on_the_key_validated_by_spark(dest: Target, pg_source: PostgresSourceDb) -> None:
    pg_source.create("customer", CUSTOMER_DDL)
    rows = [(g, f"name {g}", g % 100, START + timedelta(minutes=g)) for g in range(1, ROWS + 1)]
    rows += [(ROWS + 1, "low score", -1, START), (ROWS + 2, "high score", 101, START)]  # out of range
    pg_source.insert("customer", rows)
    source = _NativeOnly(PostgresSource(pg_source.params))
    incremental = IncrementalPlan(cursor_field="updated", initial_value=START - timedelta(days=1))
    plan = plan_for(
        source,
        pg_source.schema,
        "customer",
        customer_contract(),
        dest.table("customer"),
        disposition="merge",
        incremental=incremental,
    )
    result = load_resource(plan, dest.destination)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (ROWS + 2, ROWS, 2)
    assert source.native and source.native[0].split == ("id", 1, ROWS + 2)
    assert result.cursor == START + timedelta(minutes=ROWS)
    assert dest.count("customer") == ROWS
    assert dest.query(f"SELECT sum(score), min(id), max(id) FROM {dest.q('customer')}") == [
        (sum(g % 100 for g in range(1, ROWS + 1)), 1, ROWS)
    ]
    columns = "id, _dk_failed_column, _dk_failed_rule, _dk_reason"
    rejected = dest.query(f"SELECT {columns} FROM {dest.q('customer__rejected')} ORDER BY id")
    assert rejected == [
        (str(ROWS + 1), "score", "range", "'-1' is below the minimum 0"),
        (str(ROWS + 2), "score", "range", "'101' is above the maximum 100"),
    ]
    again = load_resource(plan, dest.destination)  # the window re-reads the last cursor value only
    assert again.rows_loaded == 1 and dest.count("customer") == ROWS


@pytest.fixture
def mysql_customers() -> Iterator[tuple[MysqlParams, str]]:
    """A customer table in the MariaDB test database (dropped afterwards)."""
    import uuid
    from urllib.parse import unquote, urlsplit

    import pymysql
    from pydantic import SecretStr

    from tests import services

    parts = urlsplit(services.mysql_url())
    params = MysqlParams(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=unquote(parts.username or "root"),
        password=SecretStr(unquote(parts.password)) if parts.password else None,
        database=parts.path.lstrip("/") or "test",
    )
    name = f"dk_spark_{uuid.uuid4().hex[:10]}"
    password = params.password.get_secret_value() if params.password else ""
    conn = pymysql.connect(
        host=params.host, port=params.port, user=params.user, password=password, database=params.database
    )
    with conn.cursor() as cursor:
        cursor.execute(f"CREATE TABLE `{name}` (id int PRIMARY KEY, name varchar(20) NOT NULL, score int)")
        rows = [(g, f"name {g}", g % 100) for g in range(1, 301)] + [(301, "too high", 500)]
        cursor.executemany(f"INSERT INTO `{name}` VALUES (%s, %s, %s)", rows)
    conn.commit()
    try:
        yield params, name
    finally:
        with conn.cursor() as cursor:
            cursor.execute(f"DROP TABLE `{name}`")
        conn.close()


@pytest.mark.mysql
def test_mysql_is_read_by_spark_over_jdbc(dest: Target, mysql_customers: tuple[MysqlParams, str]) -> None:
    from datakit.connectors.sources.mysql import MysqlSource

    params, table = mysql_customers

    class NativeOnly(MysqlSource):
        def read(self, request: ReadRequest) -> Iterator[object]:  # type: ignore[override]
            raise AssertionError(f"{request.label} was read through the driver")

    contract = customer_contract(
        columns={
            "id": {"type": "integer"},
            "name": {"type": "string", "max_length": 20, "nullable": False},
            "score": {"type": "integer", "min": 0, "max": 100},
        },
        table=table,
    )
    plan = plan_for(NativeOnly(params), None, table, contract, dest.table("customer"), disposition="merge")
    result = load_resource(plan, dest.destination)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (301, 300, 1)
    assert dest.query(f"SELECT count(*), sum(score) FROM {dest.q('customer')}") == [
        (300, sum(g % 100 for g in range(1, 301)))
    ]
