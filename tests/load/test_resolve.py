"""A project's pipeline -> resource plans: contracts, names, transforms, secrets and errors."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from datakit.config import load_project
from datakit.connectors import TableRef
from datakit.datakits import DatakitPackageError
from datakit.errors import NotFoundError
from datakit.load.plan import DriftMode
from datakit.load.resolve import plans_for
from tests.pagila_project import copy_pagila_project

SECRET = "s3cret-Pa55word"


@pytest.fixture
def project_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("ENVIRONMENT", raising=False)
    monkeypatch.setenv("PAGILA_PASSWORD_DEV", SECRET)
    monkeypatch.setenv("WAREHOUSE_PASSWORD_DEV", SECRET)
    return copy_pagila_project(tmp_path)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_every_pagila_resource_gets_a_plan(project_root: Path) -> None:
    destination, plans = plans_for(load_project(project_root), "pagila_bronze")
    assert str(destination.params.database) == str(project_root / "warehouse.duckdb")  # type: ignore[attr-defined]
    assert len(plans) == 15
    by_resource = {plan.resource: plan for plan in plans}
    rental = by_resource["rental"]
    assert rental.target == TableRef("rental", "br__pagila__public")
    assert rental.request.table == TableRef("rental", "public")
    assert rental.request.batch_size == 50_000
    assert rental.source_label == "pagila.public.rental"
    assert rental.write_disposition == "merge"
    assert rental.primary_key == ("rental_id",)
    assert rental.merge_key == ("rental_id",)
    assert rental.incremental is not None
    assert rental.incremental.cursor_field == "last_update"
    assert rental.incremental.lag == timedelta(minutes=10)
    assert rental.drift_mode is DriftMode.EVOLVE
    assert rental.contract.layer == "bronze"
    assert rental.transform is None
    customer = by_resource["customer"]
    assert customer.transform is not None
    assert customer.contract.mixins == ("transactional",)
    assert customer.contract.history
    assert "create_date" in (customer.request.columns or ())  # read as the source model has it
    assert by_resource["film"].contract.history


def test_secrets_stay_secret_in_plans(project_root: Path) -> None:
    destination, plans = plans_for(load_project(project_root), "pagila_bronze_pg")
    shown = repr(destination) + "".join(repr(plan) for plan in plans)
    assert SECRET not in shown
    assert destination.params.password.get_secret_value() == SECRET  # type: ignore[attr-defined]


def test_resources_can_be_chosen_and_unknown_ones_are_named(project_root: Path) -> None:
    project = load_project(project_root)
    _, plans = plans_for(project, "pagila_rentals")
    assert [p.resource for p in plans] == ["rental", "payment"]
    _, chosen = plans_for(project, "pagila_bronze", resources=["store", "actor"])
    assert [p.resource for p in chosen] == ["store", "actor"]
    with pytest.raises(NotFoundError) as caught:
        plans_for(project, "pagila_rentals", resources=["rentals"])
    assert "pipeline 'pagila_rentals' has no resource 'rentals'" in str(caught.value)
    assert caught.value.hint == "did you mean 'rental'?"
    with pytest.raises(NotFoundError, match="unknown pipeline 'pagila_bronz'"):
        plans_for(project, "pagila_bronz")


def test_dataset_name_schema_contract_and_expressions(project_root: Path) -> None:
    pipeline = project_root / "config" / "pipelines" / "pagila_rentals.yaml"
    edit(pipeline, "    layer: bronze\n", "    layer: bronze\n    dataset_name: raw_pagila\n")
    edit(pipeline, "  datakit: pagila", "  schema_contract: freeze\n  datakit: pagila")
    source = project_root / "config" / "sources" / "pagila.yaml"
    edit(
        source,
        "    - name: payment\n",
        "    - name: payment\n      columns: {amount: 'amount * 100'}\n",
    )
    _, plans = plans_for(load_project(project_root), "pagila_rentals")
    rental, payment = plans
    assert rental.target == TableRef("rental", "raw_pagila")
    assert rental.drift_mode is DriftMode.FREEZE
    assert payment.transform is not None
    assert payment.request.columns is None
    batch = pa.RecordBatch.from_pydict({"payment_id": [7], "amount": [2.5], "customer_id": [1]})
    out = payment.transform(batch).batch.to_pydict()
    assert out == {"payment_id": [7], "amount": [250.0], "customer_id": [1]}  # others pass through


def test_a_layer_without_contracts_is_an_error_naming_the_datakit(project_root: Path) -> None:
    pipeline = project_root / "config" / "pipelines" / "pagila_rentals.yaml"
    edit(pipeline, "layer: bronze", "layer: silver")
    project = load_project(project_root)
    assert project.pipeline("pagila_rentals").drift_mode == "freeze"
    with pytest.raises(DatakitPackageError) as caught:
        plans_for(project, "pagila_rentals")
    assert "datakit 'pagila' has no silver table 'rental'" in str(caught.value)
    assert caught.value.hint == "it has 'rental' in source, bronze"


def test_unknown_transform_and_contract_are_errors_with_suggestions(project_root: Path) -> None:
    source = project_root / "config" / "sources" / "pagila.yaml"
    edit(source, "transform: customer_bronze_transform", "transform: customer_bronze")
    with pytest.raises(DatakitPackageError) as caught:
        plans_for(load_project(project_root), "pagila_bronze", resources=["customer"])
    assert caught.value.hint == "did you mean 'customer_bronze_transform'?"
    edit(source, "transform: customer_bronze #", "#")
    edit(source, "contract: customer ", "contract: customers ")
    with pytest.raises(DatakitPackageError) as unknown:
        plans_for(load_project(project_root), "pagila_bronze", resources=["customer"])
    assert "has no bronze table 'customers'" in str(unknown.value)
    assert unknown.value.hint == "did you mean 'customer'?"


def test_without_a_datakit_the_contract_is_reflected_from_the_source(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    (root / "config" / "sources").mkdir(parents=True)
    (root / "config" / "destinations").mkdir()
    (root / "config" / "pipelines").mkdir()
    (root / "datakit.yaml").write_text("name: shop\n")
    with sqlite3.connect(root / "shop.sqlite") as db:
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
    (root / "config" / "sources" / "shop.yaml").write_text(
        "source:\n  name: shop\n  type: sqlite\n  connection: {database: shop.sqlite}\n"
        "  resources:\n    - name: customers\n"
    )
    (root / "config" / "destinations" / "wh.yaml").write_text(
        "destination:\n  name: wh\n  type: duckdb\n  connection: {database: out/wh.duckdb}\n"
    )
    (root / "config" / "pipelines" / "p.yaml").write_text(
        "pipeline:\n  name: p\n  source: {name: shop}\n  destination: {name: wh}\n"
    )
    destination, (plan,) = plans_for(load_project(root), "p")
    assert destination.params.database == str(root / "out" / "wh.duckdb")  # type: ignore[attr-defined]
    assert plan.contract.column_names == ("id", "name")
    assert plan.contract.primary_key == ("id",)
    assert plan.target == TableRef("customers", "br__shop__main")


def test_a_reflected_contract_has_only_the_columns_the_resource_reads(tmp_path: Path) -> None:
    """Else the columns left unread would be contract columns the source does not deliver."""
    root = tmp_path / "shop"
    for folder in ("sources", "destinations", "pipelines"):
        (root / "config" / folder).mkdir(parents=True)
    (root / "datakit.yaml").write_text("name: shop\n")
    with sqlite3.connect(root / "shop.sqlite") as db:
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT)")
    (root / "config" / "sources" / "shop.yaml").write_text(
        "source:\n  name: shop\n  type: sqlite\n  connection: {database: shop.sqlite}\n"
        "  resources:\n    - {name: customers, columns: [note, id]}\n"
    )
    (root / "config" / "destinations" / "wh.yaml").write_text(
        "destination:\n  name: wh\n  type: duckdb\n  connection: {database: wh.duckdb}\n"
    )
    (root / "config" / "pipelines" / "p.yaml").write_text(
        "pipeline:\n  name: p\n  source: {name: shop}\n  destination: {name: wh}\n"
    )
    _, (plan,) = plans_for(load_project(root), "p")
    assert plan.contract.column_names == ("id", "note")
    assert plan.contract.primary_key == ("id",)
    assert plan.request.columns == ["note", "id"]
