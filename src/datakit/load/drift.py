"""Source-versus-target drift at load time, and what a load does about it.

Before any row moves, the columns the load will deliver (the source catalog, or the transform's output
schema) are compared with the target table's live columns (audit columns aside):

* **added** — a delivered column the table lacks. `evolve`: `ADD COLUMN` (nullable) to the target,
  its history and rejected tables. `freeze`: error.
* **dropped** — a table column no longer delivered. `evolve`: the column stays (old rows keep their
  values); if it is NOT NULL the constraint is dropped so new rows can carry NULL. `freeze`: error.
* **retyped** — a delivered type the table cannot hold as it is. `evolve`: widened in place when that
  is lossless (int16 -> int32 -> int64, float32 -> float64, decimal with more integer digits and no
  fewer fractional ones, integer -> wide enough decimal, varchar(n) -> varchar(m > n) or text);
  anything else stops the load with an error suggesting `--full-refresh`, which empties the target and
  then changes the type. `freeze`: error.

Deliberately not drift: a delivered type the table already holds (int16 into an int32 column), and a
text column feeding a typed or length-limited one — the validator parses every value and rejects the
ones that do not fit (that is how text-typed sources such as SQLite load), so lengths follow the
contract's `max_length`, not the source's declared one. `freeze` lists every difference in one error;
`evolve` reports every change it made in `LoadResult.schema_changes` and the load record.

The same rules compare a contract with its deployed table (`diff_schema`, `datakit deploy --validate`):
one drift engine, one live-column type (`datakit.connectors.Column`, whose logical type the destination's
engine reads from its catalog), and types compared as the engine stores them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from datakit.connectors.writes import Change
from datakit.contracts.audit import RESERVED_AUDIT_NAMES
from datakit.contracts.model import Column, Contract
from datakit.contracts.types import LogicalType, TypeKind, array, decimal, floating, integer, simple, string
from datakit.load.drift_mode import DriftMode
from datakit.load.errors import DriftError

if TYPE_CHECKING:
    import pyarrow as pa

    from datakit.connectors import Column as LiveColumn
    from datakit.connectors import Engine

_INT_DIGITS = {16: 5, 32: 10, 64: 19}


@dataclass(frozen=True)
class Shape:
    """A column's logical type and length limit (None: unlimited or unknown)."""

    name: str
    type: LogicalType | None
    max_length: int | None = None
    nullable: bool = True

    @classmethod
    def of(cls, column: LiveColumn) -> Shape:
        """A live column's shape (its logical type as the destination's engine read it)."""
        return cls(column.name, column.type, column.max_length, column.nullable)

    def describe(self, engine: Engine) -> str:
        if self.type is None:
            return "an unknown type"
        return engine.sql_type(self.type, max_length=self.max_length).lower()


@dataclass
class DriftPlan:
    """The contract the load validates against, the DDL to run first, and what to report."""

    contract: Contract
    changes: list[Change] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)


def shapes_from_arrow(schema: pa.Schema) -> list[Shape]:
    """Delivered columns described by an Arrow schema (a transform's output, a non-PostgreSQL source)."""
    return [Shape(f.name, logical_from_arrow(f.type)) for f in schema]


def shapes_from_catalog(columns: Sequence[LiveColumn]) -> list[Shape]:
    """Columns as a database catalog reports them (types resolved through domains and enums)."""
    return [Shape.of(column) for column in columns]


def logical_from_arrow(kind: pa.DataType) -> LogicalType | None:
    """The logical type of Arrow values, or None when there is no exact one."""
    import pyarrow as pa

    t = pa.types
    if t.is_integer(kind):
        bits = kind.bit_width + (1 if t.is_unsigned_integer(kind) else 0)
        return integer(next(b for b in (16, 32, 64) if b >= bits)) if bits <= 64 else None
    if t.is_floating(kind):
        return floating(64 if kind.bit_width == 64 else 32)
    if t.is_decimal(kind):
        return decimal(kind.precision, kind.scale) if kind.precision <= 38 else None
    if t.is_string(kind) or t.is_large_string(kind):
        return string()
    if t.is_boolean(kind):
        return simple(TypeKind.BOOLEAN)
    if t.is_date(kind):
        return simple(TypeKind.DATE)
    if t.is_time(kind):
        return simple(TypeKind.TIME)
    if t.is_timestamp(kind):
        return simple(TypeKind.TIMESTAMPTZ if kind.tz else TypeKind.TIMESTAMP)
    if t.is_binary(kind) or t.is_large_binary(kind) or t.is_fixed_size_binary(kind):
        return simple(TypeKind.BINARY)
    if t.is_interval(kind) or t.is_duration(kind):
        return simple(TypeKind.INTERVAL)
    if t.is_list(kind) or t.is_large_list(kind):
        item = logical_from_arrow(kind.value_type)
        return array(item) if item is not None and item.kind is not TypeKind.ARRAY else None
    return None


def holds(have: Shape, want: Shape, *, lengths: bool) -> bool:
    """Whether every value of `want` fits a column of `have` unchanged."""
    a, b = have.type, want.type
    if a is None or b is None:
        return False
    if a.kind is TypeKind.ARRAY and b.kind is TypeKind.ARRAY:
        assert a.item is not None
        assert b.item is not None
        return holds(Shape("", a.item), Shape("", b.item), lengths=lengths)
    if a.kind in (TypeKind.INTEGER, TypeKind.FLOAT) and a.kind is b.kind:
        return (a.bits or 0) >= (b.bits or 0)
    if a.kind is TypeKind.DECIMAL and b.kind is TypeKind.INTEGER:
        return a.precision is None or a.precision - (a.scale or 0) >= _INT_DIGITS[b.bits or 32]
    if a.kind is TypeKind.DECIMAL and b.kind is TypeKind.DECIMAL:
        if a.precision is None:
            return True
        if b.precision is None:
            return False
        return (a.scale or 0) >= (b.scale or 0) and a.precision - (a.scale or 0) >= b.precision - (
            b.scale or 0
        )
    if a.kind is TypeKind.STRING and b.kind is TypeKind.STRING:
        if not lengths or have.max_length is None:
            return True
        return want.max_length is not None and have.max_length >= want.max_length
    return a == b


def plan_drift(
    contract: Contract,
    delivered: Sequence[Shape],
    live: Sequence[Shape],
    *,
    engine: Engine,
    mode: DriftMode,
    table: str,
    full_refresh: bool = False,
    exact_types: bool = True,
) -> DriftPlan:
    """Compare what the load delivers with the live table; decide, per the mode, or raise DriftError.

    `exact_types=False` (a source whose declared types are hints, as SQLite's) makes every column the
    contract knows arrive as the contract's type: its values are cast and checked, never drift.
    """
    lengths = engine.keeps_lengths
    incoming = [_as_contract_sees(shape, contract, exact_types=exact_types) for shape in delivered]
    by_name = {shape.name: shape for shape in incoming}
    target = {shape.name: shape for shape in live if shape.name not in RESERVED_AUDIT_NAMES}
    problems: list[str] = []
    changes: list[Change] = []
    messages: list[str] = []
    incompatible: list[str] = []
    for shape in incoming:
        found = target.get(shape.name)
        if found is None:
            problems.append(f"added column {shape.name} ({shape.describe(engine)})")
            changes.append(Change("add", shape.name, _ddl_type(shape, engine)))
            messages.append(f"added column {table}.{shape.name} ({shape.describe(engine)})")
        elif not holds(found, shape, lengths=lengths):
            new, old = shape.describe(engine), found.describe(engine)
            what = f"column {shape.name} is {new} in the source, {old} in {table}"
            problems.append(f"retyped {what}")
            if holds(shape, found, lengths=lengths) and shape.type is not None:
                changes.append(Change("widen", shape.name, _ddl_type(shape, engine)))
                messages.append(f"widened column {table}.{shape.name} from {old} to {new}")
            elif full_refresh and shape.type is not None:
                changes.append(Change("retype", shape.name, _ddl_type(shape, engine)))
                messages.append(f"retyped column {table}.{shape.name} from {old} to {new} (full refresh)")
            else:
                incompatible.append(what)
    for name, found in target.items():
        if name in by_name:
            continue
        problems.append(f"dropped column {name} ({found.describe(engine)})")
        if not found.nullable:
            changes.append(Change("drop_not_null", name))
            messages.append(f"column {table}.{name} is no longer in the source: kept, NOT NULL dropped")
    if mode is DriftMode.FREEZE and problems:
        raise DriftError(
            f"the source of {table} differs from the table (drift mode freeze): " + "; ".join(problems),
            hint="change the contract and deploy it, or load with drift mode evolve",
            table=table,
        )
    if incompatible:
        raise DriftError(
            f"cannot change {table} without losing data: " + "; ".join(incompatible),
            hint="run with --full-refresh to empty the table and change the column types",
            table=table,
        )
    effective = _effective_contract(contract, incoming, target)
    return DriftPlan(effective, changes, messages)


def _as_contract_sees(shape: Shape, contract: Contract, *, exact_types: bool = True) -> Shape:
    """Text feeding a typed or length-limited contract column is parsed, not drift (see module doc)."""
    if shape.name not in contract.column_names:
        return Shape(shape.name, shape.type or string(), None if shape.type is None else shape.max_length)
    column = contract.column(shape.name)
    if not exact_types or shape.type is None or shape.type.kind is TypeKind.STRING:
        return Shape(shape.name, column.type, column.max_length)
    return Shape(shape.name, shape.type, None)


def _ddl_type(shape: Shape, engine: Engine) -> str:
    assert shape.type is not None
    return engine.sql_type(shape.type, max_length=shape.max_length)


def _effective_contract(contract: Contract, incoming: Sequence[Shape], target: dict[str, Shape]) -> Contract:
    delivered = {shape.name: shape for shape in incoming}
    columns: list[Column] = []
    for column in contract.columns:
        shape = delivered.get(column.name)
        if shape is None and column.name not in target:
            continue  # neither delivered nor stored: nothing to load
        update: dict[str, object] = {}
        if shape is None or column.name not in target:
            update["nullable"] = True
        if shape is not None and shape.type is not None:
            mine = Shape(column.name, column.type, column.max_length)
            if not holds(mine, shape, lengths=True):
                update["type"] = shape.type
                if shape.type.kind is TypeKind.STRING:
                    update["max_length"] = shape.max_length
                elif not _rules_fit(column, shape.type):
                    # The column became another kind (a number turned text...): its rules cannot apply.
                    update["max_length"] = None
                    update["min"] = update["max"] = update["accepted_values"] = update["pattern"] = None
        if shape is None and not update.get("nullable"):
            update["nullable"] = True
        columns.append(_changed(column, update) if update else column)
    known = set(contract.column_names)
    for shape in incoming:
        if shape.name not in known:
            columns.append(Column(name=shape.name, type=shape.type or string(), nullable=True))
    names = {c.name for c in columns}
    key = contract.primary_key if set(contract.primary_key) <= names else ()
    return contract.evolve(
        columns=tuple(
            c.model_copy(update={"primary_key": False}) if c.name not in key else c for c in columns
        ),
        primary_key=key,
        unique=tuple(k for k in contract.unique if set(k) <= names),
        temporal_exclude=tuple(n for n in contract.temporal_exclude if n in names),
    )


def _rules_fit(column: Column, wider: LogicalType) -> bool:
    """Whether `column`'s rules (range, accepted values, pattern) still apply at the wider type.

    A widened column keeps checking what the contract says: an int column with `max: 100` widened to
    bigint still rejects 150. Only when the kind changes so that a rule means nothing are they dropped.
    """
    try:
        _changed(column, {"type": wider, "max_length": None})
    except ValueError:  # pydantic's ValidationError: a rule that does not fit the type
        return False
    return True


def _changed(column: Column, update: dict[str, object]) -> Column:
    data = {name: getattr(column, name) for name in type(column).model_fields}
    data.update(update)
    if "type" in update:
        data["type"] = update["type"]
    return Column.model_validate(data)


# -- a contract against its deployed table (`datakit deploy --validate`) -----------------------------


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


def diff_schema(contract: Contract, live_columns: Sequence[LiveColumn], engine: Engine) -> list[Drift]:
    """Every difference between `contract` and the live columns, in contract order then table order.

    Types compare as `engine` stores them (DuckDB keeps `decimal` as DECIMAL(38,9) and ignores lengths);
    a type change is `widening` when every contract value still fits (`holds`)."""
    live = {column.name: column for column in live_columns}
    drifts: list[Drift] = []
    for column in contract.columns:
        found = live.get(column.name)
        if found is None:
            drifts.append(Drift(DriftKind.MISSING, column.name, expected=_expected(column, None)))
            continue
        lengths = (column.max_length, found.max_length)
        if found.type is None or not engine.same_type(column.type, found.type, lengths=lengths):
            want = Shape(column.name, column.type, column.max_length)
            drifts.append(
                Drift(
                    DriftKind.TYPE_CHANGED,
                    column.name,
                    expected=_expected(column, engine),
                    actual=found.db_type,
                    widening=holds(Shape.of(found), want, lengths=engine.keeps_lengths),
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
        Drift(DriftKind.EXTRA, column.name, actual=column.db_type)
        for column in live_columns
        if column.name not in names
    )
    return drifts


def _expected(column: Column, engine: Engine | None) -> str:
    """The contract's type for a message (with its length where the table keeps lengths, or it is missing)."""
    if column.max_length is not None and (engine is None or engine.keeps_lengths):
        return f"{column.type}, max length {column.max_length}"
    return str(column.type)
