"""Mixin columns the loader fills: the transactional mixin's `created_at`, `updated_at` and `systime`.

A value the row brings (from the source, or set by a typed transform) is the system's truth and is
kept. Where the row has none (the source lacks the column, gives NULL, or a transform leaves the
mixin's default), the loader fills it with a load's time (`datakit.contracts.mixins.LoadTime`):

* LATEST columns (`updated_at`, `systime`) get this load's time. They are only ever written with a new
  key or a changed row (the columns are not change columns, so an unchanged row is not rewritten), so
  that is the time of this version. Filled on the reader's thread, in Arrow, before the write.
* FIRST columns (`created_at`) keep the stored row's value: a merge keeps the target row's, a history
  version keeps the key's current version's, and a key seen for the first time gets this load's time.
  A staged load leaves them NULL in the stage and the statements that write the target and the history
  take `COALESCE(stage, stored, load time)` (`KeepFirst`, `datakit.connectors.writes`): one more
  expression in statements that run anyway. A load
  that writes straight into the target (append, or replace without history) has no stored row to
  keep, so there they get this load's time in Arrow like the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from datakit.connectors.writes import KeepFirst

if TYPE_CHECKING:
    import pyarrow as pa

    from datakit.contracts.model import Contract


@dataclass(frozen=True)
class LoadTimes:
    """The mixin columns one load fills, and the load's time."""

    at: datetime
    first: tuple[str, ...] = ()
    latest: tuple[str, ...] = ()

    @classmethod
    def of(cls, contract: Contract, at: datetime) -> LoadTimes:
        """The columns `contract`'s mixins leave to the loader (none without such a mixin)."""
        if not contract.mixins:
            return cls(at)
        from datakit.contracts.mixins import LoadTime, load_times  # SQLModel: only when needed

        times = {
            name: kind for name, kind in load_times(contract.mixins).items() if name in contract.column_names
        }
        first = tuple(name for name, kind in times.items() if kind is LoadTime.FIRST)
        latest = tuple(name for name, kind in times.items() if kind is LoadTime.LATEST)
        return cls(at, first, latest)

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.first, *self.latest)

    def checked(self, contract: Contract) -> Contract:
        """`contract` as rows are validated against it: these columns may be NULL (the loader fills them)."""
        if not self.columns:
            return contract
        return contract.evolve(
            columns=tuple(
                c.model_copy(update={"nullable": True}) if c.name in self.columns else c
                for c in contract.columns
            )
        )

    def fill(self, batch: pa.RecordBatch, *, staged: bool) -> pa.RecordBatch:
        """`batch` with the load's time where these columns are NULL (FIRST ones only when not `staged`)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        names = self.latest if staged else self.columns
        for name in names:
            index = batch.schema.get_field_index(name)
            if index < 0 or batch.column(index).null_count == 0:
                continue
            column = batch.column(index)
            filled = pc.fill_null(column, pa.scalar(self.at, column.type))
            batch = batch.set_column(index, batch.schema.field(index), filled)
        return batch

    @property
    def keep(self) -> KeepFirst:
        """The FIRST columns, as the statements that write a target or its history keep them."""
        return KeepFirst(self.first, self.at)
