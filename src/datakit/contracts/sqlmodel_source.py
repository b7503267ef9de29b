"""Contracts from SQLModel classes: the Python way of writing a datakit.

The class's SQLAlchemy table is the authority for what SQL sees (types, nullability, keys, names given
with `sa_column` or `sa_column_kwargs`); the Pydantic field adds what SQL types cannot say (ranges,
patterns, `Literal`/Enum accepted values, descriptions). Table-level facts that are not SQLAlchemy's
(layer, system, history) come from an optional `__datakit__ = TableOptions(...)` class attribute.
Nothing is special-cased per table: two classes that say the same thing give equal contracts.
"""

from __future__ import annotations

import enum
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from pydantic.fields import FieldInfo
from sqlmodel import SQLModel
from sqlmodel.main import get_column_from_field

from datakit.contracts.checks import ColumnRules, parse_check
from datakit.contracts.errors import ContractError
from datakit.contracts.mixins import TableMixin, declared_mixins
from datakit.contracts.model import Contract, Layer
from datakit.contracts.satypes import UnsupportedType, logical_from_sqlalchemy


@dataclass(frozen=True)
class TableOptions:
    """What a SQLModel class cannot say in SQLAlchemy terms; set as `__datakit__ = TableOptions(...)`."""

    layer: Layer | str = Layer.SOURCE
    system: str | None = None
    history: bool = False
    temporal_exclude: tuple[str, ...] = ()
    description: str | None = None


def contract_from_sqlmodel(
    model: type[SQLModel],
    *,
    layer: Layer | str | None = None,
    system: str | None = None,
    history: bool | None = None,
) -> Contract:
    """The contract of a `table=True` SQLModel class; keyword arguments override its `__datakit__`."""
    table = getattr(model, "__table__", None)
    if not isinstance(table, sa.Table):
        raise ContractError(
            f"{model.__qualname__} is not a table model",
            hint="declare it with `table=True` to give it columns",
        )
    options = getattr(model, "__datakit__", None) or TableOptions()
    if not isinstance(options, TableOptions):
        raise ContractError(
            f"{model.__qualname__}.__datakit__ must be a TableOptions, not {type(options).__name__}"
        )
    fields = _fields_by_column(model, table)
    mixins = declared_mixins(model)
    mixin_order: dict[str, int] = {}  # mixin fields in the order the mixins are listed, as a spec adds them
    for mixin in mixins:
        for name in mixin.model_fields:
            mixin_order.setdefault(name, len(mixin_order))
    field_of = {column: field_name for column, (field_name, _) in fields.items()}
    ordered = [c for c in table.columns if field_of.get(c.name) not in mixin_order]
    ordered += sorted(
        (c for c in table.columns if field_of.get(c.name) in mixin_order),
        key=lambda c: mixin_order[field_of[c.name]],
    )
    checks = _table_checks(table)
    columns = [
        _column(
            model.__qualname__, sa_column, fields.get(sa_column.name, ("", None))[1], table.schema, checks
        )
        for sa_column in ordered
    ]
    unique = [
        tuple(col.name for col in c.columns) for c in table.constraints if isinstance(c, sa.UniqueConstraint)
    ]
    unique += [tuple(col.name for col in ix.columns) for ix in table.indexes if ix.unique]
    temporal_exclude = [name for mixin in mixins for name in mixin.__temporal_exclude__]
    return build_contract(
        name=table.name,
        schema_name=table.schema,
        system=system if system is not None else options.system,
        layer=layer if layer is not None else options.layer,
        columns=columns,
        primary_key=tuple(col.name for col in table.primary_key.columns),
        unique=unique,
        mixins=[mixin.__datakit_mixin__ for mixin in mixins],
        history=history if history is not None else options.history,
        temporal_exclude=[*temporal_exclude, *options.temporal_exclude],
        description=options.description or (model.__doc__ or "").strip() or None,
    )


def field_columns(model: type[SQLModel]) -> dict[str, str]:
    """The column of each field of a table model, by field name (`sa_column` may name it otherwise)."""
    found = _fields_by_column(model, model.__table__)  # type: ignore[attr-defined]
    columns = {field_name: column for column, (field_name, _) in found.items()}
    return {name: columns.get(name, name) for name in model.model_fields}


def mixin_columns(mixin: type[TableMixin]) -> list[dict[str, Any]]:
    """The contract columns a mixin contributes, read exactly as they are read from a table class."""
    columns = []
    for field_name, info in mixin.model_fields.items():
        sa_column = get_column_from_field(info)
        sa_column.name = sa_column.name or field_name
        columns.append(_column(mixin.__qualname__, sa_column, info, None, {}))
    return columns


def build_contract(**fields: Any) -> Contract:
    """`Contract(**fields)`, with Pydantic's errors turned into one ContractError naming the table."""
    try:
        return Contract.model_validate(fields)
    except ValidationError as exc:
        raise contract_error(exc, str(fields.get("name") or "?")) from None


def contract_error(exc: ValidationError, contract: str) -> ContractError:
    """One ContractError listing every problem Pydantic found, each at its dotted location."""
    problems = [
        ".".join(str(part) for part in error["loc"]) + (": " if error["loc"] else "") + error["msg"]
        for error in exc.errors()
    ]
    return ContractError("invalid contract", contract=contract, problems=problems)


def _fields_by_column(model: type[SQLModel], table: sa.Table) -> dict[str, tuple[str, FieldInfo]]:
    """Pydantic field of each column, found through the mapper (column and field names may differ)."""
    mapper = sa.inspect(model, raiseerr=True)
    found: dict[str, tuple[str, FieldInfo]] = {}
    for field_name, info in model.model_fields.items():
        prop = mapper.attrs.get(field_name)
        for col in getattr(prop, "columns", ()):
            if isinstance(col, sa.Column) and col.table is table:
                found[col.name] = (field_name, info)
    return found


def _table_checks(table: sa.Table) -> dict[str, ColumnRules]:
    rules: dict[str, ColumnRules] = {}
    for constraint in table.constraints:
        if isinstance(constraint, sa.CheckConstraint):
            parsed = parse_check(str(constraint.sqltext)) or {}
            for name, found in parsed.items():
                rules[name] = rules.get(name, ColumnRules()).merge(found)
    return rules


def _column(
    owner: str,
    sa_column: sa.Column[Any],
    info: FieldInfo | None,
    own_schema: str | None,
    checks: dict[str, ColumnRules],
) -> dict[str, Any]:
    try:
        mapped = logical_from_sqlalchemy(sa_column.type)
    except UnsupportedType as exc:
        raise ContractError(str(exc), contract=owner, column=sa_column.name) from None
    rules = checks.get(sa_column.name, ColumnRules())
    column: dict[str, Any] = {
        "name": sa_column.name,
        "type": mapped.type,
        "nullable": bool(sa_column.nullable) and not sa_column.primary_key,
        "max_length": mapped.max_length or rules.max_length,
        "accepted_values": mapped.accepted_values or rules.accepted_values,
        "pattern": rules.pattern,
        "description": sa_column.comment,
        "primary_key": bool(sa_column.primary_key),
        "foreign_key": _foreign_key(owner, sa_column, own_schema),
    }
    if rules.min is not None:
        column.update(min=rules.min, min_exclusive=rules.min_exclusive)
    if rules.max is not None:
        column.update(max=rules.max, max_exclusive=rules.max_exclusive)
    if info is not None:
        column.update(_field_rules(info, column))
    return {key: value for key, value in column.items() if value is not None}


def _field_rules(info: FieldInfo, column: dict[str, Any]) -> dict[str, Any]:
    """Rules from the Pydantic side: annotated-types bounds, pattern, Literal or Enum values."""
    found: dict[str, Any] = {}
    if info.description:
        found["description"] = info.description
    for meta in info.metadata:
        for attr, key, exclusive in (
            ("ge", "min", False),
            ("gt", "min", True),
            ("le", "max", False),
            ("lt", "max", True),
        ):
            bound = getattr(meta, attr, None)
            if bound is not None:
                found[key] = bound
                found[f"{key}_exclusive"] = exclusive
        if getattr(meta, "pattern", None) is not None:
            found["pattern"] = str(meta.pattern)
        if getattr(meta, "max_length", None) is not None and column.get("max_length") is None:
            found["max_length"] = meta.max_length
    # SQLModel's Field(regex=...) is accepted but not passed on to Pydantic 2; it is kept here only.
    regex = getattr(info, "_attributes_set", {}).get("regex")
    if regex and "pattern" not in found:
        found["pattern"] = regex
    if column.get("accepted_values") is None:
        values = _annotation_values(info.annotation)
        if values is not None:
            found["accepted_values"] = values
    return found


def _annotation_values(annotation: Any) -> tuple[Any, ...] | None:
    """Accepted values stated by a `Literal[...]` or Enum annotation (under Optional/Annotated)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return typing.get_args(annotation)
    if origin is typing.Annotated:
        return _annotation_values(typing.get_args(annotation)[0])
    if origin is not None:  # Optional[X] / X | None
        inner = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return _annotation_values(inner[0]) if len(inner) == 1 else None
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return tuple(member.value for member in annotation)
    return None


def _foreign_key(owner: str, sa_column: sa.Column[Any], own_schema: str | None) -> str | None:
    targets: Iterable[sa.ForeignKey] = sa_column.foreign_keys
    names: list[str] = sorted(str(fk.target_fullname) for fk in targets)
    if not names:
        return None
    if len(names) > 1:
        raise ContractError(
            f"references {len(names)} columns ({', '.join(names)}); a contract column references one",
            contract=owner,
            column=sa_column.name,
        )
    parts = names[0].split(".")
    if len(parts) == 3 and parts[0] == own_schema:
        return ".".join(parts[1:])
    return names[0]
