"""Column lineage of single queries: how each output column is made, and what shapes the rows."""

from __future__ import annotations

import pytest

from datakit.lineage.model import How
from datakit.lineage.sql import QueryLineage, SqlLineageError, query_lineage

SCHEMAS = {
    ("s", "orders"): {"id": "int", "customer_id": "int", "amount": "decimal", "status": "text"},
    ("s", "customers"): {"id": "int", "name": "text", "country": "text"},
}


def known(_catalog: str, schema: str, name: str) -> str | None:
    return f"{schema}.{name}" if (schema, name) in SCHEMAS else None


def lineage(sql: str, dialect: str = "duckdb") -> QueryLineage:
    return query_lineage(sql, dialect, SCHEMAS, known)


def test_copied_renamed_cast_transformed_aggregated() -> None:
    found = lineage(
        "select o.id, o.amount as total, cast(o.status as varchar) as status, upper(c.name) as name, "
        "sum(o.amount) over (partition by o.customer_id) as running, "
        "(select max(amount) from s.orders) as top "
        "from s.orders o join s.customers c on c.id = o.customer_id where o.status <> 'void'"
    )
    assert found.columns == ["id", "total", "status", "name", "running", "top"]
    assert found.direct["id"] == {("s.orders", "id"): How.COPIED}
    assert found.direct["total"] == {("s.orders", "amount"): How.COPIED}  # the caller names it renamed
    assert found.direct["status"] == {("s.orders", "status"): How.CAST}
    assert found.direct["name"] == {("s.customers", "name"): How.TRANSFORMED}
    assert found.direct["running"] == {
        ("s.orders", "amount"): How.TRANSFORMED,  # a window function is not an aggregation of rows
        ("s.orders", "customer_id"): How.TRANSFORMED,
    }
    assert found.direct["top"] == {("s.orders", "amount"): How.AGGREGATED}
    assert found.rows == {
        ("s.customers", "id"): How.JOINED_ON,
        ("s.orders", "customer_id"): How.JOINED_ON,
        ("s.orders", "status"): How.FILTERED_BY,
    }


def test_through_ctes_stars_and_unions() -> None:
    found = lineage(
        "with a as (select * from s.orders), b as (select id as order_id, amount from a) "
        "select order_id, amount from b union all select id, 0 from s.customers"
    )
    assert found.direct["order_id"] == {("s.orders", "id"): How.COPIED, ("s.customers", "id"): How.COPIED}
    assert found.direct["amount"] == {("s.orders", "amount"): How.COPIED}


def test_group_by_aggregates() -> None:
    found = lineage(
        "select country, count(*) as n, sum(id) as ids from s.customers group by country having n > 1"
    )
    assert found.direct["country"] == {("s.customers", "country"): How.COPIED}
    assert found.direct["n"] == {}  # count(*) reads no column
    assert found.direct["ids"] == {("s.customers", "id"): How.AGGREGATED}


def test_postgres_dialect_and_unknown_relations() -> None:
    found = lineage("select x.a::int as a from other.thing x", "postgres")
    assert found.direct["a"] == {}
    assert found.unresolved == {"other.thing"}


def test_unreadable_sql_raises() -> None:
    with pytest.raises(SqlLineageError, match="cannot read the SQL"):
        lineage("select ))) from s.orders")
    with pytest.raises(SqlLineageError):
        lineage("insert into s.orders values (1)")
