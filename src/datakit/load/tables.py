"""The tables one resource writes: the target, `<table>__rejected` and `<table>__history`.

The target is created from the contract with the audit columns, under the layer's rules (bronze: types
and NOT NULL only). The rejected table keeps every column as text — a rejected value is often one that
does not convert — plus the reason columns. The history table has the contract's columns (all nullable:
a delete marker copies the last version) plus the validity interval. All three are created inside the
load's transaction, so a failed first load leaves no empty table behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from datakit.connectors import TableRef
from datakit.contracts.audit import LOAD_ID, RECORD_HASH, with_audit_columns
from datakit.contracts.ddl import create_tables_sql
from datakit.contracts.sqltypes import Dialect, sql_type
from datakit.contracts.validate import FAILED_COLUMN, FAILED_RULE, REASON, ROW_INDEX
from datakit.load.drift import Change

if TYPE_CHECKING:
    from datakit.connectors import Transaction
    from datakit.contracts.model import Contract

REJECTED_SUFFIX = "__rejected"
HISTORY_SUFFIX = "__history"
REJECTED_AT = "_dk_rejected_at"
VALID_FROM = "_dk_valid_from"
VALID_TO = "_dk_valid_to"
OPERATION = "_dk_operation"
REJECT_META = (
    (LOAD_ID, "TEXT NOT NULL"),
    (ROW_INDEX, "BIGINT NOT NULL"),
    (FAILED_COLUMN, "TEXT"),
    (FAILED_RULE, "TEXT NOT NULL"),
    (REASON, "TEXT NOT NULL"),
    (REJECTED_AT, "TIMESTAMPTZ NOT NULL"),
)
HISTORY_META = (
    (VALID_FROM, "TIMESTAMPTZ NOT NULL"),
    (VALID_TO, "TIMESTAMPTZ"),
    (OPERATION, "TEXT NOT NULL"),
    (LOAD_ID, "TEXT NOT NULL"),
    (RECORD_HASH, "BIGINT NOT NULL"),
)


def rejected_ref(target: TableRef) -> TableRef:
    return TableRef(target.name + REJECTED_SUFFIX, target.schema)


def history_ref(target: TableRef) -> TableRef:
    return TableRef(target.name + HISTORY_SUFFIX, target.schema)


def quoted(tx: Transaction, table: TableRef) -> str:
    return tx.quote(table.schema, table.name) if table.schema else tx.quote(table.name)


def exists(tx: Transaction, table: TableRef) -> bool:
    return bool(tx.columns(table))


def create_target(tx: Transaction, contract: Contract, target: TableRef, dialect: Dialect) -> None:
    """CREATE TABLE for the target, from the contract plus audit columns, under bronze rules."""
    table = with_audit_columns(contract.evolve(name=target.name))
    for statement in create_tables_sql([table], dialect, target.schema or "main", layer_rules="bronze"):
        tx.execute(statement)


def create_history(tx: Transaction, contract: Contract, target: TableRef, dialect: Dialect) -> None:
    """CREATE TABLE for `<table>__history`: contract columns (nullable) plus the validity columns."""
    parts = [
        f"{tx.quote(c.name)} {sql_type(c.type, dialect, max_length=c.max_length)}" for c in contract.columns
    ]
    parts += [f"{tx.quote(name)} {kind}" for name, kind in HISTORY_META]
    tx.execute(f"CREATE TABLE {quoted(tx, history_ref(target))} ({', '.join(parts)})")


def ensure_rejected(tx: Transaction, target: TableRef, columns: Sequence[str]) -> None:
    """Create `<table>__rejected`, or add the text columns it lacks (it follows every column ever seen)."""
    table = rejected_ref(target)
    live = {c.name for c in tx.columns(table)}
    if not live:
        parts = [f"{tx.quote(name)} TEXT" for name in columns]
        parts += [f"{tx.quote(name)} {kind}" for name, kind in REJECT_META]
        tx.execute(f"CREATE TABLE {quoted(tx, table)} ({', '.join(parts)})")
        return
    for name in columns:
        if name not in live:
            tx.execute(f"ALTER TABLE {quoted(tx, table)} ADD COLUMN {tx.quote(name)} TEXT")


def apply_changes(tx: Transaction, table: TableRef, changes: Sequence[Change], *, history: bool) -> None:
    """Run drift changes on the target (or, with `history`, on its history table, which is all nullable)."""
    name = quoted(tx, table)
    live = {c.name for c in tx.columns(table)}
    for change in changes:
        column = tx.quote(change.column)
        if change.kind == "add" and change.column not in live:
            tx.execute(f"ALTER TABLE {name} ADD COLUMN {column} {change.sql_type}")
        elif change.kind == "drop_not_null" and not history:
            tx.execute(f"ALTER TABLE {name} ALTER COLUMN {column} DROP NOT NULL")
        elif change.kind in ("widen", "retype") and change.column in live:
            # a retype runs on an emptied target (full refresh): no value needs converting; history
            # keeps its rows, so there the old values are converted (or the load stops, rolled back)
            value = column if change.kind == "widen" or history else "NULL"
            tx.execute(
                f"ALTER TABLE {name} ALTER COLUMN {column} TYPE {change.sql_type} "
                f"USING CAST({value} AS {change.sql_type})"
            )
