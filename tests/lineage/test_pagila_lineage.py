"""Golden lineage of the example Pagila project: source -> bronze -> silver -> gold, column by column."""

from __future__ import annotations

from pathlib import Path

import pytest

from datakit.config.project import Project
from datakit.errors import NotFoundError, UsageError
from datakit.lineage import Graph, How, find_column, trace

DUCK = "local_duckdb"


def _path(graph: Graph, name: str) -> list[tuple[str, str | None, str, str | None, How]]:
    found = trace(graph, find_column(graph, name), "upstream")
    return [(e.source, e.source_column, e.target, e.target_column, e.how) for e in found.upstream]


def test_fact_payment_amount_traces_to_the_source_payment_amount(pagila: tuple[Project, Graph]) -> None:
    _, graph = pagila
    path = _path(graph, "gold.fact_payment.amount")
    direct = [step for step in path if step[3] is not None]
    assert direct == [
        (f"{DUCK}.silver.payment", "amount", f"{DUCK}.gold.fact_payment", "amount", How.COPIED),
        (f"{DUCK}.br__pagila__public.payment", "amount", f"{DUCK}.silver.payment", "amount", How.CAST),
        ("pagila.public.payment", "amount", f"{DUCK}.br__pagila__public.payment", "amount", How.COPIED),
    ]
    found = trace(graph, find_column(graph, "gold.fact_payment.amount"), "upstream")
    assert found.sources() == [("pagila.public.payment", "amount")]
    rows = {(e.source, e.source_column, e.how) for e in found.upstream if e.target_column is None}
    assert rows == {
        (f"{DUCK}.silver.payment", "rental_id", How.JOINED_ON),
        (f"{DUCK}.silver.rental", "rental_id", How.JOINED_ON),
        (f"{DUCK}.silver.rental", "inventory_id", How.JOINED_ON),
        (f"{DUCK}.silver.inventory", "inventory_id", How.JOINED_ON),
    }


def test_dim_customer_full_name_traces_to_first_and_last_name(pagila: tuple[Project, Graph]) -> None:
    _, graph = pagila
    found = trace(graph, find_column(graph, "gold.dim_customer.full_name"), "upstream")
    source = "pagila.public.customer"
    assert found.sources() == [(source, "first_name"), (source, "last_name")]
    into_gold = [e for e in found.upstream if e.target_column == "full_name"]
    assert {(e.source_column, e.how) for e in into_gold} == {
        ("first_name", How.TRANSFORMED),
        ("last_name", How.TRANSFORMED),
    }
    assert all("||" in (e.expression or "") for e in into_gold)
    bronze = [e for e in found.upstream if e.target == f"{DUCK}.br__pagila__public.customer"]
    assert {(e.source_column, e.how, e.via) for e in bronze} == {
        ("first_name", How.COPIED, "transform customer_bronze_transform"),
        ("last_name", How.COPIED, "transform customer_bronze_transform"),
    }


def test_a_typed_transform_is_read_from_its_code(pagila: tuple[Project, Graph]) -> None:
    _, graph = pagila
    bronze = f"{DUCK}.br__pagila__public.customer"
    email = graph.into(bronze, "email")
    assert [(e.source_column, e.how, e.expression) for e in email] == [
        ("email", How.TRANSFORMED, "source.email.lower() if source.email else None")
    ]
    created = graph.into(bronze, "created_at")  # through the local `created = datetime.combine(...)`
    assert [(e.source_column, e.how) for e in created] == [("create_date", How.TRANSFORMED)]
    updated = {(e.source_column, e.how) for e in graph.into(bronze, "updated_at")}
    assert updated == {("create_date", How.TRANSFORMED), ("last_update", How.TRANSFORMED)}
    table = graph.tables[bronze]
    roles = {c.name: c.role for c in table.columns}
    assert roles["systime"] == "loader"  # the transform leaves it: the loader fills it
    assert roles["_dk_load_id"] == roles["_dk_record_hash"] == "audit"
    assert "_dk_loaded_at" not in roles  # the load's time is its record's, not every row's
    assert graph.into(bronze, "systime") == [] and graph.into(bronze, "_dk_load_id") == []


def test_silver_rows_are_the_latest_per_key_filtered_by_audit_columns(pagila: tuple[Project, Graph]) -> None:
    _, graph = pagila
    rows = {(e.source_column, e.how) for e in graph.into(f"{DUCK}.silver.payment", None)}
    assert rows == {
        ("payment_id", How.FILTERED_BY),
        ("payment_date", How.FILTERED_BY),
        ("_dk_load_id", How.FILTERED_BY),
        ("_dk_record_hash", How.FILTERED_BY),
    }
    cursor = graph.into(f"{DUCK}.br__pagila__public.rental", None)  # the incremental cursor
    assert {(e.source, e.source_column, e.how) for e in cursor} == {
        ("pagila.public.rental", "last_update", How.FILTERED_BY)
    }


def test_aggregates_and_downstream(pagila: tuple[Project, Graph]) -> None:
    _, graph = pagila
    found = trace(graph, find_column(graph, "gold.fact_payment.amount"), "downstream")
    monthly = f"{DUCK}.gold.agg_monthly_revenue_by_store_category"
    revenue = {(e.source_column, e.target_column, e.how) for e in found.downstream if e.target == monthly}
    assert ("amount", "revenue", How.AGGREGATED) in revenue


def test_checks_read_columns_from_suites_and_dbt_tests(pagila: tuple[Project, Graph]) -> None:
    _, graph = pagila
    found = trace(graph, find_column(graph, "gold.fact_payment.amount"), "upstream")
    names = {(c.origin.split()[0], c.name) for c in found.checks}
    assert ("checks", "expression(amount >= 0)") in names  # config/checks/silver_quality.yaml
    assert ("checks", "not_null(amount)") in names
    assert ("dbt", "not_null_fact_payment_amount") in {(o, n.split(".")[0]) for o, n in names}
    relationship = next(c for c in graph.checks if c.name == "relationships(customer_id -> silver.customer)")
    assert relationship.reads == (
        (f"{DUCK}.silver.payment", "customer_id"),
        (f"{DUCK}.silver.customer", "customer_id"),
    )


def test_a_model_whose_sql_cannot_be_read_is_unknown_not_guessed(pagila: tuple[Project, Graph]) -> None:
    _, graph = pagila
    broken = graph.tables[f"{DUCK}.gold.broken"]
    assert any(note.startswith("column lineage unknown: cannot read the SQL") for note in broken.notes)
    edges = graph.into(broken.id, None)
    unknown = [(f"{DUCK}.silver.payment", None, How.UNKNOWN)]
    assert [(e.source, e.source_column, e.how) for e in edges] == unknown


def test_every_pipeline_and_destination_is_in_the_graph(pagila: tuple[Project, Graph]) -> None:
    _, graph = pagila
    postgres = graph.tables["warehouse_pg.br__pagila__public.payment"]  # pagila_bronze_pg
    assert postgres.layer == "bronze" and postgres.column("amount") is not None
    assert graph.tables["pagila.public.payment"].layer == "source"
    gold = graph.tables[f"{DUCK}.gold.dim_customer"]
    assert gold.layer == "gold" and gold.description and gold.column("full_name") is not None
    assert gold.column("full_name").description == "First and last name."  # type: ignore[union-attr]


def test_a_column_is_found_by_the_end_of_its_name(pagila: tuple[Project, Graph]) -> None:
    _, graph = pagila
    assert find_column(graph, "fact_payment.amount") == (f"{DUCK}.gold.fact_payment", "amount")
    with pytest.raises(UsageError, match="names 4 columns") as ambiguous:
        find_column(graph, "payment.amount")
    assert "warehouse_pg.br__pagila__public.payment.amount" in ambiguous.value.message
    with pytest.raises(NotFoundError) as missing:
        find_column(graph, "gold.fact_payment.amout")
    assert missing.value.hint == "did you mean 'gold.fact_payment.amount'?"


def test_a_dbt_project_never_run_is_said_not_guessed(tmp_path: Path) -> None:
    from datakit.config import load_project
    from datakit.lineage import build_lineage
    from tests.pagila_project import copy_pagila_project

    graph = build_lineage(load_project(copy_pagila_project(tmp_path)))
    assert graph.notes == [
        "dbt project transform/pagila has not run on local_duckdb yet: its models are not in the lineage "
        "(run the job, or pass --compile)"
    ]
    assert f"{DUCK}.br__pagila__public.payment" in graph.tables  # loads are known without dbt
    with pytest.raises(NotFoundError) as missing:
        find_column(graph, "gold.fact_payment.amount")
    assert missing.value.hint is not None and missing.value.hint.startswith("dbt project transform/pagila")
