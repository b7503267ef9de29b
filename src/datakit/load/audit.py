"""Audit column values: which load wrote a row, and a hash of its content.

The destination fills them as it writes (`connectors.stamp`): the load id is the load's one constant (the
integer id of its record in `_datakit.loads`), and the record hash is DuckDB's `hash()` of the row's
change columns (every contract column but `temporal_exclude` and the audit columns), kept to 63 bits.
Measured on rental at 2M rows into DuckDB: computed inside the INSERT they add ~0.3 CPU-s to it (mostly
storing the text load id of the old layout), where built as Arrow arrays on the reader's thread they
held it for ~0.8 s of a ~3 s load (an MD5 of a JSON array, earlier, cost far more).
The hash only decides whether a row changed (a collision chance of 2^-63 per comparison); it is not
a content address. A DuckDB upgrade that changed the hash function would make the next merge rewrite
unchanged rows once, with identical values.

A table of the old layout (`datakit.contracts.audit.LEGACY_AUDIT_COLUMNS`) gets the four old columns:
the load's text id, its start time and its source on every row, as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from datakit.connectors.stamp import Constant, Stamp
from datakit.contracts.audit import LOAD_ID, LOADED_AT, RECORD_HASH, SOURCE


@dataclass(frozen=True)
class AuditValues:
    """The per-load constants of the audit columns."""

    id: int
    """The load record's integer id (`_dk_load_id` of the lean layout)."""
    load_id: str
    """The load's text id (`_dk_load_id` of the old layout)."""
    loaded_at: datetime
    source: str

    def stamp(self, change_columns: Sequence[str], *, legacy: bool = False) -> Stamp:
        """The audit columns as a destination fills them: the load id, and the hash of `change_columns`
        (with `legacy`, the old layout's four columns)."""
        import pyarrow as pa

        constants: tuple[Constant, ...] = (Constant(LOAD_ID, self.id, pa.int64()),)
        if legacy:
            constants = (
                Constant(LOAD_ID, self.load_id, pa.string()),
                Constant(LOADED_AT, self.loaded_at, pa.timestamp("us", tz="UTC")),
                Constant(SOURCE, self.source, pa.string()),
            )
        return Stamp(constants=constants, hash_column=RECORD_HASH, hash_of=tuple(change_columns))
