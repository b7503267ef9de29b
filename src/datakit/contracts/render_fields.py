"""How one contract column is written as a SQLModel field, and what the module must import for it.

The inverse of `sqlmodel_source.py`: every choice here (an `sa_type`, a `Literal`, `schema_extra` for a
pattern) exists so that reading the field back gives the same contract column.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from datetime import date, time
from decimal import Decimal
from typing import Any

from sqlmodel import SQLModel

from datakit.contracts.mixins import mixin_class
from datakit.contracts.model import Column, Contract
from datakit.contracts.types import LogicalType, TypeKind

_MODEL_ATTRIBUTES = set(dir(SQLModel)) | {"metadata", "registry"}
_ANNOTATIONS = {
    TypeKind.STRING: "str",
    TypeKind.INTEGER: "int",
    TypeKind.FLOAT: "float",
    TypeKind.DECIMAL: "decimal.Decimal",
    TypeKind.BOOLEAN: "bool",
    TypeKind.DATE: "datetime.date",
    TypeKind.TIME: "datetime.time",
    TypeKind.TIMESTAMP: "datetime.datetime",
    TypeKind.TIMESTAMPTZ: "datetime.datetime",
    TypeKind.BINARY: "bytes",
    TypeKind.JSON: "Any",
    TypeKind.UUID: "uuid.UUID",
    TypeKind.INTERVAL: "datetime.timedelta",
}


@dataclass
class Imports:
    """The names a generated module needs, collected while its classes are written."""

    names: set[str] = field(default_factory=set)

    def lines(self, body: str) -> list[str]:
        plain = [f"import {name}" for name in ("datetime", "decimal", "uuid") if name in self.names]
        typing = sorted(self.names & {"Any", "ClassVar", "Literal"})
        third_party = ["import sqlalchemy as sa"] if re.search(r"\bsa\.", body) else []
        third_party += ["from sqlmodel import Field"] if "Field(" in body else []
        ours = ["from datakit.contracts import TableOptions"]
        ours += [f"from {cls.__module__} import {cls.__qualname__}" for cls in self._mixins()]
        groups = [
            [*plain, *([f"from typing import {', '.join(typing)}"] if typing else [])],
            third_party,
            ours,
        ]
        groups.append(["from ._base import Base"])
        lines: list[str] = []
        for group in (group for group in groups if group):
            lines += [*([""] if lines else []), *group]
        return lines

    def _mixins(self) -> list[type]:
        return [
            mixin_class(name[len("mixin:") :]) for name in sorted(self.names) if name.startswith("mixin:")
        ]


def check_only_rules(column: Column) -> Column | None:
    """The rules of `column` that its Field cannot state, as a column holding only those."""
    values = column.accepted_values if not _literal_values(column) else None
    pattern = column.pattern if column.type.kind is not TypeKind.STRING or _literal_values(column) else None
    if values is None and pattern is None:
        return None
    return Column(name=column.name, type=column.type, accepted_values=values, pattern=pattern)


def _literal_values(column: Column) -> bool:
    """Whether `Literal[...]` can state the column's accepted values (str and int only)."""
    return column.accepted_values is not None and column.type.kind in (TypeKind.STRING, TypeKind.INTEGER)


def field_line(contract: Contract, column: Column, imports: Imports) -> str:
    """The class-body line declaring `column` as a SQLModel field."""
    name = _field_name(column.name)
    annotation = _annotation(column, imports) + (" | None" if column.nullable else "")
    kwargs = [
        *(["default=None"] if column.nullable else []),
        *(["primary_key=True"] if column.primary_key and in_column_order(contract) else []),
        *_type_kwargs(column),
        *_rule_kwargs(column, imports),
        *_reference_kwargs(contract, column),
    ]
    if name != column.name:
        kwargs.append(f"sa_column_kwargs={{'name': {column.name!r}}}")
    if not kwargs:
        return f"{name}: {annotation}"
    if kwargs == ["default=None"]:
        return f"{name}: {annotation} = None"
    return f"{name}: {annotation} = Field({', '.join(kwargs)})"


def _type_kwargs(column: Column) -> list[str]:
    kwargs = []
    sa_type = _sa_type(column)
    if sa_type:
        kwargs.append(f"sa_type={sa_type}")
    if column.type.kind is TypeKind.JSON:  # `Any` says nothing about None, so say it
        kwargs.append(f"nullable={column.nullable}")
    if column.type.kind is TypeKind.DECIMAL and column.type.precision is not None:
        kwargs += [f"max_digits={column.type.precision}", f"decimal_places={column.type.scale}"]
    return kwargs


def _rule_kwargs(column: Column, imports: Imports) -> list[str]:
    kwargs = []
    if column.max_length is not None and not _literal_values(column):
        kwargs.append(f"max_length={column.max_length}")
    for bound, exclusive, strict, loose in (
        (column.min, column.min_exclusive, "gt", "ge"),
        (column.max, column.max_exclusive, "lt", "le"),
    ):
        if bound is not None:
            imports.names.update(_value_imports(bound))
            kwargs.append(f"{strict if exclusive else loose}={_python(bound)}")
    if column.pattern is not None and column.type.kind is TypeKind.STRING and not _literal_values(column):
        kwargs.append(f"schema_extra={{'pattern': {column.pattern!r}}}")
    return kwargs


def _reference_kwargs(contract: Contract, column: Column) -> list[str]:
    kwargs = []
    if column.foreign_key is not None:
        target = column.foreign_key
        if len(target.split(".")) == 2 and contract.schema_name is not None:
            target = f"{contract.schema_name}.{target}"
        kwargs.append(f"foreign_key={target!r}")
    if column.description:
        kwargs.append(f"description={column.description!r}")
    return kwargs


def _annotation(column: Column, imports: Imports) -> str:
    if _literal_values(column):
        imports.names.add("Literal")
        assert column.accepted_values is not None
        return f"Literal[{', '.join(repr(value) for value in column.accepted_values)}]"
    return _python_type(column.type, imports)


def _python_type(logical: LogicalType, imports: Imports) -> str:
    if logical.kind is TypeKind.ARRAY:
        assert logical.item is not None
        return f"list[{_python_type(logical.item, imports)}]"
    annotation = _ANNOTATIONS[logical.kind]
    imports.names.add(annotation.split(".")[0])
    return annotation


def _sa_type(column: Column) -> str | None:
    """The `sa_type` to pass where SQLModel would derive a different SQL type from the annotation."""
    logical = column.type
    kind = logical.kind
    if kind is TypeKind.INTEGER and logical.bits != 32:
        return "sa.SmallInteger" if logical.bits == 16 else "sa.BigInteger"
    if kind is TypeKind.FLOAT and logical.bits == 32:
        return "sa.REAL"
    if kind is TypeKind.TIMESTAMP:
        return "sa.DateTime"  # SQLModel's default for datetime is zone-aware
    if kind is TypeKind.JSON:
        return "sa.JSON"
    if kind is TypeKind.ARRAY:
        return f"sa.ARRAY({_sa_scalar(logical.item)})"
    if _literal_values(column):
        if kind is TypeKind.INTEGER:
            return "sa.Integer"
        return f"sa.String({column.max_length})" if column.max_length else "sa.Text"
    return None


def _sa_scalar(logical: LogicalType | None) -> str:
    assert logical is not None
    names = {
        TypeKind.STRING: "sa.Text",
        TypeKind.BOOLEAN: "sa.Boolean",
        TypeKind.DATE: "sa.Date",
        TypeKind.TIME: "sa.Time",
        TypeKind.TIMESTAMP: "sa.DateTime",
        TypeKind.TIMESTAMPTZ: "sa.DateTime(timezone=True)",
        TypeKind.BINARY: "sa.LargeBinary",
        TypeKind.JSON: "sa.JSON",
        TypeKind.UUID: "sa.Uuid",
        TypeKind.INTERVAL: "sa.Interval",
    }
    if logical.kind is TypeKind.INTEGER:
        return {16: "sa.SmallInteger", 32: "sa.Integer", 64: "sa.BigInteger"}[logical.bits or 32]
    if logical.kind is TypeKind.FLOAT:
        return "sa.REAL" if logical.bits == 32 else "sa.Double"
    if logical.kind is TypeKind.DECIMAL:
        return (
            f"sa.Numeric({logical.precision}, {logical.scale})"
            if logical.precision is not None
            else "sa.Numeric"
        )
    return names[logical.kind]


def _python(value: Any) -> str:
    """Python source for a rule value."""
    if isinstance(value, Decimal):
        return f"decimal.Decimal({str(value)!r})"
    if isinstance(value, date | time):  # datetime too; an aware one keeps its offset in the text
        return f"datetime.{type(value).__name__}.fromisoformat({value.isoformat()!r})"
    return repr(value)


def _value_imports(value: Any) -> set[str]:
    if isinstance(value, Decimal):
        return {"decimal"}
    if isinstance(value, date | time):
        return {"datetime"}
    return set()


def _field_name(column: str) -> str:
    """`column` when it is a usable attribute name; otherwise a close one (SQL keeps the real name)."""
    usable = column.isidentifier() and not keyword.iskeyword(column) and not column.startswith("_")
    if usable and column not in _MODEL_ATTRIBUTES:
        return column
    name = re.sub(r"\W", "_", column).strip("_") or "column"
    if name[0].isdigit() or keyword.iskeyword(name):
        name = f"column_{name}"
    while name in _MODEL_ATTRIBUTES:
        name += "_"
    return name


def in_column_order(contract: Contract) -> bool:
    """Whether the primary key lists its columns in table order (so `primary_key=True` can state it)."""
    flagged = [column.name for column in contract.columns if column.primary_key]
    return flagged == list(contract.primary_key)
