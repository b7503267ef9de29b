"""Contracts from a YAML table spec: the declarative way of writing a datakit.

    table: customer
    layer: bronze
    primary_key: [customer_id]
    history: true
    columns:
      customer_id: {type: integer, nullable: false}
      email: {type: string, max_length: 50, pattern: '^[^@]+@[^@]+$'}
      amount: {type: decimal, precision: 5, scale: 2, min: 0}

The spec models are strict (`extra="forbid"`) so a misspelt key is an error, not a silently ignored rule;
the config layer validates project files with them and gets JSON Schema for editors from them. Listing a
mixin adds its columns after the spec's own, as inheriting it does for a SQLModel class, so a spec and
a class that say the same thing give equal contracts.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from datakit.contracts.errors import ContractError
from datakit.contracts.model import Contract, Layer
from datakit.contracts.types import LogicalType, TypeKind, array, decimal, floating, integer, parse_type

SpecBound = int | Decimal | float | datetime | date | time | str


class ColumnSpec(BaseModel):
    """One column of a table spec."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str = Field(description="string, integer, float, decimal, boolean, date, time, timestamp, ...")
    size: Literal[16, 32, 64] | None = Field(default=None, description="bits of an integer or float")
    precision: int | None = Field(default=None, ge=1, description="total digits of a decimal")
    scale: int | None = Field(default=None, ge=0, description="digits after the point of a decimal")
    items: str | None = Field(default=None, description="item type of an array")
    nullable: bool | None = Field(default=None, description="default true, false for primary key columns")
    max_length: int | None = Field(default=None, ge=1)
    min: SpecBound | None = None
    max: SpecBound | None = None
    min_exclusive: bool = False
    max_exclusive: bool = False
    accepted_values: list[str | int | Decimal] | None = None
    pattern: str | None = Field(
        default=None, description="regular expression searched in the value; use ^...$"
    )
    description: str | None = None
    primary_key: bool = False
    unique: bool = False
    foreign_key: str | None = Field(default=None, description="'table.column' or 'schema.table.column'")


class TableSpec(BaseModel):
    """A table spec: the YAML form of a contract."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    table: str = Field(min_length=1)
    system: str | None = None
    schema_: str | None = Field(default=None, alias="schema")
    layer: Layer = Layer.SOURCE
    description: str | None = None
    primary_key: list[str] = Field(default_factory=list)
    unique: list[list[str]] = Field(default_factory=list)
    mixins: list[str] = Field(default_factory=list)
    history: bool = False
    temporal_exclude: list[str] = Field(default_factory=list)
    columns: dict[str, ColumnSpec] = Field(min_length=1)


def contract_from_spec(spec: Mapping[str, Any] | TableSpec) -> Contract:
    """The contract a table spec describes; a ContractError lists every problem found."""
    name = str(spec.get("table") or "?") if isinstance(spec, Mapping) else spec.table
    try:
        table = spec if isinstance(spec, TableSpec) else TableSpec.model_validate(dict(spec))
    except ValidationError as exc:
        from datakit.contracts.sqlmodel_source import contract_error

        raise contract_error(exc, name) from None
    return _contract(table)


def _contract(table: TableSpec) -> Contract:
    from datakit.contracts.mixins import mixin_class
    from datakit.contracts.sqlmodel_source import build_contract, mixin_columns

    problems: list[str] = []
    primary_key = table.primary_key or [name for name, col in table.columns.items() if col.primary_key]
    columns: list[dict[str, Any]] = []
    for name, col in table.columns.items():
        try:
            columns.append(_column(name, col, in_primary_key=name in primary_key))
        except ValueError as exc:
            problems.append(f"columns.{name}: {exc}")
    temporal_exclude = list(table.temporal_exclude)
    for mixin_name in table.mixins:
        mixin = mixin_class(mixin_name)
        for column in mixin_columns(mixin):
            if column["name"] in table.columns:
                problems.append(f"columns.{column['name']}: also defined by mixin {mixin_name!r}")
            columns.append(column)
        temporal_exclude.extend(mixin.__temporal_exclude__)
    if problems:
        raise ContractError("invalid table spec", contract=table.table, problems=problems)
    return build_contract(
        name=table.table,
        system=table.system,
        schema_name=table.schema_,
        layer=table.layer,
        description=table.description,
        columns=columns,
        primary_key=tuple(primary_key),
        unique=[*table.unique, *([name] for name, col in table.columns.items() if col.unique)],
        mixins=table.mixins,
        history=table.history,
        temporal_exclude=temporal_exclude,
    )


def _column(name: str, spec: ColumnSpec, *, in_primary_key: bool) -> dict[str, Any]:
    if in_primary_key and spec.nullable:
        raise ValueError("a primary key column cannot be nullable")
    column: dict[str, Any] = {
        "name": name,
        "type": _logical_type(spec),
        "nullable": (not in_primary_key) if spec.nullable is None else spec.nullable,
        "primary_key": in_primary_key,
        **spec.model_dump(
            include={"max_length", "pattern", "description", "foreign_key", "min_exclusive", "max_exclusive"},
            exclude_none=True,
        ),
    }
    for key in ("min", "max", "accepted_values"):
        if getattr(spec, key) is not None:
            column[key] = getattr(spec, key)
    return column


def _logical_type(spec: ColumnSpec) -> LogicalType:
    if spec.type.strip().lower() == "array":  # `type: array` + `items: T`; `array<T>` and `T[]` parse whole
        if spec.items is None:
            raise ValueError("an array needs `items`, its item type")
        return array(parse_type(spec.items))
    if spec.items is not None:
        raise ValueError(f"items applies to array, not {spec.type}")
    declared = parse_type(spec.type)
    kind = declared.kind
    if spec.size is not None:
        if kind not in (TypeKind.INTEGER, TypeKind.FLOAT):
            raise ValueError(f"size applies to integer and float, not {spec.type}")
        declared = integer(spec.size) if kind is TypeKind.INTEGER else floating(spec.size)
    if spec.precision is not None or spec.scale is not None:
        if kind is not TypeKind.DECIMAL:
            raise ValueError(f"precision and scale apply to decimal, not {spec.type}")
        if spec.precision is None:
            raise ValueError("scale needs a precision")
        wanted = decimal(spec.precision, spec.scale or 0)
        if declared.precision is not None and declared != wanted:
            raise ValueError(
                f"type {spec.type} disagrees with precision {spec.precision} and scale {spec.scale}"
            )
        declared = wanted
    return declared
