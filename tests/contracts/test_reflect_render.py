"""Reflection of real Pagila, the datakit package written from it, and the full round trip:

PostgreSQL -> contracts -> SQLModel package -> contracts -> DDL in an empty schema -> contracts.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
import pyarrow as pa
import pytest
from psycopg import sql

from datakit.connectors.reflection import reflect_database
from datakit.contracts.model import Contract, Layer
from datakit.contracts.render import render_datakit_package
from datakit.contracts.spec import contract_from_spec
from datakit.contracts.sqlmodel_source import contract_from_sqlmodel
from datakit.contracts.validate import validate_batch
from datakit.errors import NotFoundError
from tests.contracts.conftest import deploy_contracts, sqlalchemy_url, unique_name
from tests.pagila import TABLES


@pytest.fixture(scope="module")
def pagila(pagila_dsn: str) -> list[Contract]:
    return reflect_database(sqlalchemy_url(pagila_dsn), "public", system="pagila")


def by_name(contracts: list[Contract]) -> dict[str, Contract]:
    return {contract.name: contract for contract in contracts}


def import_package(path: Path) -> ModuleType:
    """Import a rendered package under a name of its own (tests may render several)."""
    name = unique_name(path.name)
    spec = importlib.util.spec_from_file_location(
        name, path / "__init__.py", submodule_search_locations=[str(path)]
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_reflection_skips_views_and_partitions(pagila: list[Contract]) -> None:
    assert [contract.name for contract in pagila] == TABLES
    assert all(contract.layer is Layer.SOURCE and contract.system == "pagila" for contract in pagila)
    assert all(contract.schema_name == "public" for contract in pagila)


def test_reflection_reads_pagila_types_and_rules(pagila: list[Contract]) -> None:
    tables = by_name(pagila)
    film = tables["film"]
    assert {column.name: str(column.type) for column in film.columns} == {
        "film_id": "int32",
        "title": "string",
        "description": "string",
        "release_year": "int32",  # domain `year`: its base type ...
        "language_id": "int32",
        "original_language_id": "int32",
        "rental_duration": "int16",
        "rental_rate": "decimal(4,2)",
        "length": "int16",
        "replacement_cost": "decimal(5,2)",
        "rating": "string",  # enum mpaa_rating: text with accepted values
        "last_update": "timestamptz",
        "special_features": "array<string>",
        "fulltext": "string",  # tsvector has no logical type: its text form
    }
    year = film.column("release_year")
    assert (year.min, year.max, year.nullable) == (1901, 2155, True)  # ... and its CHECK
    assert film.column("rating").accepted_values == ("G", "PG", "PG-13", "R", "NC-17")
    assert film.column("language_id").foreign_key == "language.language_id"
    assert not film.column("fulltext").nullable
    assert tables["language"].column("name").max_length == 20  # character(20)
    assert str(tables["staff"].column("picture").type) == "binary"
    assert tables["payment"].primary_key == (
        "payment_date",
        "payment_id",
    )  # constraint order, not column order
    assert tables["rental"].unique == (("rental_date", "inventory_id", "customer_id"),)  # a unique index
    assert tables["store"].unique == (("manager_staff_id",),)
    assert tables["film_actor"].primary_key == ("actor_id", "film_id")
    assert tables["customer"].column("last_update").nullable


def test_round_trip_reflect_render_import_deploy_reflect(
    pagila: list[Contract], tmp_path: Path, pg: psycopg.Connection[Any], pg_dsn: str, pg_schema: str
) -> None:
    package = render_datakit_package(pagila, tmp_path / "datakits", "pagila")
    assert sorted(path.name for path in package.iterdir() if path.suffix == ".py") == [
        "__init__.py",
        "_base.py",
        "public.py",
    ]
    module = import_package(package)
    assert list(module.CONTRACTS) == pagila
    assert [contract_from_sqlmodel(model) for model in module.MODELS] == pagila

    deploy_contracts(module.CONTRACTS, pg, pg_schema)
    again = reflect_database(sqlalchemy_url(pg_dsn), pg_schema, system="pagila")
    assert [contract.evolve(schema_name="public") for contract in again] == pagila


def test_rendered_code_is_formatted_and_lint_clean(pagila: list[Contract], tmp_path: Path) -> None:
    package = render_datakit_package(pagila[:3], tmp_path, "pagila")
    ruff = Path(sys.executable).parent / "ruff"
    if not ruff.exists():
        pytest.skip("ruff is not installed next to this Python")
    for command in (["format", "--check"], ["check", "--select", "E,F,W,I,UP,B"]):
        done = subprocess.run(
            [str(ruff), *command, "--isolated", str(package)], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
    text = (package / "public.py").read_text()
    assert "class Actor(Base, table=True):" in text
    assert "    actor_id: int = Field(primary_key=True)" in text
    assert "    address2: str | None = None" in text
    assert '    city_id: int = Field(foreign_key="public.city.city_id")' in text


def test_rendering_awkward_names_and_every_rule(tmp_path: Path) -> None:
    tricky = contract_from_spec(
        {
            "table": "Order Lines",
            "schema": "sales",
            "layer": "bronze",
            "description": 'Lines of "orders".',
            "history": True,
            "mixins": ["transactional"],
            "temporal_exclude": ["note"],
            "primary_key": ["line", "class"],
            "unique": [["metadata", "model_config"]],
            "columns": {
                "class": {"type": "integer"},
                "line": {"type": "smallint"},
                "metadata": {"type": "string", "max_length": 10, "pattern": "^[a-z]+$"},
                "model_config": {"type": "bigint", "accepted_values": [1, 2, 3]},
                "_private": {"type": "float32", "min": 0, "max": 1, "max_exclusive": True},
                "2fa": {"type": "boolean"},
                "amount": {"type": "decimal", "precision": 9, "scale": 3, "accepted_values": ["1.5", "2.25"]},
                "status": {
                    "type": "string",
                    "max_length": 4,
                    "accepted_values": ["new", "old"],
                    "pattern": "^[a-z]+$",
                },
                "ref": {"type": "uuid", "pattern": "^0"},
                "payload": {"type": "json", "nullable": False},
                "stamp": {"type": "timestamp", "min": "2020-01-01T00:00:00"},
                "zoned": {"type": "timestamptz", "max": "2030-01-01T00:00:00+02:00"},
                "day": {"type": "date", "min": "2020-01-01"},
                "clock": {"type": "time", "max": "18:00:00"},
                "wait": {"type": "interval"},
                "blob": {"type": "binary"},
                "nums": {"type": "array<decimal(4,1)>"},
                "note": {"type": "string", "description": "free text, it's fine"},
                "parent": {"type": "integer", "foreign_key": "other.orders.id"},
                "total": {"type": "decimal"},
            },
        }
    )
    plain = contract_from_spec(
        {"table": "order_lines", "columns": {"id": {"type": "integer", "primary_key": True}}}
    )
    other = contract_from_spec(
        {"table": "orders", "schema": "other", "columns": {"id": {"type": "integer", "primary_key": True}}}
    )
    contracts = [tricky, plain, other]
    module = import_package(render_datakit_package(contracts, tmp_path, "my-shop"))
    assert list(module.CONTRACTS) == contracts
    assert [model.__name__ for model in module.MODELS] == ["OrderLines", "OrderLines", "Orders"]
    assert module.MODELS[0].__table__.c["class"].name == "class"


def test_reflect_selected_tables_and_unknown_ones(pagila_dsn: str) -> None:
    [film] = reflect_database(sqlalchemy_url(pagila_dsn), "public", tables=["film"])
    assert film.name == "film"
    with pytest.raises(NotFoundError) as info:
        reflect_database(sqlalchemy_url(pagila_dsn), "public", tables=["flim"])
    assert "unknown table 'flim'" in str(info.value)
    assert info.value.hint == "did you mean 'film'?"


def test_real_pagila_rows_pass_their_reflected_contracts(pagila: list[Contract], pagila_dsn: str) -> None:
    """Every row of every Pagila table, as psycopg reads it, validates against the table's contract."""
    with psycopg.connect(pagila_dsn) as connection:
        for contract in pagila:
            query = sql.SQL("SELECT * FROM public.{}").format(sql.Identifier(contract.name))
            cursor = connection.execute(query)
            names = [column.name for column in cursor.description or ()]
            rows = cursor.fetchall()
            batch = pa.record_batch(
                {name: pa.array([row[i] for row in rows]) for i, name in enumerate(names)}
            )
            result = validate_batch(contract, batch)
            assert (contract.name, result.rejected.num_rows, result.good.num_rows) == (
                contract.name,
                0,
                len(rows),
            )
            if contract.name == "film":  # spot checks of values converted on the way
                assert result.good.schema.field("rental_rate").type == pa.decimal128(4, 2)
                assert Decimal("4.99") in result.good.column("rental_rate").to_pylist()
                assert ["Trailers", "Deleted Scenes"] in result.good.column("special_features").to_pylist()


@pytest.fixture
def rendered_twice(tmp_path: Path, pagila: list[Contract]) -> tuple[ModuleType, ModuleType]:
    first = import_package(render_datakit_package(pagila, tmp_path / "a", "pagila"))
    second = import_package(render_datakit_package(pagila, tmp_path / "b", "pagila"))
    return first, second


def test_two_datakits_with_the_same_tables_import_side_by_side(
    rendered_twice: tuple[ModuleType, ModuleType],
) -> None:
    first, second = rendered_twice
    assert first.CONTRACTS == second.CONTRACTS
    assert first.MODELS[0].metadata is not second.MODELS[0].metadata


def test_reflecting_sqlite(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as connection:
        connection.executescript(
            """
            CREATE TABLE customer (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL, score REAL,
                                   balance NUMERIC(8, 2), joined TIMESTAMP, UNIQUE (name));
            CREATE TABLE purchase (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customer (id),
                                   amount NUMERIC(6, 2) CHECK (amount >= 0));
            CREATE VIEW customer_names AS SELECT name FROM customer;
            """
        )
    customer, purchase = reflect_database(f"sqlite:///{path}", "main", system="shop")
    assert {c.name: str(c.type) for c in customer.columns} == {
        "id": "int32",
        "name": "string",
        "score": "float64",
        "balance": "decimal(8,2)",
        "joined": "timestamp",
    }
    assert customer.column("name").max_length == 40
    assert customer.unique == (("name",),)
    assert purchase.column("customer_id").foreign_key == "customer.id"
    assert purchase.column("amount").min == Decimal(0)
