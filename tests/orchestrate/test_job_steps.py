"""A job of loads, dbt and checks, run by the executor in child processes, end to end on DuckDB.

Bronze -> silver (dbt) -> checks -> gold (dbt): dbt's node results and the checks' failing rows land in
run history, and an `error` check that fails stops the gold step, so gold keeps yesterday's figures.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import duckdb

from datakit.config import load_project
from datakit.config.scaffold import init_project
from datakit.orchestrate.run import run_job
from datakit.orchestrate.store import StepStatus, open_store

DBT_PROJECT = """\
name: shop
version: "1.0"
profile: datakit
models:
  shop:
    silver: {+schema: silver, +materialized: table}
    gold: {+schema: gold, +materialized: table}
"""
SCHEMA_MACRO = """\
{% macro generate_schema_name(custom_schema_name, node) -%}
  {{ custom_schema_name if custom_schema_name is not none else target.schema }}
{%- endmacro %}
"""
SILVER_ORDERS = """\
select order_id, customer_id, cast(amount as decimal(10, 2)) as amount, status
from {{ source('br__shop__main', 'orders') }}
"""
GOLD_REVENUE = """\
select status, count(*) as orders, sum(amount) as revenue
from {{ ref('orders') }}
group by status
"""
CHECKS = """\
checks:
  name: silver_quality
  destination: warehouse
  tables:
    silver.orders:
      - unique: order_id
      - expression: "amount >= 0"
      - accepted_values: {column: status, values: [new, paid, shipped, cancelled]}
        severity: warn
"""
JOB = """\
job:
  name: warehouse
  pipelines: [shop_bronze]
  steps:
    - name: silver
      dbt: {project: transform/shop, command: build, select: silver}
      depends_on: [shop_bronze]
    - name: silver_checks
      checks: silver_quality
      depends_on: [silver]
    - name: gold
      dbt: {project: transform/shop, command: build, select: gold}
      depends_on: [silver_checks]
  execution: {mode: dag}
"""


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    init_project(root)
    dbt = root / "transform" / "shop"
    (dbt / "models" / "silver").mkdir(parents=True)
    (dbt / "models" / "gold").mkdir()
    (dbt / "macros").mkdir()
    (dbt / "dbt_project.yml").write_text(DBT_PROJECT, encoding="utf-8")
    (dbt / "macros" / "schema.sql").write_text(SCHEMA_MACRO, encoding="utf-8")
    (dbt / "models" / "silver" / "orders.sql").write_text(SILVER_ORDERS, encoding="utf-8")
    (dbt / "models" / "gold" / "revenue.sql").write_text(GOLD_REVENUE, encoding="utf-8")
    (root / "config" / "checks").mkdir()
    (root / "config" / "checks" / "silver_quality.yaml").write_text(CHECKS, encoding="utf-8")
    (root / "config" / "jobs" / "warehouse.yaml").write_text(JOB, encoding="utf-8")
    return root


def _revenue(root: Path) -> list[tuple[object, ...]]:
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as conn:
        return conn.execute("select status, orders, revenue from gold.revenue order by status").fetchall()


def test_bad_silver_rows_fail_the_checks_and_leave_gold_untouched(tmp_path: Path) -> None:
    root = _project(tmp_path)
    project = load_project(root)
    first = run_job(project, "warehouse")
    assert first.ok, first.errors
    with sqlite3.connect(root / "data" / "shop.sqlite") as source:
        expected = source.execute(
            "select status, count(*), round(sum(amount), 2) from orders group by status order by status"
        ).fetchall()
    revenue = _revenue(root)
    assert [(s, n, float(r)) for s, n, r in revenue] == [(s, n, float(r)) for s, n, r in expected]

    store = open_store(project)
    run = store.get_run(first.run_id)
    steps = {s.step_id: s for s in run.steps}
    silver = steps["silver"].details
    assert silver is not None
    assert any(n["name"] == "orders" and n["status"] == "success" for n in silver["nodes"])
    checks = steps["silver_checks"].details
    assert checks is not None and all(c["status"] == "passed" for c in checks["checks"])
    (attempt,) = steps["silver"].attempt_records
    dbt_lines = [line for line in (attempt.log or "").splitlines() if "of 1 OK created" in line]
    assert len(dbt_lines) == 1, attempt.log  # each dbt line once in the step's log

    # two bad orders arrive: negative amounts (newer than the cursor, so the incremental load takes them)
    with sqlite3.connect(root / "data" / "shop.sqlite") as source:
        source.execute(
            "insert into orders values (9001, 1, -5.00, 'paid', '2030-01-01T00:00:00'), "
            "(9002, 2, -7.50, 'new', '2030-01-01T00:00:00')"
        )
    second = run_job(project, "warehouse")
    assert not second.ok
    assert second.steps["silver"] is StepStatus.SUCCEEDED
    assert second.steps["silver_checks"] is StepStatus.FAILED
    assert second.steps["gold"] is StepStatus.SKIPPED
    assert "expression" in second.errors["silver_checks"] and "2 rows" in second.errors["silver_checks"]
    assert _revenue(root) == revenue  # gold was not rebuilt from bad silver
    failed = {s.step_id: s for s in store.get_run(second.run_id).steps}["silver_checks"].details
    assert failed is not None
    bad = next(c for c in failed["checks"] if c["check"] == "expression")
    assert bad["failing_rows"] == 2 and {r["order_id"] for r in bad["sample"]} == {9001, 9002}
    store.close()
    from tests.cli.test_cli import run as cli

    shown = cli("-p", str(root), "runs", "show", str(second.run_id), env={"COLUMNS": "200"})
    assert "silver: dbt, 1 nodes (1 success)" in shown.stdout, shown.stdout
    assert "silver_checks: 2 of 3 checks passed" in shown.stdout
    assert "✗ silver.orders expression(amount >= 0): 2 rows [error]" in shown.stdout


def test_a_step_runs_in_this_process_as_it_does_in_a_child(tmp_path: Path) -> None:
    """`run_step_here` (what an Airflow task calls) does the work LocalRunner's child does."""
    from datakit.orchestrate.plan import compile_job
    from datakit.orchestrate.steps import run_step_here

    root = tmp_path / "shop"
    init_project(root)
    plan = compile_job(load_project(root), "daily")
    output = run_step_here(root, "dev", plan.step("shop_bronze.customers"))
    with sqlite3.connect(root / "data" / "shop.sqlite") as source:
        (customers,) = source.execute("select count(*) from customers").fetchone()
    assert output.rows == {"rows_read": customers, "rows_loaded": customers, "rows_rejected": 0}
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as conn:
        assert conn.execute('select count(*) from "br__shop__main"."customers"').fetchone() == (customers,)
