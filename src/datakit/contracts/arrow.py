"""Contracts as Arrow schemas: the shape of every batch the loader writes.

Timestamps are microseconds because that is the finest unit PostgreSQL and DuckDB's TIMESTAMP store;
`timestamptz` is normalised to UTC so two batches of one table never differ by zone. The full table of
the mapping is in `types.py`.
"""

from __future__ import annotations

import pyarrow as pa

from datakit.contracts.model import Contract
from datakit.contracts.types import UNCONSTRAINED_DECIMAL, LogicalType, TypeKind

TIME_UNIT = "us"
TIMEZONE = "UTC"
CONTRACT_METADATA_KEY = b"datakit.contract"

_FIXED: dict[TypeKind, pa.DataType] = {
    TypeKind.STRING: pa.string(),
    TypeKind.BOOLEAN: pa.bool_(),
    TypeKind.DATE: pa.date32(),
    TypeKind.TIME: pa.time64(TIME_UNIT),
    TypeKind.TIMESTAMP: pa.timestamp(TIME_UNIT),
    TypeKind.TIMESTAMPTZ: pa.timestamp(TIME_UNIT, tz=TIMEZONE),
    TypeKind.BINARY: pa.binary(),
    TypeKind.JSON: pa.string(),
    TypeKind.UUID: pa.string(),
    TypeKind.INTERVAL: pa.month_day_nano_interval(),
}
_INTEGERS = {16: pa.int16(), 32: pa.int32(), 64: pa.int64()}
_FLOATS = {32: pa.float32(), 64: pa.float64()}


def arrow_type(logical: LogicalType) -> pa.DataType:
    """The Arrow type values of `logical` have in a validated batch."""
    kind = logical.kind
    if kind is TypeKind.INTEGER:
        return _INTEGERS[logical.bits or 32]
    if kind is TypeKind.FLOAT:
        return _FLOATS[logical.bits or 64]
    if kind is TypeKind.DECIMAL:
        precision, scale = (
            (logical.precision, logical.scale) if logical.precision is not None else UNCONSTRAINED_DECIMAL
        )
        return pa.decimal128(precision, scale or 0)
    if kind is TypeKind.ARRAY:
        assert logical.item is not None
        return pa.list_(arrow_type(logical.item))
    return _FIXED[kind]


def to_arrow_schema(contract: Contract) -> pa.Schema:
    """The Arrow schema of `contract`'s validated batches (columns in contract order, nullability kept)."""
    fields = [
        pa.field(
            column.name,
            arrow_type(column.type),
            nullable=column.nullable,
            metadata={b"datakit.type": str(column.type).encode()},
        )
        for column in contract.columns
    ]
    return pa.schema(fields, metadata={CONTRACT_METADATA_KEY: contract.qualified_name.encode()})
