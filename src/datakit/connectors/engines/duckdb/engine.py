"""DuckDB's SQL: its type names, regular expressions, temporary tables (see `datakit.connectors.engine`)."""

from __future__ import annotations

from datakit.connectors.engine import Engine
from datakit.contracts.types import UNCONSTRAINED_DECIMAL, LogicalType, TypeKind

_TYPES = {
    TypeKind.STRING: "VARCHAR",
    TypeKind.BOOLEAN: "BOOLEAN",
    TypeKind.DATE: "DATE",
    TypeKind.TIME: "TIME",
    TypeKind.TIMESTAMP: "TIMESTAMP",
    TypeKind.TIMESTAMPTZ: "TIMESTAMPTZ",
    TypeKind.BINARY: "BLOB",
    TypeKind.JSON: "JSON",
    TypeKind.UUID: "UUID",
    TypeKind.INTERVAL: "INTERVAL",
}
_INTEGERS = {16: "SMALLINT", 32: "INTEGER", 64: "BIGINT"}
_FLOATS = {32: "FLOAT", 64: "DOUBLE"}


class DuckDBEngine(Engine):
    """DuckDB: PostgreSQL's SQL for all the loader writes, with its own type names.

    It ignores VARCHAR(n) (so a length is a CHECK in silver), cannot add a foreign key to an existing
    table, and has one writing process per file (so set-ups need no lock). Its extra catalog types
    (TINYINT, HUGEINT, STRUCT, ...) have no logical equivalent: drift reports them as type changes.
    """

    name = "duckdb"
    title = "DuckDB"
    default_schema = "main"
    drivers = ("duckdb",)
    failure_words = (*Engine.failure_words, "could not set lock on file")  # another process holds it
    late_foreign_keys = False

    def sql_type(self, logical: LogicalType, *, max_length: int | None = None) -> str:  # noqa: ARG002
        """DuckDB's name for `logical`; it has no unconstrained DECIMAL (`decimal` is DECIMAL(38,9))."""
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
            return f"{self.sql_type(logical.item)}[]"
        return _TYPES[kind]

    def regex_match(self, ref: str, pattern: str) -> str:
        return f"regexp_matches({ref}, {pattern})"


DUCKDB = DuckDBEngine()
ENGINE = DUCKDB
"""The engine this folder serves, under the name `engines.engine_of` looks for."""
