"""Reusable column groups for SQLModel datakits, usable exactly as the datakit seeds show:

    class Customer(TransactionalTableMixin, SQLModel, table=True):
        customer_id: int = Field(primary_key=True)

A mixin is a non-table SQLModel class deriving from `TableMixin` that names itself in
`__datakit_mixin__`; that name is what a YAML spec lists under `mixins:` to get the same columns, and what
a contract records in `Contract.mixins`. Columns a mixin lists in `__temporal_exclude__` change on every
write without the row changing, so change detection ignores them. Columns it lists in `__load_times__`
are the loader's to fill where a row has no value of its own (`datakit.load.times`). Mixin columns come
after the table's own columns in a contract, whichever route built it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import ClassVar

from sqlmodel import Field, SQLModel

from datakit.contracts.errors import ContractError
from datakit.errors import did_you_mean


def utcnow() -> datetime:
    """The current time, zone-aware in UTC (timestamptz columns refuse naive datetimes)."""
    return datetime.now(UTC)


class LoadTime(StrEnum):
    """Which load's time the loader writes into a mixin column a row leaves empty."""

    FIRST = "first"
    """The load that first wrote the row's key; later versions of the key keep it."""
    LATEST = "latest"
    """The load that wrote this version: a new key, or a change of the row's change columns."""


class TableMixin(SQLModel):
    """Base of datakit mixins; subclasses that set `__datakit_mixin__` are found by name."""

    __datakit_mixin__: ClassVar[str | None] = None
    __temporal_exclude__: ClassVar[tuple[str, ...]] = ()
    __load_times__: ClassVar[dict[str, LoadTime]] = {}


class TransactionalTableMixin(TableMixin):
    """When a row was created and last changed in its system, and when this copy of it was written.

    A value the source (or a typed transform) gives is the system's truth and is kept. Where a row has
    none (the source lacks the column, gives NULL, or a transform leaves the default), the loader fills
    it: `created_at` with the time its key was first loaded, `updated_at` and `systime` with the time
    of the load that wrote this version. None of the three is a change of the row: a load that changes
    only them writes no new version and leaves the stored row as it is.
    """

    __datakit_mixin__: ClassVar[str | None] = "transactional"
    __temporal_exclude__: ClassVar[tuple[str, ...]] = ("created_at", "updated_at", "systime")
    __load_times__: ClassVar[dict[str, LoadTime]] = {
        "created_at": LoadTime.FIRST,
        "updated_at": LoadTime.LATEST,
        "systime": LoadTime.LATEST,
    }

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


def load_times(mixins: Iterable[str | type[TableMixin]]) -> dict[str, LoadTime]:
    """The columns the loader fills for these mixins (names or classes), and with which load's time."""
    times: dict[str, LoadTime] = {}
    for mixin in mixins:
        times.update((mixin_class(mixin) if isinstance(mixin, str) else mixin).__load_times__)
    return times


def declared_mixins(model: type[object]) -> list[type[TableMixin]]:
    """The mixins `model` inherits, in method resolution order."""
    return [
        cls
        for cls in model.__mro__
        if isinstance(cls, type) and issubclass(cls, TableMixin) and cls.__dict__.get("__datakit_mixin__")
    ]
