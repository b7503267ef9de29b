"""The closed set of logical column types a contract may use.

Every engine has its own spelling (Arrow `int32`, DuckDB `INTEGER`, PostgreSQL `integer`); a contract
names one logical type and `arrow.py` / each engine (`Engine.sql_type`) map it, so that one definition
drives the validator, the DDL and drift detection. The set is deliberately small: a type that cannot be
stored the same way in Arrow, DuckDB and PostgreSQL does not belong here.

| logical          | Arrow                     | DuckDB                   | PostgreSQL                 |
|------------------|---------------------------|--------------------------|----------------------------|
| string           | string                    | VARCHAR                  | TEXT; VARCHAR(n) if max_length |
| int16/32/64      | int16/int32/int64         | SMALLINT/INTEGER/BIGINT  | SMALLINT/INTEGER/BIGINT    |
| float32/64       | float32/float64           | REAL/DOUBLE              | REAL/DOUBLE PRECISION      |
| decimal(p,s)     | decimal128(p,s)           | DECIMAL(p,s)             | NUMERIC(p,s)               |
| decimal          | decimal128(38,9)          | DECIMAL(38,9)            | NUMERIC (unconstrained)    |
| boolean          | bool                      | BOOLEAN                  | BOOLEAN                    |
| date             | date32                    | DATE                     | DATE                       |
| time             | time64[us]                | TIME                     | TIME                       |
| timestamp        | timestamp[us]             | TIMESTAMP                | TIMESTAMP                  |
| timestamptz      | timestamp[us, tz=UTC]     | TIMESTAMPTZ              | TIMESTAMPTZ                |
| binary           | binary                    | BLOB                     | BYTEA                      |
| json             | string (JSON text)        | JSON                     | JSONB                      |
| uuid             | string (canonical 8-4-4-4-12 hex) | UUID             | UUID                       |
| interval         | month_day_nano_interval   | INTERVAL                 | INTERVAL                   |
| array<T>         | list<T>                   | T[]                      | T[]                        |

Canonical spellings are the left column (`int32`, `decimal(5,2)`, `array<string>`); `parse_type`
also accepts the usual SQL aliases (`integer`, `bigint`, `numeric(5,2)`, `text`, `text[]`, ...).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, model_serializer, model_validator

MAX_DECIMAL_PRECISION = 38  # the largest precision Arrow decimal128 and DuckDB DECIMAL share
UNCONSTRAINED_DECIMAL = (38, 9)  # (precision, scale) of `decimal` where a precision must be fixed


class TypeKind(StrEnum):
    """The kinds of logical type; sizes and precision live on `LogicalType`."""

    STRING = "string"
    INTEGER = "integer"
    FLOAT = "float"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    DATE = "date"
    TIME = "time"
    TIMESTAMP = "timestamp"
    TIMESTAMPTZ = "timestamptz"
    BINARY = "binary"
    JSON = "json"
    UUID = "uuid"
    INTERVAL = "interval"
    ARRAY = "array"


NUMERIC_KINDS = frozenset({TypeKind.INTEGER, TypeKind.FLOAT, TypeKind.DECIMAL})
TEMPORAL_KINDS = frozenset({TypeKind.DATE, TypeKind.TIME, TypeKind.TIMESTAMP, TypeKind.TIMESTAMPTZ})
ORDERED_KINDS = NUMERIC_KINDS | TEMPORAL_KINDS  # kinds a min/max range makes sense for
INTEGER_BITS = (16, 32, 64)
FLOAT_BITS = (32, 64)


class LogicalType(BaseModel):
    """One logical type. Serialises to its canonical spelling (`decimal(5,2)`) and parses from any alias."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: TypeKind
    bits: int | None = None  # integer: 16/32/64, float: 32/64
    precision: int | None = None  # decimal; None with scale None = unconstrained NUMERIC
    scale: int | None = None
    item: LogicalType | None = None  # array element (a scalar type)

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            parsed = parse_type(value)
            return {name: getattr(parsed, name) for name in ("kind", "bits", "precision", "scale", "item")}
        return value

    @model_validator(mode="after")
    def _check_shape(self) -> LogicalType:
        problem = _shape_problem(self)
        if problem:
            raise ValueError(problem)
        return self

    @model_serializer(mode="plain")
    def _to_text(self) -> str:
        return str(self)

    def __str__(self) -> str:
        match self.kind:
            case TypeKind.INTEGER:
                return f"int{self.bits}"
            case TypeKind.FLOAT:
                return f"float{self.bits}"
            case TypeKind.DECIMAL if self.precision is not None:
                return f"decimal({self.precision},{self.scale})"
            case TypeKind.ARRAY:
                return f"array<{self.item}>"
            case _:
                return self.kind.value

    def __repr__(self) -> str:
        return f"LogicalType({str(self)!r})"

    @property
    def is_string_like(self) -> bool:
        """Kinds carried as Arrow strings (their text is what the validator checks)."""
        return self.kind in (TypeKind.STRING, TypeKind.JSON, TypeKind.UUID)


def _shape_problem(t: LogicalType) -> str | None:
    return _size_problem(t) or _decimal_problem(t) or _array_problem(t)


def _size_problem(t: LogicalType) -> str | None:
    if t.kind is TypeKind.INTEGER and t.bits not in INTEGER_BITS:
        return f"integer size must be one of {INTEGER_BITS}, not {t.bits}"
    if t.kind is TypeKind.FLOAT and t.bits not in FLOAT_BITS:
        return f"float size must be one of {FLOAT_BITS}, not {t.bits}"
    if t.kind not in (TypeKind.INTEGER, TypeKind.FLOAT) and t.bits is not None:
        return f"size applies to integer and float only, not {t.kind}"
    return None


def _decimal_problem(t: LogicalType) -> str | None:
    if t.kind is not TypeKind.DECIMAL:
        if t.precision is not None or t.scale is not None:
            return f"precision and scale apply to decimal only, not {t.kind}"
        return None
    if t.precision is None or t.scale is None:
        return None if t.precision == t.scale else "decimal needs both precision and scale, or neither"
    if not 1 <= t.precision <= MAX_DECIMAL_PRECISION:
        return f"decimal precision must be 1..{MAX_DECIMAL_PRECISION}, not {t.precision}"
    if not 0 <= t.scale <= t.precision:
        return f"decimal scale must be 0..precision ({t.precision}), not {t.scale}"
    return None


def _array_problem(t: LogicalType) -> str | None:
    if t.kind is not TypeKind.ARRAY:
        return f"item applies to array only, not {t.kind}" if t.item is not None else None
    if t.item is None:
        return "array needs an item type"
    if t.item.kind is TypeKind.ARRAY:
        return "arrays of arrays are not supported: an array's item must be a scalar type"
    return None


# -- constructors: short names for the code that builds types ------------------------------------------


def string() -> LogicalType:
    """The string type."""
    return LogicalType(kind=TypeKind.STRING)


def integer(bits: int = 32) -> LogicalType:
    """An integer of `bits` (16, 32 or 64)."""
    return LogicalType(kind=TypeKind.INTEGER, bits=bits)


def floating(bits: int = 64) -> LogicalType:
    """A float of `bits` (32 or 64)."""
    return LogicalType(kind=TypeKind.FLOAT, bits=bits)


def decimal(precision: int | None = None, scale: int | None = None) -> LogicalType:
    """decimal(p,s); no arguments for an unconstrained NUMERIC."""
    if precision is not None and scale is None:
        scale = 0  # SQL's NUMERIC(p) means NUMERIC(p, 0)
    return LogicalType(kind=TypeKind.DECIMAL, precision=precision, scale=scale)


def array(item: LogicalType) -> LogicalType:
    """An array of a scalar `item` type."""
    return LogicalType(kind=TypeKind.ARRAY, item=item)


def simple(kind: TypeKind) -> LogicalType:
    """A kind without parameters (boolean, date, time, timestamp, ...), or its default size."""
    if kind is TypeKind.INTEGER:
        return integer()
    if kind is TypeKind.FLOAT:
        return floating()
    return LogicalType(kind=kind)


# -- parsing ---------------------------------------------------------------------------------------------

_ALIASES: dict[str, LogicalType] = {}


def _alias(t: LogicalType, *names: str) -> None:
    for name in names:
        _ALIASES[name] = t


_alias(string(), "string", "str", "text", "varchar", "character varying", "char", "character", "bpchar")
_alias(integer(16), "int16", "smallint", "int2", "short")
_alias(integer(32), "int32", "integer", "int", "int4")
_alias(integer(64), "int64", "bigint", "int8", "long")
_alias(floating(32), "float32", "real", "float4")
_alias(floating(64), "float64", "float", "double", "double precision", "float8")
_alias(decimal(), "decimal", "numeric")
_alias(simple(TypeKind.BOOLEAN), "boolean", "bool")
_alias(simple(TypeKind.DATE), "date")
_alias(simple(TypeKind.TIME), "time", "time without time zone")
_alias(simple(TypeKind.TIMESTAMP), "timestamp", "datetime", "timestamp without time zone")
_alias(simple(TypeKind.TIMESTAMPTZ), "timestamptz", "timestamp with time zone")
_alias(simple(TypeKind.BINARY), "binary", "bytes", "bytea", "blob", "varbinary")
_alias(simple(TypeKind.JSON), "json", "jsonb")
_alias(simple(TypeKind.UUID), "uuid")
_alias(simple(TypeKind.INTERVAL), "interval")

_DECIMAL = re.compile(r"^(?:decimal|numeric)\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)$")
_SIZED = re.compile(r"^(integer|int|float)\s*\(\s*(\d+)\s*\)$")
_ARRAY = re.compile(r"^(?:array|list)\s*<\s*(.+?)\s*>$")


def parse_type(text: str) -> LogicalType:
    """Parse a type's spelling (canonical or a common SQL alias); ValueError names the known ones."""
    spelled = " ".join(text.strip().lower().split())
    if spelled in _ALIASES:
        return _ALIASES[spelled]
    if spelled.endswith("[]"):
        return array(parse_type(spelled[:-2]))
    if match := _ARRAY.match(spelled):
        return array(parse_type(match.group(1)))
    if match := _DECIMAL.match(spelled):
        return decimal(int(match.group(1)), int(match.group(2) or 0))
    if match := _SIZED.match(spelled):
        bits = int(match.group(2))
        return integer(bits) if match.group(1) != "float" else floating(bits)
    known = "string, int16, int32, int64, float32, float64, decimal(p,s), boolean, date, time, "
    known += "timestamp, timestamptz, binary, json, uuid, interval, array<T>"
    raise ValueError(f"unknown type {text!r}; known types: {known}")


LogicalType.model_rebuild()
