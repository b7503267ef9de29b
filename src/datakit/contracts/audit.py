"""The audit columns the loader adds to every bronze table.

They say which load wrote a row, when, from where, and a hash of the row's change columns (everything
but `temporal_exclude`) that history and merge use to detect a real change without comparing each
column. All four are excluded from change detection themselves: they differ on every load.
"""

from __future__ import annotations

from datakit.contracts.errors import ContractError
from datakit.contracts.model import Column, Contract
from datakit.contracts.types import TypeKind, integer, simple, string

LOAD_ID = "_dk_load_id"
LOADED_AT = "_dk_loaded_at"
SOURCE = "_dk_source"
RECORD_HASH = "_dk_record_hash"
AUDIT_PREFIX = "_dk_"

AUDIT_COLUMNS: tuple[Column, ...] = (
    Column(name=LOAD_ID, type=string(), nullable=False, description="Id of the load that wrote this row."),
    Column(
        name=LOADED_AT,
        type=simple(TypeKind.TIMESTAMPTZ),
        nullable=False,
        description="When the load that wrote this row committed.",
    ),
    Column(
        name=SOURCE,
        type=string(),
        nullable=False,
        description="Where the row came from: source system, schema and resource.",
    ),
    Column(
        name=RECORD_HASH,
        type=integer(64),
        nullable=False,
        description="63-bit hash of the row's change columns, for change detection.",
    ),
)
AUDIT_COLUMN_NAMES: tuple[str, ...] = tuple(column.name for column in AUDIT_COLUMNS)


def with_audit_columns(contract: Contract) -> Contract:
    """`contract` with the audit columns appended (idempotent: a contract that has them is returned as is)."""
    present = [name for name in AUDIT_COLUMN_NAMES if name in contract.column_names]
    if present:
        if len(present) == len(AUDIT_COLUMNS) and all(contract.column(c.name) == c for c in AUDIT_COLUMNS):
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
