"""Reusable column groups for SQLModel datakits, usable exactly as the datakit seeds show:

    class Customer(TransactionalTableMixin, SQLModel, table=True):
        customer_id: int = Field(primary_key=True)

A mixin is a non-table SQLModel class deriving from `TableMixin` that names itself in
`__datakit_mixin__`; that name is what a YAML spec lists under `mixins:` to get the same columns, and what
a contract records in `Contract.mixins`. Columns a mixin lists in `__temporal_exclude__` change on every
write without the row changing, so change detection ignores them. Mixin columns come after the table's
own columns in a contract, whichever route built it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

from sqlmodel import Field, SQLModel

from datakit.contracts.errors import ContractError
from datakit.errors import did_you_mean


def utcnow() -> datetime:
    """The current time, zone-aware in UTC (timestamptz columns refuse naive datetimes)."""
    return datetime.now(UTC)


class TableMixin(SQLModel):
    """Base of datakit mixins; subclasses that set `__datakit_mixin__` are found by name."""

    __datakit_mixin__: ClassVar[str | None] = None
    __temporal_exclude__: ClassVar[tuple[str, ...]] = ()


class TransactionalTableMixin(TableMixin):
    """When a row was created and last changed in its system, and when this copy of it was written."""

    __datakit_mixin__: ClassVar[str | None] = "transactional"
    __temporal_exclude__: ClassVar[tuple[str, ...]] = ("systime",)

    created_at: datetime = Field(
        default_factory=utcnow, nullable=False, description="When the row was created in its system."
    )
    updated_at: datetime = Field(
        default_factory=utcnow, nullable=False, description="When the row last changed in its system."
    )
    systime: datetime = Field(
        default_factory=utcnow,
        nullable=False,
        description="When this version of the row was written here; ignored by change detection.",
    )


def mixin_registry() -> dict[str, type[TableMixin]]:
    """Every mixin class defined so far (imported modules only), by its `__datakit_mixin__` name."""
    found: dict[str, type[TableMixin]] = {}
    pending: list[type[TableMixin]] = [TableMixin]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        name = cls.__dict__.get("__datakit_mixin__")
        if isinstance(name, str) and name not in found:
            found[name] = cls
    return found


def mixin_class(name: str) -> type[TableMixin]:
    """The mixin called `name`, or a ContractError that lists the known ones."""
    registry = mixin_registry()
    if name in registry:
        return registry[name]
    hint = did_you_mean(name, registry) or f"known mixins: {', '.join(sorted(registry))}"
    raise ContractError(f"unknown mixin {name!r}", hint=hint)


def declared_mixins(model: type[object]) -> list[type[TableMixin]]:
    """The mixins `model` inherits, in method resolution order."""
    return [
        cls
        for cls in model.__mro__
        if isinstance(cls, type) and issubclass(cls, TableMixin) and cls.__dict__.get("__datakit_mixin__")
    ]
