"""Logical types and the Contract model: parsing, canonical form, validation errors."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pytest
from pydantic import ValidationError

from datakit.connectors import Engine
from datakit.connectors.engines.duckdb.engine import DUCKDB
from datakit.connectors.engines.postgres.engine import POSTGRES
from datakit.contracts.arrow import arrow_type, to_arrow_schema
from datakit.contracts.errors import ContractError
from datakit.contracts.model import Column, Contract, Layer
from datakit.contracts.types import LogicalType, TypeKind, parse_type

# logical type -> (Arrow, DuckDB, PostgreSQL): the table in types.py, asserted
MAPPING = [
    ("string", pa.string(), "VARCHAR", "TEXT"),
    ("int16", pa.int16(), "SMALLINT", "SMALLINT"),
    ("int32", pa.int32(), "INTEGER", "INTEGER"),
    ("int64", pa.int64(), "BIGINT", "BIGINT"),
    ("float32", pa.float32(), "FLOAT", "REAL"),
    ("float64", pa.float64(), "DOUBLE", "DOUBLE PRECISION"),
    ("decimal(5,2)", pa.decimal128(5, 2), "DECIMAL(5,2)", "NUMERIC(5,2)"),
    ("decimal", pa.decimal128(38, 9), "DECIMAL(38,9)", "NUMERIC"),
    ("boolean", pa.bool_(), "BOOLEAN", "BOOLEAN"),
    ("date", pa.date32(), "DATE", "DATE"),
    ("time", pa.time64("us"), "TIME", "TIME"),
    ("timestamp", pa.timestamp("us"), "TIMESTAMP", "TIMESTAMP"),
    ("timestamptz", pa.timestamp("us", tz="UTC"), "TIMESTAMPTZ", "TIMESTAMPTZ"),
    ("binary", pa.binary(), "BLOB", "BYTEA"),
    ("json", pa.string(), "JSON", "JSONB"),
    ("uuid", pa.string(), "UUID", "UUID"),
    ("interval", pa.month_day_nano_interval(), "INTERVAL", "INTERVAL"),
    ("array<string>", pa.list_(pa.string()), "VARCHAR[]", "TEXT[]"),
    ("array<decimal(4,2)>", pa.list_(pa.decimal128(4, 2)), "DECIMAL(4,2)[]", "NUMERIC(4,2)[]"),
]


@pytest.mark.parametrize(("spelling", "arrow", "duckdb", "postgres"), MAPPING)
def test_mapping_table(spelling: str, arrow: pa.DataType, duckdb: str, postgres: str) -> None:
    logical = parse_type(spelling)
    assert str(logical) == spelling
    assert arrow_type(logical) == arrow
    assert DUCKDB.sql_type(logical) == duckdb
    assert POSTGRES.sql_type(logical) == postgres


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("integer", "int32"),
        ("BIGINT", "int64"),
        ("smallint", "int16"),
        ("double precision", "float64"),
        ("real", "float32"),
        ("numeric(10, 3)", "decimal(10,3)"),
        ("numeric(7)", "decimal(7,0)"),
        ("text", "string"),
        ("character varying", "string"),
        ("text[]", "array<string>"),
        ("int[]", "array<int32>"),
        ("timestamp with time zone", "timestamptz"),
        ("bytea", "binary"),
        ("jsonb", "json"),
    ],
)
def test_aliases_parse_to_canonical_types(alias: str, canonical: str) -> None:
    assert str(parse_type(alias)) == canonical


@pytest.mark.parametrize(
    ("spelling", "message"),
    [
        ("varchar2", "unknown type"),
        ("array<array<int>>", "arrays of arrays"),
        ("decimal(40,2)", "precision must be 1..38"),
        ("decimal(5,6)", "scale must be 0..precision"),
        ("integer(8)", "integer size must be one of"),
    ],
)
def test_impossible_types_are_rejected(spelling: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LogicalType.model_validate(spelling)


@pytest.mark.parametrize(
    ("native", "engine", "expected", "max_length"),
    [
        ("character varying(50)", POSTGRES, "string", 50),
        ("character(20)", POSTGRES, "string", 20),
        ("numeric(5,2)", POSTGRES, "decimal(5,2)", None),
        ("timestamp(3) with time zone", POSTGRES, "timestamptz", None),
        ("tsvector", POSTGRES, "string", None),  # no logical equivalent: its text form
        ("mpaa_rating[]", POSTGRES, "array<string>", None),
        ("TIMESTAMP WITH TIME ZONE", DUCKDB, "timestamptz", None),
        ("DECIMAL(18,3)", DUCKDB, "decimal(18,3)", None),
        ("VARCHAR[]", DUCKDB, "array<string>", None),
        ("FLOAT", DUCKDB, "float32", None),
    ],
)
def test_catalog_type_names_map_back(
    native: str, engine: Engine, expected: str, max_length: int | None
) -> None:
    logical, length = engine.logical_type(native)
    assert str(logical) == expected
    assert length == max_length


def test_duckdb_types_without_equivalent_map_to_none() -> None:
    assert DUCKDB.logical_type("HUGEINT") == (None, None)
    assert DUCKDB.logical_type("STRUCT(a INTEGER)") == (None, None)


def _contract(**extra: object) -> Contract:
    return Contract.model_validate(
        {
            "name": "t",
            "columns": [
                {"name": "id", "type": "int32"},
                {"name": "code", "type": "string"},
                {"name": "amount", "type": "decimal(5,2)", "min": 0, "max": "99.5"},
                {
                    "name": "qty",
                    "type": "int16",
                    "min": 0,
                    "min_exclusive": True,
                    "max": 10,
                    "max_exclusive": True,
                },
                {"name": "at", "type": "timestamptz", "min": "2020-01-01T01:00:00+01:00"},
                {"name": "on", "type": "date", "max": "2030-12-31"},
            ],
            **extra,
        }
    )


def test_contract_canonical_form() -> None:
    contract = _contract(primary_key=["id"], unique=[["qty", "code"], ["code"], ["id"], ["code"]])
    assert contract.primary_key == ("id",)
    assert contract.column("id").primary_key and not contract.column("id").nullable
    assert contract.unique == (
        ("code",),
        ("qty", "code"),
    )  # deduplicated, the primary key dropped, by position
    amount = contract.column("amount")
    assert (amount.min, amount.max) == (Decimal("0"), Decimal("99.5"))
    qty = contract.column("qty")
    assert (qty.min, qty.max, qty.min_exclusive, qty.max_exclusive) == (1, 9, False, False)
    assert contract.column("at").min == datetime(2020, 1, 1, tzinfo=UTC)
    assert contract.column("on").max == date(2030, 12, 31)


def test_contract_round_trips_through_json_and_is_hashable() -> None:
    contract = _contract(primary_key=["id"], layer="silver", history=True)
    again = Contract.model_validate_json(contract.model_dump_json())
    assert again == contract
    assert hash(again) == hash(contract)
    assert again.layer is Layer.SILVER


def test_primary_key_from_flags_equals_primary_key_list() -> None:
    flagged = Contract.model_validate(
        {
            "name": "t",
            "columns": [{"name": "a", "type": "int32", "primary_key": True}, {"name": "b", "type": "string"}],
        }
    )
    listed = Contract.model_validate(
        {
            "name": "t",
            "columns": [{"name": "a", "type": "int32"}, {"name": "b", "type": "string"}],
            "primary_key": ["a"],
        }
    )
    assert flagged == listed


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"primary_key": ["idd"]}, "primary_key names unknown column 'idd' \\(did you mean 'id'\\?\\)"),
        ({"unique": [["cod"]]}, "unique names unknown column 'cod'"),
        ({"temporal_exclude": ["nope"]}, "temporal_exclude names unknown column"),
    ],
)
def test_contract_errors_name_the_problem(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _contract(**change)


@pytest.mark.parametrize(
    ("column", "message"),
    [
        ({"name": "n", "type": "int32", "max_length": 3}, "max_length applies to string columns"),
        ({"name": "n", "type": "int32", "pattern": "^a"}, "pattern applies to string columns"),
        ({"name": "n", "type": "string", "pattern": "(unclosed"}, "not a valid regular expression"),
        ({"name": "n", "type": "boolean", "min": 0}, "min/max apply to numeric and temporal columns"),
        ({"name": "n", "type": "uuid", "min": "a"}, "min/max apply to numeric and temporal columns"),
        ({"name": "n", "type": "int32", "min": 5, "max": 1}, "min 5 is greater than max 1"),
        ({"name": "n", "type": "int32", "min": 1.5}, "min 1.5 is not a valid int32"),
        ({"name": "n", "type": "int32", "min": True}, "min True is not a valid int32"),
        ({"name": "n", "type": "timestamp", "min": "2020-01-01T00:00:00+00:00"}, "has a time zone"),
        ({"name": "n", "type": "date", "accepted_values": ["2020-01-01"]}, "accepted_values apply to string"),
        ({"name": "n", "type": "string", "accepted_values": []}, "accepted_values is empty"),
        ({"name": "n", "type": "int32", "foreign_key": "a.b.c.d"}, "foreign_key must be"),
    ],
)
def test_column_rules_must_fit_the_type(column: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Column.model_validate(column)


def test_duplicate_columns_are_rejected() -> None:
    with pytest.raises(ValidationError, match="duplicate column names: a"):
        Contract.model_validate(
            {"name": "t", "columns": [{"name": "a", "type": "int32"}, {"name": "a", "type": "int64"}]}
        )


def test_column_lookup_suggests_a_name() -> None:
    with pytest.raises(ContractError, match="no column 'cde'") as info:
        _contract().column("cde")
    assert info.value.hint == "did you mean 'code'?"


def test_evolve_revalidates() -> None:
    contract = _contract()
    changed = contract.evolve(primary_key=("id", "code"))
    assert changed.column("code").primary_key
    assert not changed.column("code").nullable
    with pytest.raises(ValidationError):
        contract.evolve(primary_key=("missing",))


def test_arrow_schema_keeps_order_types_and_nullability() -> None:
    schema = to_arrow_schema(_contract(primary_key=["id"]))
    assert schema.names == ["id", "code", "amount", "qty", "at", "on"]
    assert schema.field("id").type == pa.int32()
    assert not schema.field("id").nullable
    assert schema.field("code").nullable
    assert schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("amount").metadata == {b"datakit.type": b"decimal(5,2)"}


def test_change_columns_leave_out_temporal_exclude() -> None:
    contract = _contract(temporal_exclude=["at"])
    assert contract.change_columns == ("id", "code", "amount", "qty", "on")
    assert TypeKind.STRING in {column.type.kind for column in contract.columns}
