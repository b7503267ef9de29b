"""`Contract` and `Column`: the typed, engine-neutral description of one table.

Every other part of datakit reads contracts and never a SQLModel class or a YAML mapping directly, so
the two ways of writing a contract (`sqlmodel_source.py`, `spec.py`) and reflection (`reflect.py`) all
end here, and equal definitions give equal (==, hashable) contracts. To make that hold, the model puts
what it is given into one canonical form: range bounds are coerced to the column's Python type
(exclusive integer bounds become inclusive), primary-key columns are flagged and NOT NULL, unique keys
are deduplicated and sorted by column position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from datakit.contracts.types import ORDERED_KINDS, LogicalType, TypeKind, parse_type
from datakit.errors import did_you_mean

Bound = Decimal | int | float | datetime | date | time
VALUE_LIST_KINDS = frozenset({TypeKind.STRING, TypeKind.INTEGER, TypeKind.DECIMAL})  # accepted_values
Value = str | int | Decimal


class Layer(StrEnum):
    """Where a table lives: `source` describes a system as it is; the others are warehouse layers."""

    SOURCE = "source"
    BRONZE = "bronze"
    SILVER = "silver"
    GOLD = "gold"


@dataclass(frozen=True)
class LayerRules:
    """Which of a contract's rules the database itself enforces, per layer.

    Bronze: column types and NOT NULL only. Bronze keeps every version of a row (append, history) and
    loads in parallel, so primary, unique and foreign keys cannot hold there, and the loader has already
    validated each row, so CHECKs would only slow bulk loads down; the keys still drive merges. Silver,
    gold and source: everything (keys, NOT NULL, foreign keys, CHECKs for ranges, accepted values,
    patterns and lengths).
    """

    primary_key: bool = True
    not_null: bool = True
    unique: bool = True
    foreign_keys: bool = True
    checks: bool = True
    comments: bool = True

    @classmethod
    def for_layer(cls, layer: Layer | str) -> LayerRules:
        if Layer(layer) is Layer.BRONZE:
            return cls(primary_key=False, unique=False, foreign_keys=False, checks=False)
        return cls()


class Rule(StrEnum):
    """What a value can break, in the order the validator checks (a row reports the first it breaks)."""

    TYPE = "type"
    NOT_NULL = "not_null"
    MAX_LENGTH = "max_length"
    RANGE = "range"
    ACCEPTED_VALUES = "accepted_values"
    PATTERN = "pattern"


class Column(BaseModel):
    """One column: its logical type and the rules every value must keep."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    type: LogicalType
    nullable: bool = True
    max_length: int | None = Field(default=None, ge=1)
    min: Bound | None = None
    max: Bound | None = None
    min_exclusive: bool = False
    max_exclusive: bool = False
    accepted_values: tuple[Value, ...] | None = None
    pattern: str | None = None  # searched, not anchored (RE2 via Arrow; `~` in PostgreSQL): use ^...$
    description: str | None = None
    primary_key: bool = False
    foreign_key: str | None = None  # "table.column", or "schema.table.column" across schemas

    @model_validator(mode="before")
    @classmethod
    def _coerce_values(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "type" not in data:
            return data
        data = dict(data)
        logical = data["type"] if isinstance(data["type"], LogicalType) else parse_type(str(data["type"]))
        data["type"] = logical
        has_range = data.get("min") is not None or data.get("max") is not None
        if has_range and logical.kind not in ORDERED_KINDS:
            raise ValueError(f"min/max apply to numeric and temporal columns, not {logical}")
        if data.get("accepted_values") is not None and logical.kind not in VALUE_LIST_KINDS:
            raise ValueError(f"accepted_values apply to string, integer and decimal columns, not {logical}")
        for key in ("min", "max"):
            if data.get(key) is not None:
                data[key] = coerce_value(logical, data[key], what=key)
        if data.get("accepted_values") is not None:
            data["accepted_values"] = tuple(
                coerce_value(logical, value, what="accepted value") for value in data["accepted_values"]
            )
        if logical.kind is TypeKind.INTEGER:  # exclusive integer bounds have one inclusive spelling
            if data.get("min_exclusive") and data.get("min") is not None:
                data["min"], data["min_exclusive"] = data["min"] + 1, False
            if data.get("max_exclusive") and data.get("max") is not None:
                data["max"], data["max_exclusive"] = data["max"] - 1, False
        return data

    @model_validator(mode="after")
    def _check_rules(self) -> Column:
        kind = self.type.kind
        if self.max_length is not None and kind is not TypeKind.STRING:
            raise ValueError(f"max_length applies to string columns, not {self.type}")
        if self.pattern is not None:
            if not self.type.is_string_like:
                raise ValueError(f"pattern applies to string columns, not {self.type}")
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(
                    f"pattern {self.pattern!r} is not a valid regular expression: {exc}"
                ) from exc
        if self.min is not None and self.max is not None and self.min > self.max:  # type: ignore[operator]
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        if self.accepted_values is not None:
            if kind not in (TypeKind.STRING, TypeKind.INTEGER, TypeKind.DECIMAL):
                raise ValueError(
                    f"accepted_values apply to string, integer and decimal columns, not {self.type}"
                )
            if not self.accepted_values:
                raise ValueError("accepted_values is empty: no value could ever be accepted")
        if self.foreign_key is not None and not 2 <= len(self.foreign_key.split(".")) <= 3:
            raise ValueError(
                f"foreign_key must be 'table.column' or 'schema.table.column', not {self.foreign_key!r}"
            )
        return self

    @property
    def references(self) -> tuple[str | None, str, str] | None:
        """The foreign key as (schema or None, table, column)."""
        if self.foreign_key is None:
            return None
        parts = self.foreign_key.split(".")
        return (None, parts[0], parts[1]) if len(parts) == 2 else (parts[0], parts[1], parts[2])


class Contract(BaseModel):
    """One table's contract: ordered columns, keys, and how its history is kept."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    columns: tuple[Column, ...] = Field(min_length=1)
    system: str | None = None
    schema_name: str | None = None
    layer: Layer = Layer.SOURCE
    primary_key: tuple[str, ...] = ()
    unique: tuple[tuple[str, ...], ...] = ()
    mixins: tuple[str, ...] = ()
    history: bool = False
    temporal_exclude: tuple[str, ...] = ()
    description: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _canonical(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "columns" not in data:
            return data
        data = dict(data)
        columns = [Column.model_validate(column) for column in data["columns"]]
        names = [column.name for column in columns]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"duplicate column names: {', '.join(duplicates)}")
        position = {name: index for index, name in enumerate(names)}

        def known(cols: tuple[str, ...], what: str) -> tuple[str, ...]:
            for col in cols:
                if col not in position:
                    hint = did_you_mean(col, names)
                    raise ValueError(f"{what} names unknown column {col!r}" + (f" ({hint})" if hint else ""))
            return cols

        flagged = tuple(column.name for column in columns if column.primary_key)
        primary_key = known(tuple(data.get("primary_key") or ()) or flagged, "primary_key")
        if len(set(primary_key)) != len(primary_key):
            raise ValueError(f"primary_key repeats a column: {list(primary_key)}")
        if flagged and set(flagged) != set(primary_key):
            raise ValueError(
                f"primary_key {list(primary_key)} disagrees with the columns flagged {list(flagged)}"
            )
        keys: list[tuple[str, ...]] = []
        for key in (tuple(key) for key in data.get("unique") or ()):
            if not known(key, "unique") or len(set(key)) != len(key):
                raise ValueError(f"unique key {list(key)} is empty or repeats a column")
            if key not in keys and key != primary_key:
                keys.append(key)
        keys.sort(key=lambda key: [position[col] for col in key])
        excluded = known(tuple(data.get("temporal_exclude") or ()), "temporal_exclude")
        data["columns"] = tuple(
            column.model_copy(update={"primary_key": True, "nullable": False})
            if column.name in primary_key and (not column.primary_key or column.nullable)
            else column
            for column in columns
        )
        data["primary_key"] = primary_key
        data["unique"] = tuple(keys)
        data["temporal_exclude"] = tuple(sorted(set(excluded), key=position.__getitem__))
        data["mixins"] = tuple(dict.fromkeys(data.get("mixins") or ()))
        return data

    # -- reading ---------------------------------------------------------------------------------------

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def column(self, name: str) -> Column:
        """The column called `name`; a ContractError with a suggestion when there is none."""
        for column in self.columns:
            if column.name == name:
                return column
        from datakit.contracts.errors import ContractError

        raise ContractError(
            f"no column {name!r}", contract=self.name, hint=did_you_mean(name, self.column_names)
        )

    def evolve(self, **changes: Any) -> Contract:
        """A changed copy, validated and canonicalised again (`model_copy` would skip both)."""
        fields = {name: getattr(self, name) for name in type(self).model_fields}
        return Contract.model_validate({**fields, **changes})

    @property
    def change_columns(self) -> tuple[str, ...]:
        """Columns whose change makes a new version of a row (all but `temporal_exclude`)."""
        return tuple(name for name in self.column_names if name not in self.temporal_exclude)

    @property
    def qualified_name(self) -> str:
        return ".".join(part for part in (self.system, self.schema_name, self.name) if part)


# -- coercion of rule values to the column's type ---------------------------------------------------------


def coerce_value(logical: LogicalType, value: Any, *, what: str) -> Any:
    """A bound or accepted value as the Python type of `logical`; ValueError when it cannot be one."""
    coerce = _COERCERS.get(logical.kind)
    if coerce is None:
        raise ValueError(f"{what} {value!r}: {logical} columns take no {what}")
    if isinstance(value, bool):  # True is an int to Python, never a number to a contract
        raise ValueError(f"{what} {value!r} is not a valid {logical}")
    try:
        return coerce(value)
    except _NaiveExpected as exc:
        raise ValueError(f"{what} {value!r} has a time zone but the column is a naive timestamp") from exc
    except (TypeError, ValueError, InvalidOperation) as exc:
        raise ValueError(f"{what} {value!r} is not a valid {logical}") from exc


class _NaiveExpected(Exception):
    pass


def _as_int(value: Any) -> int:
    if isinstance(value, int):
        return value
    number = Decimal(str(value))
    if number != number.to_integral_value():
        raise ValueError
    return int(number)


def _as_decimal(value: Any) -> Decimal:
    return Decimal(str(value)) if isinstance(value, float) else Decimal(value)


def _as_text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError
    return value


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        raise TypeError
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _as_time(value: Any) -> time:
    return value if isinstance(value, time) else time.fromisoformat(str(value))


def _as_datetime(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _as_naive(value: Any) -> datetime:
    stamp = _as_datetime(value)
    if stamp.tzinfo is not None:
        raise _NaiveExpected
    return stamp


def _as_utc(value: Any) -> datetime:
    stamp = _as_datetime(value)
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


_COERCERS: dict[TypeKind, Any] = {
    TypeKind.INTEGER: _as_int,
    TypeKind.FLOAT: float,
    TypeKind.DECIMAL: _as_decimal,
    TypeKind.STRING: _as_text,
    TypeKind.JSON: _as_text,
    TypeKind.UUID: _as_text,
    TypeKind.DATE: _as_date,
    TypeKind.TIME: _as_time,
    TypeKind.TIMESTAMP: _as_naive,
    TypeKind.TIMESTAMPTZ: _as_utc,
}
