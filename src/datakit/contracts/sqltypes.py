"""Logical types <-> the SQL type names of DuckDB and PostgreSQL.

Both directions live together so that they stay inverse: DDL writes `sql_type(...)`, and drift detection
reads a catalog's type name back with `logical_from_sql(...)`, and a column whose contract and live type
agree must always compare equal. The table of the mapping is in `types.py`.
"""

from __future__ import annotations

import re
from enum import StrEnum

from datakit.contracts.types import LogicalType, TypeKind, array, decimal, floating, integer, simple, string


class Dialect(StrEnum):
    """The SQL engines contracts are deployed to (the names match SQLAlchemy's dialect names)."""

    DUCKDB = "duckdb"
    POSTGRES = "postgresql"


UNCONSTRAINED_DECIMAL_DUCKDB = (38, 9)  # DuckDB has no unconstrained DECIMAL; this is what we store

_DUCKDB = {
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
_POSTGRES = {
    TypeKind.STRING: "TEXT",
    TypeKind.BOOLEAN: "BOOLEAN",
    TypeKind.DATE: "DATE",
    TypeKind.TIME: "TIME",
    TypeKind.TIMESTAMP: "TIMESTAMP",
    TypeKind.TIMESTAMPTZ: "TIMESTAMPTZ",
    TypeKind.BINARY: "BYTEA",
    TypeKind.JSON: "JSONB",
    TypeKind.UUID: "UUID",
    TypeKind.INTERVAL: "INTERVAL",
}
_INTEGERS = {16: "SMALLINT", 32: "INTEGER", 64: "BIGINT"}
_FLOATS = {
    Dialect.DUCKDB: {32: "FLOAT", 64: "DOUBLE"},
    Dialect.POSTGRES: {32: "REAL", 64: "DOUBLE PRECISION"},
}


def sql_type(logical: LogicalType, dialect: Dialect, *, max_length: int | None = None) -> str:
    """The type to declare in `dialect` for a column of `logical` type.

    `max_length` becomes VARCHAR(n) in PostgreSQL only: DuckDB accepts but ignores the length, so there
    the silver layer enforces it with a CHECK instead (see `ddl.py`).
    """
    kind = logical.kind
    if kind is TypeKind.INTEGER:
        return _INTEGERS[logical.bits or 32]
    if kind is TypeKind.FLOAT:
        return _FLOATS[dialect][logical.bits or 64]
    if kind is TypeKind.DECIMAL:
        if logical.precision is None:
            return (
                "NUMERIC"
                if dialect is Dialect.POSTGRES
                else "DECIMAL({},{})".format(*UNCONSTRAINED_DECIMAL_DUCKDB)
            )
        return (
            f"{'NUMERIC' if dialect is Dialect.POSTGRES else 'DECIMAL'}({logical.precision},{logical.scale})"
        )
    if kind is TypeKind.ARRAY:
        assert logical.item is not None
        return f"{sql_type(logical.item, dialect)}[]"
    if kind is TypeKind.STRING and max_length is not None and dialect is Dialect.POSTGRES:
        return f"VARCHAR({max_length})"
    return (_POSTGRES if dialect is Dialect.POSTGRES else _DUCKDB)[kind]


# -- catalog type names back to logical types --------------------------------------------------------------

_SQL_NAMES: dict[str, LogicalType] = {
    "text": string(),
    "varchar": string(),
    "character varying": string(),
    "character": string(),
    "char": string(),
    "bpchar": string(),
    "name": string(),
    "citext": string(),
    "string": string(),
    "smallint": integer(16),
    "int2": integer(16),
    "integer": integer(32),
    "int": integer(32),
    "int4": integer(32),
    "bigint": integer(64),
    "int8": integer(64),
    "real": floating(32),
    "float4": floating(32),
    "float": floating(32),  # DuckDB's FLOAT is 4 bytes
    "double precision": floating(64),
    "double": floating(64),
    "float8": floating(64),
    "numeric": decimal(),
    "decimal": decimal(),
    "boolean": simple(TypeKind.BOOLEAN),
    "bool": simple(TypeKind.BOOLEAN),
    "date": simple(TypeKind.DATE),
    "time": simple(TypeKind.TIME),
    "time without time zone": simple(TypeKind.TIME),
    "timestamp": simple(TypeKind.TIMESTAMP),
    "timestamp without time zone": simple(TypeKind.TIMESTAMP),
    "timestamptz": simple(TypeKind.TIMESTAMPTZ),
    "timestamp with time zone": simple(TypeKind.TIMESTAMPTZ),
    "bytea": simple(TypeKind.BINARY),
    "blob": simple(TypeKind.BINARY),
    "json": simple(TypeKind.JSON),
    "jsonb": simple(TypeKind.JSON),
    "uuid": simple(TypeKind.UUID),
    "interval": simple(TypeKind.INTERVAL),
}
_MODIFIER = re.compile(r"^(?P<base>[a-z ]+?)\s*\((?P<args>[\d,\s]+)\)(?P<rest>[a-z ]*)$")


def logical_from_sql(type_name: str, dialect: Dialect) -> tuple[LogicalType | None, int | None]:
    """(logical type, max_length) of a catalog type name such as `numeric(5,2)` or `VARCHAR[]`.

    PostgreSQL types without a logical equivalent (tsvector, inet, xml, enums, ...) map to `string`:
    every PostgreSQL value has a text form and that is how bronze stores them. DuckDB's extra types
    (TINYINT, HUGEINT, STRUCT, ...) map to None, which drift detection reports as a type change.
    """
    name = " ".join(type_name.strip().lower().split())
    if name.endswith("[]"):
        item, _ = logical_from_sql(name[:-2], dialect)
        if item is None or item.kind is TypeKind.ARRAY:
            return None, None
        return array(item), None
    max_length: int | None = None
    if match := _MODIFIER.match(name):
        base, args = match.group("base").strip(), [int(arg) for arg in match.group("args").split(",")]
        rest = match.group("rest").strip()
        if base in ("numeric", "decimal"):
            return decimal(args[0], args[1] if len(args) > 1 else 0), None
        if base in ("character varying", "varchar", "character", "char", "bpchar"):
            max_length = args[0]
        name = f"{base} {rest}".strip()  # timestamp(3) with time zone -> timestamp with time zone
    logical = _SQL_NAMES.get(name)
    if logical is None:
        return (string(), None) if dialect is Dialect.POSTGRES else (None, None)
    return logical, max_length
