"""The Pagila datakit of the example project: its source contracts are the live database's, its
bronze contracts cover every table, and its transform and factories work on real rows."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from datakit.connectors.reflection import reflect_database
from datakit.contracts import Contract, validate_batch
from datakit.datakits import Datakit, load_datakit
from tests.conftest import EXAMPLES
from tests.contracts.conftest import sqlalchemy_url
from tests.pagila import TABLES


@pytest.fixture(scope="module")
def kit() -> Datakit:
    return load_datakit(EXAMPLES / "pagila" / "datakits", "pagila")


def by_name(contracts: list[Contract]) -> dict[str, Contract]:
    return {contract.name: contract for contract in contracts}


@pytest.mark.postgres
def test_source_contracts_equal_the_live_pagila_database(kit: Datakit, pagila_dsn: str) -> None:
    live = by_name(reflect_database(sqlalchemy_url(pagila_dsn), "public", system="pagila"))
    ours = by_name(kit.contracts("source"))
    assert sorted(ours) == TABLES
    for name in TABLES:
        assert ours[name] == live[name], name


def test_bronze_contracts_cover_every_table(kit: Datakit) -> None:
    source, bronze = by_name(kit.contracts("source")), by_name(kit.contracts("bronze"))
    assert sorted(bronze) == TABLES
    assert {name for name, c in bronze.items() if c.history} == {"customer", "film"}
    for name in TABLES:
        if name != "customer":  # the others mirror the source at layer bronze
            assert bronze[name] == source[name].evolve(layer="bronze", history=name == "film"), name
    customer = bronze["customer"]
    assert customer.mixins == ("transactional",)
    assert customer.temporal_exclude == ("created_at", "updated_at", "systime")
    assert customer.column_names == (
        "customer_id",
        "store_id",
        "first_name",
        "last_name",
        "email",
        "address_id",
        "activebool",
        "last_update",
        "active",
        "created_at",
        "updated_at",
        "systime",
    )


@pytest.mark.postgres
def test_customer_transform_on_every_real_customer(kit: Datakit, pagila_dsn: str) -> None:
    typed = kit.transform("customer_bronze_transform")
    with psycopg.connect(pagila_dsn, row_factory=dict_row) as conn:
        rows: list[dict[str, Any]] = conn.execute("SELECT * FROM public.customer").fetchall()
    assert len(rows) == 599
    for row in rows:
        out = typed.func(typed.source_model.model_validate(row))
        assert out.customer_id == row["customer_id"]
        assert out.email == (row["email"].lower() if row["email"] else None)
        assert out.created_at.date() == row["create_date"]
        assert out.updated_at == (row["last_update"] or out.created_at)


def test_factories_build_valid_and_breaking_rows(kit: Datakit) -> None:
    factories = __import__(f"{kit.module.__name__}.factories", fromlist=["customers"])
    contract = kit.contract("customer", "source")
    good = factories.customers(50, seed=3)
    assert good.num_rows == 50
    assert validate_batch(contract, good.combine_chunks().to_batches()[0]).rejected.num_rows == 0
    bad = factories.customers_breaking("not_null", 7, seed=3)
    assert validate_batch(contract, bad.combine_chunks().to_batches()[0]).rejected.num_rows == 7
    assert factories.customers(50, seed=3).equals(good)
