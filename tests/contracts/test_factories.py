"""Test factories: valid rows pass the validator, invalid rows fail exactly the rule asked for."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from datakit.connectors.reflection import reflect_database
from datakit.contracts.errors import ContractError
from datakit.contracts.model import Contract, Rule
from datakit.contracts.spec import contract_from_spec
from datakit.contracts.validate import validate_batch
from datakit.factories import build_invalid_rows, build_rows
from tests.contracts.conftest import sqlalchemy_url

RICH = contract_from_spec(
    {
        "table": "everything",
        "primary_key": ["id"],
        "unique": [["code", "day"]],
        "mixins": ["transactional"],
        "columns": {
            "id": {"type": "integer"},
            "code": {"type": "string", "max_length": 8, "pattern": "^[A-Z]{2}-[0-9]{3}$"},
            "email": {"type": "string", "max_length": 30, "pattern": r"^[a-z]+@[a-z]+\.(com|org)$"},
            "rating": {"type": "string", "accepted_values": ["G", "PG", "PG-13"]},
            "level": {"type": "smallint", "accepted_values": [1, 2, 3]},
            "price": {"type": "decimal", "precision": 6, "scale": 2, "min": "0.01", "max": "999.99"},
            "total": {"type": "decimal"},
            "ratio": {"type": "float32", "min": 0, "max": 1, "max_exclusive": True},
            "big": {"type": "bigint", "min": 10, "min_exclusive": True},
            "day": {"type": "date", "min": "2021-01-01", "max": "2021-12-31", "nullable": False},
            "at": {"type": "timestamptz", "min": "2021-06-01T00:00:00Z"},
            "local": {"type": "timestamp", "max": "2000-01-01T00:00:00"},
            "clock": {"type": "time", "min": "09:00:00", "max": "17:00:00"},
            "flag": {"type": "boolean", "nullable": False},
            "doc": {"type": "json"},
            "ref": {"type": "uuid"},
            "wait": {"type": "interval"},
            "blob": {"type": "binary"},
            "tags": {"type": "array<string>"},
            "nums": {"type": "array<int16>"},
        },
    }
)


def validate(contract: Contract, table: pa.Table) -> tuple[int, set[str]]:
    result = validate_batch(contract, table.combine_chunks().to_batches()[0])
    return result.good.num_rows, set(result.rejected.column("_dk_failed_rule").to_pylist())


def test_valid_rows_all_pass() -> None:
    table = build_rows(RICH, 400, seed=7)
    assert table.num_rows == 400
    assert validate(RICH, table) == (400, set())


def test_rows_are_deterministic_by_seed_and_keys_unique() -> None:
    first = build_rows(RICH, 200, seed=1)
    assert first.equals(build_rows(RICH, 200, seed=1))
    assert not first.equals(build_rows(RICH, 200, seed=2))
    assert pc.count_distinct(first.column("id")).as_py() == 200
    keys = {(row["code"], row["day"]) for row in first.select(["code", "day"]).to_pylist()}
    assert len(keys) == 200
    assert first.column("rating").null_count > 0  # nullable columns get some nulls
    assert first.column("flag").null_count == 0


def test_values_draw_from_given_pools() -> None:
    table = build_rows(RICH, 50, values={"big": [11, 12]})
    assert set(table.column("big").to_pylist()) == {11, 12}


@pytest.mark.parametrize("rule", list(Rule))
def test_invalid_rows_break_exactly_the_rule(rule: Rule) -> None:
    table = build_invalid_rows(RICH, 60, rule, seed=3)
    assert validate(RICH, table) == (0, {rule.value})


@pytest.mark.parametrize(
    ("column", "rule"),
    [
        ("price", Rule.RANGE),
        ("big", Rule.RANGE),
        ("clock", Rule.RANGE),
        ("at", Rule.RANGE),
        ("level", Rule.ACCEPTED_VALUES),
        ("email", Rule.PATTERN),
        ("day", Rule.TYPE),
        ("doc", Rule.TYPE),
        ("ref", Rule.TYPE),
        ("flag", Rule.NOT_NULL),
    ],
)
def test_invalid_rows_for_a_chosen_column(column: str, rule: Rule) -> None:
    table = build_invalid_rows(RICH, 20, rule, column=column)
    result = validate_batch(RICH, table.combine_chunks().to_batches()[0])
    assert result.good.num_rows == 0
    assert set(result.rejected.column("_dk_failed_column").to_pylist()) == {column}
    assert set(result.rejected.column("_dk_failed_rule").to_pylist()) == {rule.value}


def test_impossible_breaks_are_contract_errors() -> None:
    with pytest.raises(ContractError, match="column 'tags' of everything can break rule not_null alone"):
        build_invalid_rows(RICH, 5, Rule.NOT_NULL, column="tags")
    only_text = contract_from_spec({"table": "t", "columns": {"a": {"type": "string"}}})
    with pytest.raises(ContractError, match="no column of t can break rule type alone"):
        build_invalid_rows(only_text, 5, "type")


def test_patterns_beyond_the_generator_are_contract_errors() -> None:
    contract = contract_from_spec({"table": "t", "columns": {"a": {"type": "string", "pattern": "^(?=a)a$"}}})
    with pytest.raises(ContractError, match="cannot generate"):
        build_rows(contract, 3)


def test_pagila_factories(pagila_dsn: str) -> None:
    for contract in reflect_database(sqlalchemy_url(pagila_dsn), "public"):
        assert validate(contract, build_rows(contract, 100, seed=5)) == (100, set())
        for rule in (Rule.TYPE, Rule.NOT_NULL, Rule.RANGE, Rule.ACCEPTED_VALUES, Rule.MAX_LENGTH):
            try:
                table = build_invalid_rows(contract, 10, rule)
            except ContractError:
                continue
            assert validate(contract, table) == (0, {rule.value}), (contract.name, rule)
