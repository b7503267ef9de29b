"""Catalog type names read back as logical types: the part of type mapping every SQL engine shares.

An engine declares columns with its own spelling (`Engine.sql_type`) and reads them back from its
catalog through `parse_sql_type`, so a column whose contract and live type agree always compares equal.
The names below cover the spellings DuckDB and PostgreSQL (and most SQL engines) report; what a name
outside them means is the engine's decision (`Engine.unknown_type`).
"""

from __future__ import annotations

import re

from datakit.contracts.types import LogicalType, TypeKind, array, decimal, floating, integer, simple, string

SQL_NAMES: dict[str, LogicalType] = {
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


def parse_sql_type(type_name: str, unknown: LogicalType | None) -> tuple[LogicalType | None, int | None]:
    """(logical type, max_length) of a catalog type name such as `numeric(5,2)` or `VARCHAR[]`.

    A name outside `SQL_NAMES` is `unknown` (an engine whose every value has a text form says string).
    """
    name = " ".join(type_name.strip().lower().split())
    if name.endswith("[]"):
        item, _ = parse_sql_type(name[:-2], unknown)
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
    logical = SQL_NAMES.get(name)
    if logical is None:
        return unknown, None
    return logical, max_length
