"""`<table>__history`: one row per version of each key, with its validity interval.

Rules. A staged row whose record hash equals its key's current version (valid_to NULL) is unchanged
and writes nothing. A changed row closes the current version (`_dk_valid_to` = the new version's start)
and opens a new one with `_dk_operation` 'update'; a key without a current version opens one with
'insert'. A version starts at the row's `systime` when the contract has that column (the
TransactionalTableMixin's "when this version was written"), else at the load time. Deletes can only be
seen on a full read (no incremental cursor, or `--full-refresh`) that rejected no row — otherwise a
key missing from the read proves nothing — and then each current key absent from the read is closed
at the load time and a 'delete' row (a copy of its last version, valid from and to the load time) is
recorded. A mixin column filled with the key's first load time (`created_at`, `datakit.load.times`)
keeps the current version's value in a new version. The stage must already be deduped on the key.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from datakit.contracts.audit import LOAD_ID, RECORD_HASH
from datakit.load.tables import OPERATION, VALID_FROM, VALID_TO, quoted
from datakit.load.times import NO_TIMES, LoadTimes

if TYPE_CHECKING:
    from datakit.connectors import TableRef, Transaction

SYSTIME = "systime"


def apply_history(
    tx: Transaction,
    stage: TableRef,
    history: TableRef,
    columns: Sequence[str],
    key: Sequence[str],
    *,
    load_id: str,
    loaded_at: datetime,
    detect_deletes: bool,
    by_systime: bool,
    times: LoadTimes = NO_TIMES,
) -> None:
    """Record this load's inserts, updates and (when `detect_deletes`) deletes in the history table."""
    s, hst = quoted(tx, stage), quoted(tx, history)
    q = tx.quote
    match_sc = " AND ".join(f"s.{q(k)} = c.{q(k)}" for k in key)
    current = f"c.{q(VALID_TO)} IS NULL"
    items = ", ".join(q(c) for c in columns)
    meta = ", ".join(q(c) for c in (VALID_FROM, VALID_TO, OPERATION, LOAD_ID, RECORD_HASH))
    if detect_deletes:
        tx.execute(
            f"INSERT INTO {hst} ({items}, {meta}) SELECT {', '.join(f'c.{q(c)}' for c in columns)}, "
            f"CAST($1 AS TIMESTAMPTZ), CAST($1 AS TIMESTAMPTZ), 'delete', $2, c.{q(RECORD_HASH)} "
            f"FROM {hst} AS c WHERE {current} AND NOT EXISTS (SELECT 1 FROM {s} AS s WHERE {match_sc})",
            [loaded_at, load_id],
        )
        tx.execute(
            f"UPDATE {hst} AS c SET {q(VALID_TO)} = CAST($1 AS TIMESTAMPTZ) WHERE {current} "
            f"AND c.{q(OPERATION)} <> 'delete' AND NOT EXISTS (SELECT 1 FROM {s} AS s WHERE {match_sc})",
            [loaded_at],
        )
    start = "CAST($2 AS TIMESTAMPTZ)"
    if by_systime:  # a NULL systime (a column added later, say) falls back to the load time
        start = f"COALESCE(CAST(s.{q(SYSTIME)} AS TIMESTAMPTZ), {start})"
    first = q(key[0])
    values = ", ".join(times.value(tx, c, stored=["c"]) for c in columns)
    tx.execute(
        f"INSERT INTO {hst} ({items}, {meta}) SELECT {values}, {start}, "
        f"NULL, CASE WHEN c.{first} IS NULL THEN 'insert' ELSE 'update' END, $1, s.{q(RECORD_HASH)} "
        f"FROM {s} AS s LEFT JOIN {hst} AS c ON {match_sc} AND {current} "
        f"WHERE c.{first} IS NULL OR c.{q(RECORD_HASH)} <> s.{q(RECORD_HASH)}",
        [load_id, loaded_at],
    )
    match_nc = " AND ".join(f"n.{q(k)} = c.{q(k)}" for k in key)
    tx.execute(
        f"UPDATE {hst} AS c SET {q(VALID_TO)} = n.{q(VALID_FROM)} FROM {hst} AS n "
        f"WHERE {match_nc} AND n.{q(LOAD_ID)} = $1 AND n.{q(VALID_TO)} IS NULL "
        f"AND {current} AND c.{q(LOAD_ID)} <> $1",
        [load_id],
    )
