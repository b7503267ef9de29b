"""DDL executed on real DuckDB and PostgreSQL, then read back from their catalogs."""

from __future__ import annotations

from typing import Any

import duckdb
import psycopg
import pytest

from datakit.connectors.engines.duckdb.engine import DUCKDB
from datakit.connectors.engines.postgres.engine import POSTGRES
from datakit.contracts.errors import ContractError
from datakit.contracts.model import Contract, Layer, LayerRules
from datakit.contracts.naming import layer_schema_name, parse_layer_schema_name
from datakit.contracts.spec import contract_from_spec
from tests.contracts.conftest import deploy_contracts


def contracts(layer: str = "silver") -> list[Contract]:
    parent = contract_from_spec(
        {
            "table": "Store",  # mixed case: quoted everywhere
            "layer": layer,
            "description": "Stores, one per town.",
            "columns": {
                "store_id": {"type": "integer", "primary_key": True},
                "code": {"type": "string", "max_length": 5, "unique": True},
            },
        }
    )
    child = contract_from_spec(
        {
            "table": "order",  # a reserved word
            "layer": layer,
            "primary_key": ["order_id"],
            "unique": [["store_id", "placed_at"]],
            "columns": {
                "order_id": {"type": "bigint"},
                "store_id": {"type": "integer", "nullable": False, "foreign_key": "Store.store_id"},
                "placed_at": {"type": "timestamptz", "nullable": False},
                "amount": {"type": "decimal", "precision": 7, "scale": 2, "min": 0},
                "status": {"type": "string", "accepted_values": ["new", "paid", "it's"]},
                "email": {"type": "string", "pattern": "^[^@]+@[^@]+$", "description": "who's paying"},
                "tags": {"type": "text[]"},
                "payload": {"type": "json"},
                "ref": {"type": "uuid"},
                "wait": {"type": "interval"},
                "blob": {"type": "binary"},
                "ratio": {"type": "float32"},
                "score": {"type": "float64"},
                "small": {"type": "int16"},
                "flag": {"type": "boolean"},
                "day": {"type": "date"},
                "clock": {"type": "time"},
                "local": {"type": "timestamp"},
                'odd "name"': {"type": "string"},
            },
        }
    )
    return [child, parent]  # out of order on purpose: the DDL sorts by dependency


EXPECTED_TYPES = {
    "duckdb": {
        "order_id": "BIGINT",
        "store_id": "INTEGER",
        "placed_at": "TIMESTAMP WITH TIME ZONE",
        "amount": "DECIMAL(7,2)",
        "status": "VARCHAR",
        "email": "VARCHAR",
        "tags": "VARCHAR[]",
        "payload": "JSON",
        "ref": "UUID",
        "wait": "INTERVAL",
        "blob": "BLOB",
        "ratio": "FLOAT",
        "score": "DOUBLE",
        "small": "SMALLINT",
        "flag": "BOOLEAN",
        "day": "DATE",
        "clock": "TIME",
        "local": "TIMESTAMP",
        'odd "name"': "VARCHAR",
    },
    "postgresql": {
        "order_id": "bigint",
        "store_id": "integer",
        "placed_at": "timestamp with time zone",
        "amount": "numeric(7,2)",
        "status": "text",
        "email": "text",
        "tags": "text[]",
        "payload": "jsonb",
        "ref": "uuid",
        "wait": "interval",
        "blob": "bytea",
        "ratio": "real",
        "score": "double precision",
        "small": "smallint",
        "flag": "boolean",
        "day": "date",
        "clock": "time without time zone",
        "local": "timestamp without time zone",
        'odd "name"': "text",
    },
}


def duck_columns(duck: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict[str, tuple[str, bool]]:
    rows = duck.execute(
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        [schema, table],
    ).fetchall()
    return {name: (kind, nullable == "YES") for name, kind, nullable in rows}


def duck_constraints(duck: duckdb.DuckDBPyConnection, schema: str, table: str) -> set[tuple[str, str]]:
    rows = duck.execute(
        "SELECT constraint_type, coalesce(expression, array_to_string(constraint_column_names, ',')) "
        "FROM duckdb_constraints() "
        "WHERE schema_name = ? AND table_name = ? AND constraint_type <> 'NOT NULL'",
        [schema, table],
    ).fetchall()
    return {(kind, text) for kind, text in rows}


def pg_columns(pg: psycopg.Connection[Any], schema: str, table: str) -> dict[str, tuple[str, bool]]:
    rows = pg.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull FROM pg_attribute a "
        "WHERE a.attrelid = format('%%I.%%I', %s::text, %s::text)::regclass AND a.attnum > 0 "
        "AND NOT a.attisdropped ORDER BY a.attnum",
        (schema, table),
    ).fetchall()
    return {name: (kind, nullable) for name, kind, nullable in rows}


def pg_constraints(pg: psycopg.Connection[Any], schema: str, table: str) -> set[tuple[str, str]]:
    rows = pg.execute(
        "SELECT contype::text, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = format('%%I.%%I', %s::text, %s::text)::regclass",
        (schema, table),
    ).fetchall()
    return {(kind, definition) for kind, definition in rows}


def test_silver_on_duckdb(duck: duckdb.DuckDBPyConnection) -> None:
    deploy_contracts(contracts(), duck, "sv__shop__main")
    columns = duck_columns(duck, "sv__shop__main", "order")
    assert {name: kind for name, (kind, _) in columns.items()} == EXPECTED_TYPES["duckdb"]
    assert [name for name, (_, nullable) in columns.items() if not nullable] == [
        "order_id",
        "store_id",
        "placed_at",
    ]
    assert duck_constraints(duck, "sv__shop__main", "order") == {
        ("PRIMARY KEY", "order_id"),
        ("UNIQUE", "store_id,placed_at"),
        ("FOREIGN KEY", "store_id"),
        ("CHECK", "(amount >= 0)"),
        ("CHECK", "(status IN ('new', 'paid', 'it''s'))"),
        ("CHECK", "regexp_matches(email, '^[^@]+@[^@]+$')"),
    }
    assert duck_constraints(duck, "sv__shop__main", "Store") == {
        ("PRIMARY KEY", "store_id"),
        ("UNIQUE", "code"),
        ("CHECK", "(length(code) <= 5)"),  # DuckDB ignores VARCHAR(n): the length is a CHECK
    }
    comment = duck.execute(
        "SELECT comment FROM duckdb_columns() WHERE schema_name = 'sv__shop__main' AND column_name = 'email'"
    ).fetchone()
    assert comment == ("who's paying",)


def test_silver_on_postgres(pg: psycopg.Connection[Any], pg_schema: str) -> None:
    deploy_contracts(contracts(), pg, pg_schema)
    columns = pg_columns(pg, pg_schema, "order")
    assert {name: kind for name, (kind, _) in columns.items()} == EXPECTED_TYPES["postgresql"]
    assert [name for name, (_, nullable) in columns.items() if not nullable] == [
        "order_id",
        "store_id",
        "placed_at",
    ]
    assert pg_columns(pg, pg_schema, "Store")["code"] == ("character varying(5)", True)
    assert pg_constraints(pg, pg_schema, "order") == {
        ("p", "PRIMARY KEY (order_id)"),
        ("u", "UNIQUE (store_id, placed_at)"),
        ("f", f'FOREIGN KEY (store_id) REFERENCES {pg_schema}."Store"(store_id)'),
        ("c", "CHECK ((amount >= (0)::numeric))"),
        ("c", "CHECK ((status = ANY (ARRAY['new'::text, 'paid'::text, 'it''s'::text])))"),
        ("c", "CHECK ((email ~ '^[^@]+@[^@]+$'::text))"),
    }
    description = pg.execute(
        "SELECT obj_description(format('%%I.%%I', %s::text, 'Store')::regclass, 'pg_class')", (pg_schema,)
    ).fetchone()
    assert description == ("Stores, one per town.",)


@pytest.mark.parametrize("engine", ["duckdb", "postgresql"])
def test_silver_checks_refuse_bad_rows_and_bronze_takes_them(
    engine: str, duck: duckdb.DuckDBPyConnection, pg: psycopg.Connection[Any], pg_schema: str
) -> None:
    connection: Any = duck if engine == "duckdb" else pg
    error = duckdb.ConstraintException if engine == "duckdb" else psycopg.errors.CheckViolation
    silver, bronze = f"{pg_schema}_sv", f"{pg_schema}_br"
    try:
        deploy_contracts(contracts(), connection, silver)
        deploy_contracts(contracts("bronze"), connection, bronze)
        bad = 'INSERT INTO {}."order" (order_id, store_id, placed_at, amount) VALUES (1, 1, now(), -5)'
        with pytest.raises(error):
            connection.execute(bad.format(silver))
        connection.execute(bad.format(bronze))
        connection.execute(bad.format(bronze))  # no primary key in bronze: versions of a row may repeat
        assert connection.execute(f'SELECT count(*) FROM {bronze}."order"').fetchone() == (2,)
    finally:
        if engine == "postgresql":
            pg.execute(f"DROP SCHEMA IF EXISTS {silver} CASCADE")
            pg.execute(f"DROP SCHEMA IF EXISTS {bronze} CASCADE")


def test_bronze_keeps_types_and_not_null_only(duck: duckdb.DuckDBPyConnection) -> None:
    deploy_contracts(contracts("bronze"), duck, "br__shop__main")
    assert duck_constraints(duck, "br__shop__main", "order") == set()
    columns = duck_columns(duck, "br__shop__main", "order")
    assert [name for name, (_, nullable) in columns.items() if not nullable] == [
        "order_id",
        "store_id",
        "placed_at",
    ]


def test_layer_rules_can_be_given_explicitly() -> None:
    child, _ = contracts("bronze")
    only_keys = LayerRules(unique=False, foreign_keys=False, checks=False, comments=False)
    [statement] = POSTGRES.create_tables_sql([child], "s", layer_rules=only_keys)
    assert 'CONSTRAINT "order_pkey" PRIMARY KEY ("order_id")' in statement
    assert "CHECK" not in statement
    assert "FOREIGN KEY" not in statement
    assert DUCKDB.create_tables_sql([child], "s", layer_rules=Layer.SILVER)[0].count("CHECK") == 3


def test_identifiers_are_always_quoted() -> None:
    [statement, *_] = POSTGRES.create_tables_sql([contracts()[0]], "sv__shop__main")
    assert statement.startswith('CREATE TABLE "sv__shop__main"."order" (')
    assert '"odd ""name""" TEXT' in statement
    assert 'REFERENCES "sv__shop__main"."Store" ("store_id")' in statement


def cycle() -> list[Contract]:
    a = contract_from_spec(
        {
            "table": "a",
            "columns": {
                "id": {"type": "integer", "primary_key": True},
                "b_id": {"type": "integer", "foreign_key": "b.id"},
            },
        }
    )
    b = contract_from_spec(
        {
            "table": "b",
            "columns": {
                "id": {"type": "integer", "primary_key": True},
                "a_id": {"type": "integer", "foreign_key": "a.id"},
            },
        }
    )
    return [a, b]


def test_foreign_key_cycles_are_added_afterwards_in_postgres(
    pg: psycopg.Connection[Any], pg_schema: str
) -> None:
    statements = deploy_contracts(cycle(), pg, pg_schema)
    assert sum(statement.startswith("ALTER TABLE") for statement in statements) == 2
    kinds = pg.execute(
        "SELECT count(*) FROM pg_constraint WHERE connamespace = %s::regnamespace AND contype = 'f'",
        (pg_schema,),
    ).fetchone()
    assert kinds == (2,)


def test_foreign_key_cycles_are_an_error_in_duckdb() -> None:
    with pytest.raises(ContractError, match="foreign keys form a cycle"):
        DUCKDB.create_tables_sql(cycle(), "s")


def test_failed_deploy_leaves_nothing(duck: duckdb.DuckDBPyConnection) -> None:
    broken = contracts()[0]  # references Store, which is not deployed and does not exist
    with pytest.raises(duckdb.Error):
        deploy_contracts([broken], duck, "sv__x__y")
    assert duck.execute(
        "SELECT count(*) FROM duckdb_schemas() WHERE schema_name = 'sv__x__y'"
    ).fetchone() == (0,)


def test_long_constraint_names_are_shortened_for_postgres(
    pg: psycopg.Connection[Any], pg_schema: str
) -> None:
    long = "t" * 60
    contract = contract_from_spec(
        {
            "table": long,
            "columns": {"a_rather_long_column_name": {"type": "integer", "min": 0, "primary_key": True}},
        }
    )
    deploy_contracts([contract], pg, pg_schema)
    names = pg.execute(
        "SELECT conname FROM pg_constraint WHERE connamespace = %s::regnamespace", (pg_schema,)
    ).fetchall()
    assert len(names) == 2
    assert all(len(name.encode()) <= 63 for (name,) in names)


def test_layer_schema_names() -> None:
    assert layer_schema_name("bronze", "pagila", "public") == "br__pagila__public"
    assert layer_schema_name(Layer.SILVER, "Pagila", "Public") == "sv__pagila__public"
    assert layer_schema_name("gold", "my-crm", "sales__eu") == "gd__my_crm__sales_eu"
    assert parse_layer_schema_name("br__pagila__public") == (Layer.BRONZE, "pagila", "public")
    assert parse_layer_schema_name("public") is None
    with pytest.raises(ContractError, match="source layer has no warehouse schema"):
        layer_schema_name("source", "pagila", "public")
    with pytest.raises(ContractError, match="longer than 63 bytes"):
        layer_schema_name("bronze", "x" * 60, "public")
    with pytest.raises(ContractError, match="no letters or digits"):
        layer_schema_name("bronze", "--", "public")
    assert POSTGRES.create_schema_sql('we"ird') == 'CREATE SCHEMA IF NOT EXISTS "we""ird"'
