"""Spark SQL: backquoted names, backslash-escaped strings, its type names, no constraints, no UPDATE.

Spark's tables here are Parquet folders named by a Hive catalog: they keep no PRIMARY KEY, UNIQUE,
CHECK or NOT NULL (so the contract's rules are enforced by the loader's validation, before a row is
written), and their SQL cannot UPDATE or DELETE. Datakit's Spark transaction therefore builds each
changed table's next version as a query and switches to it at commit (`transaction`), and the
loader's statements that need UPDATE are said as such queries (`writes`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from datakit.connectors.base import TableRef
from datakit.connectors.engine import Engine
from datakit.contracts.types import (
    UNCONSTRAINED_DECIMAL,
    LogicalType,
    TypeKind,
    array,
    decimal,
    floating,
    integer,
    simple,
    string,
)

if TYPE_CHECKING:
    from datakit.connectors.base import Transaction
    from datakit.connectors.writes import Writes
    from datakit.contracts.model import Column, Contract, Layer, LayerRules

_TYPES = {
    TypeKind.STRING: "STRING",
    TypeKind.BOOLEAN: "BOOLEAN",
    TypeKind.DATE: "DATE",
    TypeKind.TIME: "STRING",  # Spark has no TIME type: HH:MM:SS[.ffffff] text
    TypeKind.TIMESTAMP: "TIMESTAMP_NTZ",
    TypeKind.TIMESTAMPTZ: "TIMESTAMP",  # an instant, shown in the session's time zone (UTC)
    TypeKind.BINARY: "BINARY",
    TypeKind.JSON: "STRING",
    TypeKind.UUID: "STRING",
    TypeKind.INTERVAL: "STRING",
}
_INTEGERS = {16: "SMALLINT", 32: "INT", 64: "BIGINT"}
_FLOATS = {32: "FLOAT", 64: "DOUBLE"}
_CATALOG: dict[str, LogicalType] = {
    "string": string(),
    "varchar": string(),
    "char": string(),
    "boolean": simple(TypeKind.BOOLEAN),
    "tinyint": integer(16),
    "byte": integer(16),
    "smallint": integer(16),
    "short": integer(16),
    "int": integer(32),
    "integer": integer(32),
    "bigint": integer(64),
    "long": integer(64),
    "float": floating(32),
    "real": floating(32),
    "double": floating(64),
    "date": simple(TypeKind.DATE),
    "timestamp": simple(TypeKind.TIMESTAMPTZ),
    "timestamp_ltz": simple(TypeKind.TIMESTAMPTZ),
    "timestamp_ntz": simple(TypeKind.TIMESTAMP),
    "binary": simple(TypeKind.BINARY),
}
_DECIMAL = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")
_LENGTH = re.compile(r"^(?:var)?char\((\d+)\)$")


class SparkEngine(Engine):
    """Spark SQL on Parquet tables of a Hive catalog (see the module's docstring)."""

    name = "spark"
    title = "Spark"
    default_schema = "default"
    late_foreign_keys = False
    unknown_type = None
    validates_rows: ClassVar[bool] = True
    drivers = ("pyspark.sql",)

    # -- identifiers and literals -------------------------------------------------------------------

    def quote(self, *parts: str) -> str:
        """`schema`.`table`: backquotes, embedded ones doubled."""
        return ".".join("`" + part.replace("`", "``") + "`" for part in parts)

    def string(self, text: str) -> str:
        """Spark reads backslashes in literals as escapes: both they and quotes are escaped."""
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"

    def regex_match(self, ref: str, pattern: str) -> str:
        """RLIKE searches (Java's `Matcher.find`), as `~` does in PostgreSQL."""
        return f"{ref} RLIKE {pattern}"

    # -- types --------------------------------------------------------------------------------------

    def sql_type(self, logical: LogicalType, *, max_length: int | None = None) -> str:  # noqa: ARG002
        """Spark's name for `logical`: no TIME, JSON, UUID or INTERVAL of its own (text), no unconstrained
        DECIMAL (`decimal` is DECIMAL(38,9), as in DuckDB); lengths are checked by the loader, not kept."""
        kind = logical.kind
        if kind is TypeKind.INTEGER:
            return _INTEGERS[logical.bits or 32]
        if kind is TypeKind.FLOAT:
            return _FLOATS[logical.bits or 64]
        if kind is TypeKind.DECIMAL:
            precision, scale = (
                UNCONSTRAINED_DECIMAL if logical.precision is None else (logical.precision, logical.scale)
            )
            return f"DECIMAL({precision},{scale})"
        if kind is TypeKind.ARRAY:
            assert logical.item is not None
            return f"ARRAY<{self.sql_type(logical.item)}>"
        return _TYPES[kind]

    def logical_type(self, native: str) -> tuple[LogicalType | None, int | None]:
        """Spark's catalog spelling (`int`, `decimal(10,2)`, `array<string>`, `timestamp_ntz`)."""
        name = native.strip().lower()
        if name.startswith("array<") and name.endswith(">"):
            item, _ = self.logical_type(name[6:-1])
            return (
                (array(item), None) if item is not None and item.kind is not TypeKind.ARRAY else (None, None)
            )
        if match := _DECIMAL.match(name):
            return decimal(int(match.group(1)), int(match.group(2))), None
        if match := _LENGTH.match(name):
            return string(), int(match.group(1))
        return _CATALOG.get(name), None

    # -- DDL of contracts ---------------------------------------------------------------------------

    def create_schema_sql(self, schema: str) -> str:
        return f"CREATE DATABASE IF NOT EXISTS {self.quote(schema)}"

    def create_tables_sql(
        self,
        contracts: Sequence[Contract],
        schema: str,
        *,
        layer_rules: LayerRules | Layer | str | None = None,  # noqa: ARG002 - Spark keeps no constraints
    ) -> list[str]:
        """`CREATE TABLE ... (columns) COMMENT ...` per contract: types and comments only, since Spark's
        Parquet tables keep no constraint (the loader enforces the rules; dbt tests check silver)."""
        statements = []
        for contract in contracts:
            columns = ", ".join(
                f"{self.quote(c.name)} {self.sql_type(c.type, max_length=c.max_length)}"
                + (f" COMMENT {self.string(c.description)}" if c.description else "")
                for c in contract.columns
            )
            comment = f" COMMENT {self.string(contract.description)}" if contract.description else ""
            statements.append(f"CREATE TABLE {self.quote(schema, contract.name)} ({columns}){comment}")
        return statements

    def check_sql(self, column: Column) -> str | None:  # noqa: ARG002 - no CHECK constraints in Spark
        return None

    # -- what the loader needs besides plain SQL ----------------------------------------------------

    def writes(self) -> Writes:
        from datakit.connectors.engines.spark.writes import SparkWrites

        return SparkWrites(self)

    def create_temp_table(self, tx: Transaction, name: str, body: str) -> TableRef:
        """A table of the transaction only (never committed)."""
        tx.execute(f"CREATE TEMPORARY TABLE {self.quote(name)} ({body})")
        return TableRef(name)

    def create_stage(
        self, tx: Transaction, name: str, target: TableRef, columns: Sequence[str], row: str
    ) -> TableRef:
        types = {column.name: column.db_type for column in tx.columns(target)}
        body = ", ".join(f"{self.quote(c)} {types[c]}" for c in columns)
        return self.create_temp_table(tx, name, f"{body}, {self.quote(row)} BIGINT")


SPARK = SparkEngine()
ENGINE = SPARK
