"""The audit columns the loader adds to every bronze table.

Two per row (issue 21 item 5): `_dk_load_id`, the load that wrote the row as the integer id of its
record in `_datakit.loads` (which holds the source, the pipeline and resource, and the load's times),
and `_dk_record_hash`, a 63-bit hash of the row's change columns (everything but `temporal_exclude`) that
history and merge use to detect a real change without comparing each column. Both are excluded from
change detection themselves: they differ on every load.

Why only these two: the source and the load time are the same on every row of a load, and stored per
row (two of them as text) they cost the destination's COPY more than the data's own columns (rental's
seven). A row reaches them by joining its load record: `JOIN _datakit.loads AS l ON l.id =
t._dk_load_id` gives `l.source` (what `_dk_source` held) and `l.started_at` (what `_dk_loaded_at`
held); the generated dbt sources do the same for freshness (`datakit.transform.sources`).
The `<table>__rejected` and `<table>__history` tables keep the load's text id in their `_dk_load_id`
(joining `loads.load_id`): they take few rows, by INSERT ... SELECT rather than the bulk COPY, so the
text costs little there, and their layout stays what readers of them already join on.

Tables created before (`LEGACY_AUDIT_COLUMNS`: a text load id, the load time and the source on every
row) keep their layout: the loader writes the four columns into them as before (`is_legacy`), so
nothing that reads them changes; a full refresh that drops the table recreates it lean.
"""

from __future__ import annotations

from collections.abc import Iterable

from datakit.contracts.errors import ContractError
from datakit.contracts.model import Column, Contract
from datakit.contracts.types import TypeKind, integer, simple, string

LOAD_ID = "_dk_load_id"
LOADED_AT = "_dk_loaded_at"
SOURCE = "_dk_source"
RECORD_HASH = "_dk_record_hash"
AUDIT_PREFIX = "_dk_"
LOADS_SCHEMA = "_datakit"
"""The schema of the load records `_dk_load_id` points at (`<schema>.loads`; a tenant's: `acme__datakit`)."""

_RECORD_HASH_COLUMN = Column(
    name=RECORD_HASH,
    type=integer(64),
    nullable=False,
    description="63-bit hash of the row's change columns, for change detection.",
)
AUDIT_COLUMNS: tuple[Column, ...] = (
    Column(
        name=LOAD_ID,
        type=integer(64),
        nullable=False,
        description="The load that wrote this row: `id` of its record in `_datakit.loads` (source, times).",
    ),
    _RECORD_HASH_COLUMN,
)
AUDIT_COLUMN_NAMES: tuple[str, ...] = tuple(column.name for column in AUDIT_COLUMNS)

LEGACY_AUDIT_COLUMNS: tuple[Column, ...] = (
    Column(name=LOAD_ID, type=string(), nullable=False, description="Id of the load that wrote this row."),
    Column(
        name=LOADED_AT,
        type=simple(TypeKind.TIMESTAMPTZ),
        nullable=False,
        description="When the load that wrote this row started.",
    ),
    Column(
        name=SOURCE,
        type=string(),
        nullable=False,
        description="Where the row came from: source system, schema and resource.",
    ),
    _RECORD_HASH_COLUMN,
)
"""The four audit columns of bronze tables created before the lean layout (read and written as before)."""
LEGACY_AUDIT_COLUMN_NAMES: tuple[str, ...] = tuple(column.name for column in LEGACY_AUDIT_COLUMNS)
RESERVED_AUDIT_NAMES: frozenset[str] = frozenset((*AUDIT_COLUMN_NAMES, *LEGACY_AUDIT_COLUMN_NAMES))
"""Every audit column name of either layout: never a data column (drift, inference, delivery checks)."""


def is_legacy(live_columns: Iterable[str]) -> bool:
    """Whether a live table has the old four audit columns (it keeps them: see the module docstring)."""
    names = set(live_columns)
    return LOADED_AT in names or SOURCE in names


def audit_names(live_columns: Iterable[str]) -> tuple[str, ...]:
    """The audit columns a load writes into a table with `live_columns` (its layout's)."""
    return LEGACY_AUDIT_COLUMN_NAMES if is_legacy(live_columns) else AUDIT_COLUMN_NAMES


def in_layout(contract: Contract, live_columns: Iterable[str]) -> Contract:
    """A bronze contract (with the audit columns) as a live table of the old layout holds it: the four
    old audit columns in place of the two (unchanged when the table has the lean layout)."""
    if not is_legacy(live_columns):
        return contract
    data = [c for c in contract.columns if c.name not in RESERVED_AUDIT_NAMES]
    kept = [name for name in contract.temporal_exclude if name not in RESERVED_AUDIT_NAMES]
    return contract.evolve(
        columns=(*data, *LEGACY_AUDIT_COLUMNS), temporal_exclude=(*kept, *LEGACY_AUDIT_COLUMN_NAMES)
    )


def with_audit_columns(contract: Contract) -> Contract:
    """`contract` with the audit columns appended (idempotent: a contract that has them is returned as is)."""
    present = [name for name in sorted(RESERVED_AUDIT_NAMES) if name in contract.column_names]
    if present:
        for layout in (AUDIT_COLUMNS, LEGACY_AUDIT_COLUMNS):  # already added (a live table's, perhaps)
            if set(present) == {c.name for c in layout} and all(contract.column(c.name) == c for c in layout):
                return contract
        raise ContractError(
            f"columns {', '.join(present)} clash with the audit columns the loader adds",
            contract=contract.name,
            hint=f"rename them: names starting with {AUDIT_PREFIX!r} are reserved for datakit",
        )
    return contract.evolve(
        columns=(*contract.columns, *AUDIT_COLUMNS),
        temporal_exclude=(*contract.temporal_exclude, *AUDIT_COLUMN_NAMES),
    )
