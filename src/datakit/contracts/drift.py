"""Schema drift: how a live table differs from its contract.

`datakit deploy --validate` reports these, and the loader decides per drift whether it may go on (an
extra nullable column, a widened type) or must stop. Drift is plain data; deciding is the caller's job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from datakit.contracts.live import LiveColumn
from datakit.contracts.model import Column, Contract
from datakit.contracts.sqltypes import Dialect, sql_type
from datakit.contracts.types import LogicalType, TypeKind


class DriftKind(StrEnum):
    """How a live column differs from the contract's."""

    MISSING = "missing"  # in the contract, not in the table
    EXTRA = "extra"  # in the table, not in the contract
    TYPE_CHANGED = "type_changed"
    NULLABILITY_CHANGED = "nullability_changed"


@dataclass(frozen=True)
class Drift:
    """One difference between a contract and a live table."""

    kind: DriftKind
    column: str
    expected: str | None = None  # the contract's side (type, or "nullable"/"not null")
    actual: str | None = None  # the table's side
    widening: bool = False  # a type change the table can still hold every contract value in

    def __str__(self) -> str:
        match self.kind:
            case DriftKind.MISSING:
                return f"column {self.column!r} ({self.expected}) is missing from the table"
            case DriftKind.EXTRA:
                return f"column {self.column!r} ({self.actual}) is in the table but not in the contract"
            case DriftKind.TYPE_CHANGED:
                wider = " (wider: contract values still fit)" if self.widening else ""
                return (
                    f"column {self.column!r} is {self.actual} in the table, {self.expected} in the contract"
                    + wider
                )
            case _:
                return (
                    f"column {self.column!r} is {self.actual} in the table, {self.expected} in the contract"
                )


def diff_schema(contract: Contract, live_columns: Sequence[LiveColumn]) -> list[Drift]:
    """Every difference between `contract` and the live columns, in contract order then table order."""
    live = {column.name: column for column in live_columns}
    drifts: list[Drift] = []
    for column in contract.columns:
        found = live.get(column.name)
        if found is None:
            drifts.append(
                Drift(DriftKind.MISSING, column.name, expected=_describe(column.type, column.max_length))
            )
            continue
        if not _same_type(column, found):
            drifts.append(
                Drift(
                    DriftKind.TYPE_CHANGED,
                    column.name,
                    expected=_describe(column.type, column.max_length if _has_lengths(found) else None),
                    actual=found.native_type,
                    widening=_widens(column, found),
                )
            )
        if column.nullable != found.nullable:
            drifts.append(
                Drift(
                    DriftKind.NULLABILITY_CHANGED,
                    column.name,
                    expected="nullable" if column.nullable else "not null",
                    actual="nullable" if found.nullable else "not null",
                    widening=found.nullable,
                )
            )
    names = set(contract.column_names)
    drifts.extend(
        Drift(DriftKind.EXTRA, column.name, actual=column.native_type)
        for column in live_columns
        if column.name not in names
    )
    return drifts


def _describe(logical: LogicalType, max_length: int | None) -> str:
    return f"{logical}, max length {max_length}" if max_length is not None else str(logical)


def _has_lengths(found: LiveColumn) -> bool:
    """Whether the engine keeps VARCHAR lengths (PostgreSQL does; DuckDB ignores them)."""
    return found.dialect is Dialect.POSTGRES


def _same_type(column: Column, found: LiveColumn) -> bool:
    if found.type is None:
        return False
    if found.dialect is not None:  # compare as the engine stores it: DuckDB keeps decimal as DECIMAL(38,9)
        length = column.max_length if _has_lengths(found) else None
        expected = sql_type(column.type, found.dialect, max_length=length)
        return expected == sql_type(found.type, found.dialect, max_length=found.max_length)
    return column.type == found.type


def _widens(column: Column, found: LiveColumn) -> bool:
    """Whether every value of the contract's type fits the live column's type."""
    want, have = column.type, found.type
    if have is None:
        return False
    if want.kind is have.kind and want.kind in (TypeKind.INTEGER, TypeKind.FLOAT):
        return (have.bits or 0) >= (want.bits or 0)
    if want.kind is TypeKind.INTEGER and have.kind is TypeKind.DECIMAL:
        digits = {16: 5, 32: 10, 64: 19}[want.bits or 32]
        return have.precision is None or (have.precision - (have.scale or 0)) >= digits
    if want.kind is have.kind is TypeKind.DECIMAL:
        if have.precision is None:
            return True
        if want.precision is None:
            return False
        return (have.scale or 0) >= (want.scale or 0) and (have.precision - (have.scale or 0)) >= (
            want.precision - (want.scale or 0)
        )
    if want.kind is have.kind is TypeKind.STRING:
        return found.max_length is None or (
            column.max_length is not None and found.max_length >= column.max_length
        )
    return False
