"""SQLAlchemy column types <-> logical types.

Both the SQLModel route (a class's `__table__`) and reflection (the inspector) describe columns with
SQLAlchemy types, so one mapping serves both; `render.py` uses the inverse to write models that map back
to the same logical types. Subclass order matters here: `Enum` is a `String`, `Float` a `Numeric`,
`BigInteger` an `Integer`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from datakit.contracts.types import LogicalType, TypeKind, array, decimal, floating, integer, simple, string


@dataclass(frozen=True)
class MappedType:
    """A SQLAlchemy type read as a logical type, with the rules the type itself implies."""

    type: LogicalType
    max_length: int | None = None
    accepted_values: tuple[str, ...] | None = None  # enums
    domain: tuple[str | None, str] | None = None  # (schema, name) of a PostgreSQL domain
    native: str | None = None  # set when the SQL type had no logical equivalent and fell back to string


class UnsupportedType(ValueError):
    """A SQLAlchemy type that has no logical equivalent."""


def logical_from_sqlalchemy(sa_type: Any, *, fallback_to_string: bool = False) -> MappedType:
    """Read a SQLAlchemy type instance (or class) as a logical type.

    With `fallback_to_string`, types without an equivalent (tsvector, inet, ...) become `string` (their
    text form, which is how bronze keeps them) instead of raising `UnsupportedType`.
    """
    if isinstance(sa_type, type):
        sa_type = sa_type()
    if isinstance(sa_type, sa.Interval):  # a TypeDecorator over DateTime, but an interval to every engine
        return MappedType(simple(TypeKind.INTERVAL))
    if isinstance(sa_type, sa.types.TypeDecorator):
        return logical_from_sqlalchemy(sa_type.impl_instance, fallback_to_string=fallback_to_string)
    if isinstance(sa_type, postgresql.DOMAIN):
        base = logical_from_sqlalchemy(sa_type.data_type, fallback_to_string=fallback_to_string)
        return MappedType(
            base.type, base.max_length, base.accepted_values, (sa_type.schema, str(sa_type.name))
        )
    if isinstance(sa_type, sa.Enum):
        return MappedType(string(), accepted_values=tuple(sa_type.enums))
    if isinstance(sa_type, sa.ARRAY):
        if (sa_type.dimensions or 1) > 1:
            raise UnsupportedType(f"multi-dimensional {sa_type!r}: only arrays of scalars are supported")
        item = logical_from_sqlalchemy(sa_type.item_type, fallback_to_string=fallback_to_string)
        if item.type.kind is TypeKind.ARRAY:
            raise UnsupportedType(f"{sa_type!r}: only arrays of scalars are supported")
        return MappedType(array(item.type))
    scalar = _scalar(sa_type)
    if scalar is not None:
        return scalar
    if fallback_to_string:
        return MappedType(string(), native=_type_name(sa_type))
    raise UnsupportedType(f"{sa_type!r} has no logical type; use one of the types in datakit.contracts.types")


def _scalar(sa_type: Any) -> MappedType | None:
    for sa_class, logical in _SCALARS:  # first match wins: subclasses come before their bases
        if isinstance(sa_type, sa_class):
            if logical is None:
                return _parametrised(sa_type)
            return MappedType(logical)
    return None


def _parametrised(sa_type: Any) -> MappedType:
    if isinstance(sa_type, sa.Float):
        return MappedType(floating(_float_bits(sa_type)))
    if isinstance(sa_type, sa.Numeric):
        return MappedType(decimal(sa_type.precision, sa_type.scale))
    if isinstance(sa_type, sa.String):
        return MappedType(string(), max_length=sa_type.length)
    return MappedType(simple(TypeKind.TIMESTAMPTZ if sa_type.timezone else TypeKind.TIMESTAMP))


_SCALARS: tuple[tuple[type | tuple[type, ...], LogicalType | None], ...] = (
    (sa.Boolean, simple(TypeKind.BOOLEAN)),
    (sa.SmallInteger, integer(16)),
    (sa.BigInteger, integer(64)),
    (sa.Integer, integer(32)),
    (sa.Float, None),
    (sa.Numeric, None),
    (sa.String, None),
    (sa.DateTime, None),
    (sa.Date, simple(TypeKind.DATE)),
    (sa.Time, simple(TypeKind.TIME)),
    ((sa.Interval, postgresql.INTERVAL), simple(TypeKind.INTERVAL)),
    ((sa.LargeBinary, sa.types._Binary), simple(TypeKind.BINARY)),
    (sa.JSON, simple(TypeKind.JSON)),
    (sa.Uuid, simple(TypeKind.UUID)),
)


def _float_bits(sa_type: sa.Float[Any]) -> int:
    if isinstance(sa_type, sa.REAL):
        return 32
    if isinstance(sa_type, sa.DOUBLE | sa.DOUBLE_PRECISION):
        return 64
    precision = sa_type.precision
    return 32 if precision is not None and precision <= 24 else 64  # SQL: FLOAT(p<=24) is single precision


def _type_name(sa_type: Any) -> str:
    try:
        return str(sa_type.compile(dialect=postgresql.dialect()))  # type: ignore[no-untyped-call]
    except Exception:  # a name for a message only: any failure falls back to the class name
        return type(sa_type).__name__


def sqlalchemy_type(logical: LogicalType, *, max_length: int | None = None) -> sa.types.TypeEngine[Any]:
    """A dialect-neutral SQLAlchemy type that `logical_from_sqlalchemy` maps back to `logical`."""
    kind = logical.kind
    if kind is TypeKind.STRING:
        return sa.String(max_length) if max_length else sa.Text()
    if kind is TypeKind.INTEGER:
        return {16: sa.SmallInteger(), 32: sa.Integer(), 64: sa.BigInteger()}[logical.bits or 32]
    if kind is TypeKind.FLOAT:
        return sa.REAL() if logical.bits == 32 else sa.Double()
    if kind is TypeKind.DECIMAL:
        return sa.Numeric(logical.precision, logical.scale)
    if kind is TypeKind.ARRAY:
        assert logical.item is not None
        return sa.ARRAY(sqlalchemy_type(logical.item))
    fixed: dict[TypeKind, sa.types.TypeEngine[Any]] = {
        TypeKind.BOOLEAN: sa.Boolean(),
        TypeKind.DATE: sa.Date(),
        TypeKind.TIME: sa.Time(),
        TypeKind.TIMESTAMP: sa.DateTime(timezone=False),
        TypeKind.TIMESTAMPTZ: sa.DateTime(timezone=True),
        TypeKind.BINARY: sa.LargeBinary(),
        TypeKind.JSON: sa.JSON(),
        TypeKind.UUID: sa.Uuid(),
        TypeKind.INTERVAL: sa.Interval(),
    }
    return fixed[kind]
