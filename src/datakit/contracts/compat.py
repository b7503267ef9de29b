"""What changed between two versions of a contract, and whether it breaks the warehouses that use it.

The rules take the side of a warehouse that loads into and reads from the old contract's tables, as
`buf breaking` does for protobuf and dbt for contracted models:

| change                                           | kind        |
|--------------------------------------------------|-------------|
| table removed; column removed                    | breaking    |
| column added, NOT NULL                           | breaking    |
| column added, nullable; table added              | compatible  |
| type narrowed or changed (int32 -> int16, string -> int32) | breaking  |
| type widened (int16 -> int32, decimal(5,2) -> decimal(7,2)) | compatible |
| nullable -> NOT NULL                             | breaking    |
| NOT NULL -> nullable                             | compatible  |
| primary key changed                              | breaking    |
| unique key or foreign key added or changed       | breaking    |
| unique key or foreign key removed                | compatible  |
| accepted values narrowed (a value removed)       | breaking    |
| accepted values widened or removed               | compatible  |
| range narrowed / widened or removed              | breaking / compatible |
| max length shortened / lengthened or removed     | breaking / compatible |
| pattern added or changed / removed               | breaking / compatible |
| history turned off / on                          | breaking / compatible |
| description, column order, temporal_exclude      | compatible  |

A type is widened when every value of the old type is a value of the new one, with the same meaning.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from datakit.contracts.model import Column, Contract
from datakit.contracts.types import LogicalType, TypeKind

_INT_DIGITS = {16: 5, 32: 10, 64: 19}


class Impact(StrEnum):
    """Whether a change breaks what was built on the old version."""

    BREAKING = "breaking"
    COMPATIBLE = "compatible"


@dataclass(frozen=True)
class Change:
    """One difference between two versions: where (table, column), what, and its impact."""

    impact: Impact
    table: str
    column: str | None
    what: str

    def __str__(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        return f"{self.impact}: {where}: {self.what}"


def widens(old: LogicalType, new: LogicalType) -> bool:
    """Whether every value of `old` is a value of `new` (equal types included)."""
    if old == new:
        return True
    if old.kind is TypeKind.ARRAY and new.kind is TypeKind.ARRAY:
        assert old.item is not None
        assert new.item is not None
        return widens(old.item, new.item)
    if old.kind is new.kind and old.kind in (TypeKind.INTEGER, TypeKind.FLOAT):
        return (new.bits or 0) >= (old.bits or 0)
    if old.kind is TypeKind.INTEGER and new.kind is TypeKind.FLOAT:
        return (new.bits or 0) == 64 and (old.bits or 0) <= 32  # float64 holds every int32 exactly
    if old.kind is TypeKind.INTEGER and new.kind is TypeKind.DECIMAL:
        return new.precision is None or new.precision - (new.scale or 0) >= _INT_DIGITS[old.bits or 32]
    if old.kind is TypeKind.DECIMAL and new.kind is TypeKind.DECIMAL:
        if new.precision is None:
            return True
        if old.precision is None:
            return False
        old_int, new_int = old.precision - (old.scale or 0), new.precision - (new.scale or 0)
        return (new.scale or 0) >= (old.scale or 0) and new_int >= old_int
    return False


def compare_tables(old: Mapping[str, Contract], new: Mapping[str, Contract]) -> list[Change]:
    """Every change between two sets of tables keyed alike (`layer:system.schema.table`)."""
    changes: list[Change] = []
    for key, contract in old.items():
        if key not in new:
            changes.append(Change(Impact.BREAKING, key, None, "table removed"))
        else:
            changes.extend(compare_contracts(contract, new[key], table=key))
    changes.extend(Change(Impact.COMPATIBLE, key, None, "table added") for key in new if key not in old)
    return changes


def compare_contracts(old: Contract, new: Contract, *, table: str | None = None) -> list[Change]:
    """Every change from `old` to `new` of one table, columns in the old order, then added ones."""
    where = table or new.qualified_name
    found: list[Change] = []

    def add(impact: Impact, column: str | None, what: str) -> None:
        found.append(Change(impact, where, column, what))

    new_columns = {c.name: c for c in new.columns}
    for column in old.columns:
        after = new_columns.get(column.name)
        if after is None:
            add(Impact.BREAKING, column.name, f"column removed (was {_shown(column)})")
            continue
        for impact, what in _column_changes(column, after):
            add(impact, column.name, what)
    old_names = set(old.column_names)
    for column in new.columns:
        if column.name not in old_names:
            if column.nullable:
                add(Impact.COMPATIBLE, column.name, f"nullable column added ({column.type})")
            else:
                add(Impact.BREAKING, column.name, f"NOT NULL column added ({column.type})")
    for impact, what in _table_changes(old, new):
        add(impact, None, what)
    return found


def _table_changes(old: Contract, new: Contract) -> Iterator[tuple[Impact, str]]:
    """Changes of the table as a whole: keys, history, description, column order."""
    if old.primary_key != new.primary_key:
        yield Impact.BREAKING, f"primary key changed from {_key(old.primary_key)} to {_key(new.primary_key)}"
    for key in new.unique:
        if key not in old.unique:
            yield Impact.BREAKING, f"unique key {_key(key)} added"
    for key in old.unique:
        if key not in new.unique:
            yield Impact.COMPATIBLE, f"unique key {_key(key)} removed"
    if old.history != new.history:
        if old.history:
            yield Impact.BREAKING, "history turned off (its __history table is no longer kept)"
        else:
            yield Impact.COMPATIBLE, "history turned on"
    if old.description != new.description:
        yield Impact.COMPATIBLE, "description changed"
    kept_old = [c for c in old.column_names if c in new.column_names]
    kept_new = [c for c in new.column_names if c in old.column_names]
    if kept_old != kept_new:
        yield Impact.COMPATIBLE, "columns reordered"
    if old.temporal_exclude != new.temporal_exclude:
        yield Impact.COMPATIBLE, "temporal_exclude changed (what makes a new history version)"


def _column_changes(old: Column, new: Column) -> Iterator[tuple[Impact, str]]:
    if old.type != new.type:
        if widens(old.type, new.type):
            yield Impact.COMPATIBLE, f"type widened from {old.type} to {new.type}"
        elif widens(new.type, old.type):
            yield Impact.BREAKING, f"type narrowed from {old.type} to {new.type}"
        else:
            yield Impact.BREAKING, f"type changed from {old.type} to {new.type}"
    if old.nullable != new.nullable:
        if new.nullable:
            yield Impact.COMPATIBLE, "NOT NULL -> nullable"
        else:
            yield Impact.BREAKING, "nullable -> NOT NULL"
    yield from _rule_changes(old, new)
    if old.description != new.description:
        yield Impact.COMPATIBLE, "description changed"


def _rule_changes(old: Column, new: Column) -> Iterator[tuple[Impact, str]]:
    """Changes of the rules a value must keep: length, range, accepted values, pattern, foreign key."""
    yield from _limit("max length", old.max_length, new.max_length, larger_is_wider=True)
    yield from _bound("min", old.min, new.min, old.min_exclusive, new.min_exclusive, lower=True)
    yield from _bound("max", old.max, new.max, old.max_exclusive, new.max_exclusive, lower=False)
    yield from _values(old.accepted_values, new.accepted_values)
    if old.pattern != new.pattern:
        if new.pattern is None:
            yield Impact.COMPATIBLE, f"pattern {old.pattern!r} removed"
        elif old.pattern is None:
            yield Impact.BREAKING, f"pattern {new.pattern!r} added"
        else:
            yield Impact.BREAKING, f"pattern changed from {old.pattern!r} to {new.pattern!r}"
    if old.foreign_key != new.foreign_key:
        if new.foreign_key is None:
            yield Impact.COMPATIBLE, f"foreign key to {old.foreign_key} removed"
        elif old.foreign_key is None:
            yield Impact.BREAKING, f"foreign key to {new.foreign_key} added"
        else:
            yield Impact.BREAKING, f"foreign key changed from {old.foreign_key} to {new.foreign_key}"


def _limit(
    what: str, old: int | None, new: int | None, *, larger_is_wider: bool
) -> Iterator[tuple[Impact, str]]:
    if old == new:
        return
    if new is None:
        yield Impact.COMPATIBLE, f"{what} {old} removed"
    elif old is None:
        yield Impact.BREAKING, f"{what} {new} added"
    elif (new > old) == larger_is_wider:
        yield Impact.COMPATIBLE, f"{what} raised from {old} to {new}"
    else:
        yield Impact.BREAKING, f"{what} lowered from {old} to {new}"


def _bound(
    what: str, old: Any, new: Any, old_excl: bool, new_excl: bool, *, lower: bool
) -> Iterator[tuple[Impact, str]]:
    if old == new and old_excl == new_excl:
        return
    if new is None:
        yield Impact.COMPATIBLE, f"{what} {old} removed"
        return
    if old is None:
        yield Impact.BREAKING, f"{what} {new} added"
        return
    try:
        tighter = (new > old if lower else new < old) or (new == old and new_excl and not old_excl)
    except TypeError:  # bounds of types that do not compare (the column's type changed too)
        tighter = True
    if tighter:
        yield Impact.BREAKING, f"range narrowed: {what} {old} -> {new}"
    else:
        yield Impact.COMPATIBLE, f"range widened: {what} {old} -> {new}"


def _values(old: tuple[Any, ...] | None, new: tuple[Any, ...] | None) -> Iterator[tuple[Impact, str]]:
    if old == new:
        return
    if new is None:
        yield Impact.COMPATIBLE, "accepted values removed (any value accepted)"
        return
    if old is None:
        yield Impact.BREAKING, f"accepted values added ({_list(new)})"
        return
    gone = [v for v in old if v not in new]
    added = [v for v in new if v not in old]
    if gone:
        yield Impact.BREAKING, f"accepted values narrowed: {_list(gone)} no longer accepted"
    if added:
        yield Impact.COMPATIBLE, f"accepted values widened: {_list(added)} accepted"


def _list(values: Any) -> str:
    return ", ".join(repr(v) for v in values)


def _key(columns: tuple[str, ...]) -> str:
    return f"({', '.join(columns)})" if columns else "(none)"


def _shown(column: Column) -> str:
    return f"{column.type}{'' if column.nullable else ', NOT NULL'}"
