"""Spark's SQL as datakit spells it: no Spark needed (types, quoting, literals, the validation plan)."""

from __future__ import annotations

from pathlib import Path

import pytest

from datakit.connectors.engines.spark.engine import SPARK
from datakit.connectors.engines.spark.params import SparkParams
from datakit.connectors.engines.spark.validate import plan
from datakit.contracts import contract_from_spec
from datakit.contracts.errors import ContractError
from datakit.contracts.types import parse_type


@pytest.mark.parametrize(
    "logical",
    ["string", "int16", "int32", "int64", "float32", "float64", "decimal(12,2)", "decimal", "boolean",
     "date", "timestamp", "timestamptz", "binary", "array<int32>", "array<string>"],
)  # fmt: skip
def test_every_declared_type_reads_back_as_itself(logical: str) -> None:
    declared = SPARK.sql_type(parse_type(logical))
    read, _ = SPARK.logical_type(declared.lower())  # Spark's catalog spells types in lower case
    assert read is not None
    assert SPARK.same_type(parse_type(logical), read), (logical, declared, read)


def test_types_spark_lacks_are_text() -> None:
    for logical in ("time", "json", "uuid", "interval"):
        assert SPARK.sql_type(parse_type(logical)) == "STRING"
    assert SPARK.sql_type(parse_type("timestamptz")) == "TIMESTAMP"  # an instant
    assert SPARK.sql_type(parse_type("timestamp")) == "TIMESTAMP_NTZ"  # a wall-clock time


def test_names_and_strings_cannot_break_out() -> None:
    assert SPARK.quote("br__x", "we`ird") == "`br__x`.`we``ird`"
    assert SPARK.string("it's a \\ back") == "'it\\'s a \\\\ back'"
    assert SPARK.regex_match("`c`", "'^a'") == "`c` RLIKE '^a'"


def test_contract_tables_have_types_and_comments_but_no_constraints() -> None:
    contract = contract_from_spec(
        {
            "table": "customer",
            "description": "Who rents",
            "primary_key": ["id"],
            "columns": {
                "id": {"type": "integer", "nullable": False},
                "name": {"type": "string", "max_length": 20, "description": "Full name"},
                "score": {"type": "integer", "min": 0},
            },
        }
    )
    (statement,) = SPARK.create_tables_sql([contract], "silver")
    assert statement == (
        "CREATE TABLE `silver`.`customer` (`id` INT, `name` STRING COMMENT 'Full name', `score` INT) "
        "COMMENT 'Who rents'"
    )


def test_validation_plan_casts_what_differs_and_orders_rules_like_arrow() -> None:
    contract = contract_from_spec(
        {
            "table": "t",
            "columns": {
                "id": {"type": "integer", "nullable": False},
                "name": {"type": "string", "max_length": 3, "pattern": "^[a-z]+$"},
                "score": {"type": "decimal(5,2)", "min": 0, "max": 10, "max_exclusive": True},
                "kind": {"type": "string", "accepted_values": ["a", "b'c"]},
                "missing": {"type": "date"},
            },
        }
    )
    values, failures = plan(
        contract, {"id": "bigint", "name": "string", "score": "string", "kind": "string"}, contract_name="t"
    )
    assert dict(values) == {
        "id": "try_cast(`id` AS INT)",
        "name": "`name`",
        "score": "try_cast(`score` AS DECIMAL(5,2))",
        "kind": "`kind`",
        "missing": "CAST(NULL AS DATE)",
    }
    assert [(f.column, f.rule.value) for f in failures] == [
        ("id", "type"),
        ("id", "not_null"),
        ("name", "max_length"),
        ("name", "pattern"),
        ("score", "type"),
        ("score", "range"),
        ("score", "range"),
        ("kind", "accepted_values"),
    ]
    assert "`kind` IN ('a', 'b\\'c')" in failures[-1].sql
    assert failures[6].sql.startswith("(coalesce(try_cast(`score` AS DECIMAL(5,2)) >= 10, FALSE)")


def test_a_missing_required_column_is_a_contract_error() -> None:
    contract = contract_from_spec({"table": "t", "columns": {"id": {"type": "integer", "nullable": False}}})
    with pytest.raises(ContractError, match="lacks required column id"):
        plan(contract, {"other": "int"}, contract_name="t")


def test_session_settings_name_the_warehouse_and_catalog(tmp_path: Path) -> None:
    conf = SparkParams(master="local[2]", warehouse=str(tmp_path)).spark_conf()
    assert conf["spark.master"] == "local[2]"
    assert conf["spark.sql.warehouse.dir"] == str(tmp_path)
    assert conf["spark.sql.session.timeZone"] == "UTC"
    assert str(tmp_path / "_datakit" / "metastore_db") in conf["spark.hadoop.javax.jdo.option.ConnectionURL"]
    thrift = SparkParams(warehouse=str(tmp_path), metastore="thrift://meta:9083", conf=(("a.b", "c"),))
    assert thrift.spark_conf()["spark.hadoop.hive.metastore.uris"] == "thrift://meta:9083"
    assert "spark.hadoop.javax.jdo.option.ConnectionURL" not in thrift.spark_conf()
    assert thrift.spark_conf()["a.b"] == "c"


@pytest.mark.parametrize("kind", ["duckdb", "postgres", "spark"])
def test_every_engine_folder_names_its_engine_and_driver(kind: str) -> None:
    """What `datakit demo`, lineage and step preloading ask of an engine without connecting."""
    from datakit.connectors.engines import ENGINES, engine_of, preload_modules

    assert kind in ENGINES
    assert engine_of(kind).name == kind
    modules = preload_modules(kind)
    assert modules[0] == f"datakit.connectors.engines.{kind}.destination" and len(modules) == 2
