"""The Pagila warehouse (examples/pagila/transform/pagila) on DuckDB and PostgreSQL: gold figures
equal the same figures computed by SQL run directly on the Pagila source database.

Conventions the source SQL states explicitly: months and days are in UTC; a rental belongs to the store
that holds the rented copy; a film's primary category is its lowest category_id; a return is late
when it comes after rental_date + the film's rental_duration days.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tests.matrix import DuckDBTarget
from tests.warehouse.conftest import Warehouse, run_dbt_step, source_query

pytestmark = pytest.mark.postgres  # the source is always the Pagila database on the PostgreSQL server

MODELS_DIR = Path(__file__).resolve().parents[2] / "examples" / "pagila" / "transform" / "pagila" / "models"
GOLD = {
    "dim_customer",
    "dim_film",
    "dim_store",
    "dim_staff",
    "dim_date",
    "bridge_film_category",
    "bridge_film_actor",
    "fact_rental",
    "fact_payment",
    "agg_monthly_revenue_by_store_category",
}
SILVER = {
    "actor",
    "address",
    "category",
    "city",
    "country",
    "customer",
    "film",
    "film_actor",
    "film_category",
    "inventory",
    "language",
    "payment",
    "rental",
    "staff",
    "store",
}


def check_dbt_built_every_model_and_every_test_passed(warehouse: Warehouse, pagila_dsn: str) -> None:
    nodes = warehouse.dbt["nodes"]
    models = {n["name"] for n in nodes if n["resource_type"] == "model"}
    assert models == SILVER | GOLD
    assert {p.stem for p in MODELS_DIR.rglob("*.sql")} == models  # nothing in the project left unbuilt
    assert {n["status"] for n in nodes if n["resource_type"] == "model"} == {"success"}
    tests = [n for n in nodes if n["resource_type"] == "test"]
    assert len(tests) >= 150
    assert {n["status"] for n in tests} == {"pass"}
    assert all(n["failures"] == 0 for n in tests)
    schemas = warehouse.query(
        "SELECT table_schema, count(*) FROM information_schema.tables "
        "WHERE table_schema IN ('silver', 'gold') GROUP BY table_schema ORDER BY table_schema"
    )
    assert schemas == [("gold", len(GOLD)), ("silver", len(SILVER))]


def check_silver_has_no_audit_columns_and_every_row_once(warehouse: Warehouse, pagila_dsn: str) -> None:
    audit = warehouse.query(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema IN ('silver', 'gold') AND column_name LIKE '\\_dk\\_%' ESCAPE '\\'"
    )
    assert audit == []
    for table in sorted(SILVER):
        expected = source_query(pagila_dsn, f"SELECT count(*) FROM public.{table}")
        assert warehouse.query(f"SELECT count(*) FROM silver.{table}") == expected, table


def check_total_payments_per_month(warehouse: Warehouse, pagila_dsn: str) -> None:
    expected = source_query(
        pagila_dsn,
        "SELECT CAST(date_trunc('month', payment_date AT TIME ZONE 'UTC') AS date), count(*), sum(amount) "
        "FROM public.payment GROUP BY 1 ORDER BY 1",
    )
    assert len(expected) == 7  # 2022-01 .. 2022-07
    facts = warehouse.query(
        "SELECT d.month_start, count(*), sum(f.amount) FROM gold.fact_payment f "
        "JOIN gold.dim_date d ON d.date_key = f.payment_date_key GROUP BY 1 ORDER BY 1"
    )
    assert facts == expected
    aggregate = warehouse.query(
        "SELECT revenue_month, sum(payment_count), sum(revenue) "
        "FROM gold.agg_monthly_revenue_by_store_category GROUP BY 1 ORDER BY 1"
    )
    assert aggregate == expected


def check_rentals_per_store(warehouse: Warehouse, pagila_dsn: str) -> None:
    expected = source_query(
        pagila_dsn,
        "SELECT i.store_id, count(*), count(r.return_date) FROM public.rental r "
        "JOIN public.inventory i ON i.inventory_id = r.inventory_id GROUP BY 1 ORDER BY 1",
    )
    gold = warehouse.query(
        "SELECT s.store_id, count(*), count(f.return_date) FROM gold.fact_rental f "
        "JOIN gold.dim_store s ON s.store_id = f.store_id GROUP BY 1 ORDER BY 1"
    )
    assert gold == expected
    assert sum(row[1] for row in gold) == source_query(pagila_dsn, "SELECT count(*) FROM public.rental")[0][0]


def check_customers_per_store(warehouse: Warehouse, pagila_dsn: str) -> None:
    expected = source_query(
        pagila_dsn,
        "SELECT store_id, count(*), count(*) FILTER (WHERE active = 1) FROM public.customer "
        "GROUP BY 1 ORDER BY 1",
    )
    gold = warehouse.query(
        "SELECT store_id, count(*), sum(CASE WHEN active THEN 1 ELSE 0 END) FROM gold.dim_customer "
        "GROUP BY 1 ORDER BY 1"
    )
    assert [(s, n, int(a)) for s, n, a in gold] == expected


def check_film_count_per_category(warehouse: Warehouse, pagila_dsn: str) -> None:
    expected = source_query(
        pagila_dsn,
        "SELECT c.name, count(DISTINCT fc.film_id) FROM public.film_category fc "
        "JOIN public.category c ON c.category_id = fc.category_id GROUP BY 1 ORDER BY 1",
    )
    gold = warehouse.query(
        "SELECT category_name, count(DISTINCT film_id) FROM gold.bridge_film_category GROUP BY 1 ORDER BY 1"
    )
    assert gold == expected
    primary = source_query(
        pagila_dsn,
        "SELECT c.name, count(*) FROM (SELECT film_id, min(category_id) AS category_id "
        "FROM public.film_category GROUP BY film_id) p "
        "JOIN public.category c ON c.category_id = p.category_id "
        "GROUP BY 1 ORDER BY 1",
    )
    assert (
        warehouse.query("SELECT category_name, count(*) FROM gold.dim_film GROUP BY 1 ORDER BY 1") == primary
    )


def check_dim_film_carries_language_categories_and_actors(warehouse: Warehouse, pagila_dsn: str) -> None:
    expected = source_query(
        pagila_dsn,
        "SELECT f.film_id, trim(l.name), "
        "(SELECT count(*) FROM public.film_category fc WHERE fc.film_id = f.film_id), "
        "(SELECT count(*) FROM public.film_actor fa WHERE fa.film_id = f.film_id), "
        "(SELECT string_agg(a.first_name || ' ' || a.last_name, ', ' ORDER BY a.last_name, a.first_name, "
        "a.actor_id) FROM public.film_actor fa JOIN public.actor a ON a.actor_id = fa.actor_id "
        "WHERE fa.film_id = f.film_id) "
        "FROM public.film f JOIN public.language l ON l.language_id = f.language_id ORDER BY 1",
    )
    gold = warehouse.query(
        "SELECT film_id, language, category_count, actor_count, actors FROM gold.dim_film ORDER BY 1"
    )
    assert gold == expected
    assert any(row[3] == 0 and row[4] is None for row in gold)  # films without actors are kept


def check_late_returns(warehouse: Warehouse, pagila_dsn: str) -> None:
    expected = source_query(
        pagila_dsn,
        "SELECT count(*) FILTER "
        "(WHERE r.return_date > r.rental_date + f.rental_duration * interval '1 day'), "
        "count(*) FILTER (WHERE r.return_date IS NULL) "
        "FROM public.rental r JOIN public.inventory i ON i.inventory_id = r.inventory_id "
        "JOIN public.film f ON f.film_id = i.film_id",
    )
    gold = warehouse.query(
        "SELECT sum(CASE WHEN is_late_return THEN 1 ELSE 0 END), "
        "sum(CASE WHEN is_returned THEN 0 ELSE 1 END) "
        "FROM gold.fact_rental"
    )
    assert [tuple(int(v) for v in row) for row in gold] == expected
    assert 0 < expected[0][0] < 16044
    durations = source_query(
        pagila_dsn,
        "SELECT sum((return_date AT TIME ZONE 'UTC')::date - (rental_date AT TIME ZONE 'UTC')::date) "
        "FROM public.rental",
    )
    assert [
        tuple(int(v) for v in row)
        for row in warehouse.query("SELECT sum(rental_duration_days) FROM gold.fact_rental")
    ] == durations


def check_monthly_revenue_by_store_and_category(warehouse: Warehouse, pagila_dsn: str) -> None:
    expected = source_query(
        pagila_dsn,
        "WITH primary_category AS (SELECT film_id, min(category_id) AS category_id "
        "FROM public.film_category GROUP BY film_id) "
        "SELECT CAST(date_trunc('month', p.payment_date AT TIME ZONE 'UTC') AS date), i.store_id, "
        "pc.category_id, count(*), sum(p.amount) "
        "FROM public.payment p JOIN public.rental r ON r.rental_id = p.rental_id "
        "JOIN public.inventory i ON i.inventory_id = r.inventory_id "
        "JOIN primary_category pc ON pc.film_id = i.film_id GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
    )
    gold = warehouse.query(
        "SELECT revenue_month, store_id, category_id, payment_count, revenue "
        "FROM gold.agg_monthly_revenue_by_store_category ORDER BY 1, 2, 3"
    )
    assert gold == expected
    total = source_query(pagila_dsn, "SELECT sum(amount) FROM public.payment")[0][0]
    assert isinstance(total, Decimal) and total > 0
    assert warehouse.query("SELECT sum(revenue) FROM gold.agg_monthly_revenue_by_store_category") == [
        (total,)
    ]


def check_dimensions_have_one_row_per_source_row(warehouse: Warehouse, pagila_dsn: str) -> None:
    for dimension, table in [
        ("dim_customer", "customer"),
        ("dim_film", "film"),
        ("dim_store", "store"),
        ("dim_staff", "staff"),
    ]:
        expected = source_query(pagila_dsn, f"SELECT count(*) FROM public.{table}")
        assert warehouse.query(f"SELECT count(*) FROM gold.{dimension}") == expected, dimension
    managers = source_query(pagila_dsn, "SELECT count(DISTINCT manager_staff_id) FROM public.store")
    assert warehouse.query("SELECT count(*) FROM gold.dim_staff WHERE is_store_manager") == managers
    emails = source_query(pagila_dsn, "SELECT count(*) FROM public.customer WHERE email IS NOT NULL")
    assert (
        warehouse.query(
            "SELECT count(*) FROM gold.dim_customer WHERE email = lower(email) AND email = trim(email)"
        )
        == emails
    )


def check_dim_date_spans_whole_years_around_the_activity(warehouse: Warehouse, pagila_dsn: str) -> None:
    first, last = source_query(
        pagila_dsn,
        "SELECT min(d), max(d) FROM (SELECT (rental_date AT TIME ZONE 'UTC')::date AS d FROM public.rental "
        "UNION ALL SELECT (return_date AT TIME ZONE 'UTC')::date FROM public.rental "
        "UNION ALL SELECT (payment_date AT TIME ZONE 'UTC')::date FROM public.payment) t",
    )[0]
    rows = warehouse.query(
        "SELECT min(date_day), max(date_day), count(*), count(DISTINCT date_key) FROM gold.dim_date"
    )
    start, end, days, keys = rows[0]
    assert (start.month, start.day, start.year) == (1, 1, first.year)
    assert (end.month, end.day, end.year) == (12, 31, last.year)
    assert days == keys == (end - start).days + 1
    sample = warehouse.query(
        "SELECT date_key, day_of_week, day_name, month_name, quarter, is_weekend FROM gold.dim_date "
        f"WHERE date_day = CAST('{first.isoformat()}' AS date)"
    )
    key = first.year * 10000 + first.month * 100 + first.day
    weekday = first.isoweekday()
    assert sample == [
        (
            key,
            weekday,
            first.strftime("%A"),
            first.strftime("%B"),
            (first.month - 1) // 3 + 1,
            weekday >= 6,
        )
    ]


def check_silver_keeps_the_latest_load_of_each_key_whatever_the_column_order(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    # On a copy of the built DuckDB project: bronze gets later (and earlier) loads of keys it already
    # holds, and a table whose columns come in another order; then the silver models are rebuilt.
    import shutil

    shutil.copytree(warehouse.project, tmp_path / "pagila")
    path = tmp_path / "pagila" / "warehouse.duckdb"
    copy = Warehouse(tmp_path / "pagila", warehouse.env, DuckDBTarget(path, read_only=True))
    customer = 7
    payment = copy.query("SELECT min(payment_id) FROM silver.payment")[0][0]
    before = copy.query(f"SELECT last_name FROM silver.customer WHERE customer_id = {customer}")
    actors = copy.query("SELECT * FROM silver.actor ORDER BY actor_id")
    amount = copy.query(f"SELECT amount FROM silver.payment WHERE payment_id = {payment}")[0][0]
    bronze = "br__pagila__public"
    writer = DuckDBTarget(path, bronze)
    writer.execute(
        f"INSERT INTO {bronze}.customer BY NAME SELECT * REPLACE ("
        "'  Changed  ' AS first_name, '  New.Mail@Example.COM ' AS email, 0 AS active, "
        "_dk_load_id + 1000000 AS _dk_load_id) "
        f"FROM {bronze}.customer WHERE customer_id = {customer}"
    )
    writer.execute(
        f"INSERT INTO {bronze}.customer BY NAME SELECT * REPLACE ("
        "'Older' AS last_name, _dk_load_id - 1000000 AS _dk_load_id, "
        "last_update + INTERVAL 1 DAY AS last_update) "
        f"FROM {bronze}.customer WHERE customer_id = {customer} AND _dk_load_id < 1000000"
    )
    writer.execute(
        f"INSERT INTO {bronze}.payment BY NAME SELECT * REPLACE ("
        "amount + 1 AS amount, _dk_load_id + 1000000 AS _dk_load_id) "
        f"FROM {bronze}.payment WHERE payment_id = {payment}"
    )
    columns = [row[0] for row in writer.query(f"DESCRIBE {bronze}.actor")]
    reordered = ", ".join(f'"{name}"' for name in reversed(columns))
    writer.execute(f"CREATE TABLE {bronze}.actor_reordered AS SELECT {reordered} FROM {bronze}.actor")
    writer.execute(f"DROP TABLE {bronze}.actor")
    writer.execute(f"ALTER TABLE {bronze}.actor_reordered RENAME TO actor")
    details = run_dbt_step(copy, "build", select="customer payment actor")
    assert {n["name"] for n in details["nodes"] if n["resource_type"] == "model"} == {
        "customer",
        "payment",
        "actor",
    }
    (after,) = copy.query(
        f"SELECT first_name, last_name, email, active FROM silver.customer WHERE customer_id = {customer}"
    )
    assert after == ("Changed", before[0][0], "new.mail@example.com", False)
    assert copy.query("SELECT count(*) FROM silver.customer") == warehouse.query(
        "SELECT count(*) FROM silver.customer"
    )
    assert copy.query(f"SELECT amount FROM silver.payment WHERE payment_id = {payment}") == [(amount + 1,)]
    assert copy.query("SELECT count(*) FROM silver.payment") == warehouse.query(
        "SELECT count(*) FROM silver.payment"
    )
    assert copy.query("SELECT * FROM silver.actor ORDER BY actor_id") == actors


CHECKS = (
    check_dbt_built_every_model_and_every_test_passed,
    check_silver_has_no_audit_columns_and_every_row_once,
    check_total_payments_per_month,
    check_rentals_per_store,
    check_customers_per_store,
    check_film_count_per_category,
    check_dim_film_carries_language_categories_and_actors,
    check_late_returns,
    check_monthly_revenue_by_store_and_category,
    check_dimensions_have_one_row_per_source_row,
    check_dim_date_spans_whole_years_around_the_activity,
)


def test_pagila_warehouse(warehouse: Warehouse, pagila_dsn: str, tmp_path: Path) -> None:
    """Every check on one engine's warehouse, each failure reported (one test per engine, so that
    pytest-xdist builds each warehouse once: its load distribution would send separate tests of the
    same engine to several workers, each building that engine's warehouse again)."""
    failures: list[str] = []
    for check in CHECKS:
        try:
            check(warehouse, pagila_dsn)
        except AssertionError as exc:
            failures.append(f"{check.__name__}: {exc}")
    if warehouse.engine == "duckdb":  # the rebuild runs on a copy of the file: DuckDB only
        try:
            check_silver_keeps_the_latest_load_of_each_key_whatever_the_column_order(warehouse, tmp_path)
        except AssertionError as exc:
            failures.append(f"check_silver_keeps_the_latest_load_of_each_key: {exc}")
    assert not failures, "\n\n".join(failures)
