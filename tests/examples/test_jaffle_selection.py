"""Selection on examples/jaffle_shop, the plain dbt project with tenants: the same selector picks the same
part of each tenant's plan, and a selected fan-out runs only that part in each tenant's warehouse."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from datakit.config import load_project
from datakit.orchestrate.selection import selected_job
from tests.examples.test_jaffle_shop import EXAMPLE, TENANTS, api, shop  # noqa: F401 - `api` is a fixture

STAGED = {"staging.stg_orders", "staging.stg_payments"}
ORDER_TESTS = {
    "staging.unique_stg_orders_order_id",
    "staging.not_null_stg_orders_order_id",
    "staging.accepted_values_stg_orders_status__placed__shipped__completed__return_pending__returned",
    "staging.unique_stg_payments_payment_id",
    "staging.not_null_stg_payments_payment_id",
    "staging.accepted_values_stg_payments_payment_method__credit_card__coupon__bank_transfer__gift_card",
}


def _models(plan: object) -> dict[str, set[str] | None]:
    from datakit.orchestrate.plan import Plan

    assert isinstance(plan, Plan) and plan.selection is not None
    labels = plan.selection.labels
    return {
        step.id: {labels[n] for n in plan.selection.nodes[step.id]}
        if step.id in plan.selection.nodes
        else None
        for step in plan.steps
    }


@pytest.mark.parametrize("warehouse", [None, *TENANTS])
def test_the_same_selection_in_every_tenant(tmp_path: Path, warehouse: str | None) -> None:
    root = tmp_path / "jaffle_shop"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("*.duckdb", ".datakit", "target", "logs"))
    project = load_project(root)
    plan = selected_job(project, "jaffle_daily", warehouse, ["+orders"])
    chosen = _models(plan)
    assert set(chosen) == {"jaffle_files.raw_orders", "jaffle_payments.payments", "dbt_build"}
    dbt = chosen["dbt_build"]
    assert dbt is not None
    assert {n for n in dbt if not n.split(".")[1].startswith(("unique_", "not_null_", "accepted_"))} == {
        *STAGED,
        "marts.orders",
    }
    assert dbt >= ORDER_TESTS
    assert plan.step("dbt_build").depends_on == ("jaffle_files.raw_orders", "jaffle_payments.payments")
    # the check suite reads the marts: downstream of them
    assert set(_models(selected_job(project, "jaffle_daily", warehouse, ["marts.orders+"]))) == {
        "dbt_build",
        "marts_checks",
    }
    assert set(_models(selected_job(project, "jaffle_daily", warehouse, ["source:jaffle"]))) == {
        "jaffle_files.raw_customers",
        "jaffle_files.raw_orders",
    }
    staging = _models(
        selected_job(project, "jaffle_daily", warehouse, ["path:transform/jaffle_shop/models/staging"])
    )
    assert set(staging) == {"dbt_build"}
    assert {"staging.stg_customers", *STAGED} <= (staging["dbt_build"] or set())


def test_a_selected_fan_out_runs_the_part_in_each_tenant(tmp_path: Path, api: str) -> None:  # noqa: F811
    import duckdb

    run = shop(tmp_path, api)
    done = run.datakit("run", "job", "jaffle_daily", "--warehouse", "all", "--select", "+orders", "--json")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    outcome = json.loads(done.stdout)
    for tenant_run in outcome["runs"]:
        assert tenant_run["run"]["steps"] == {
            "jaffle_files.raw_orders": "succeeded",
            "jaffle_payments.payments": "succeeded",
            "dbt_build": "succeeded",
        }
    for tenant in TENANTS:
        with duckdb.connect(str(run.root / f"{tenant}.duckdb"), read_only=True) as con:
            tables = {
                f"{schema}.{name}"
                for schema, name in con.execute(
                    "select table_schema, table_name from information_schema.tables"
                ).fetchall()
            }
        assert f"{tenant}_main.orders" in tables
        assert f"{tenant}_main.customers" not in tables  # not selected: not built
        assert f"{tenant}_br__jaffle__main.raw_customers" not in tables  # not loaded
