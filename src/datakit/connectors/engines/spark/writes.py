"""The loader's statements said without UPDATE: each changed table's next version as one query.

Inserts, the emptying DELETE and `NOT EXISTS` appends are the standard statements (the transaction
turns them into new versions); what the standard SQL says with `UPDATE ... FROM` or `DELETE ...
USING` — a merge, closing history versions, dropping all but the last row of a key — is a query here
whose result replaces the table (`SparkTransaction.replace`). Row order within a key is the read
position (`ROW`), as elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from datakit.connectors.errors import ConnectorError
from datakit.connectors.writes import (
    NOTHING_KEPT,
    OPERATION,
    ROW,
    VALID_FROM,
    VALID_TO,
    Change,
    KeepFirst,
    Scope,
    Writes,
)
from datakit.contracts.audit import LOAD_ID, RECORD_HASH

if TYPE_CHECKING:
    from datakit.connectors.base import TableRef, Transaction
    from datakit.connectors.engines.spark.transaction import SparkTransaction


def _spark(tx: Transaction) -> SparkTransaction:
    from datakit.connectors.engines.spark.transaction import SparkTransaction

    assert isinstance(tx, SparkTransaction), "Spark's statements run in a Spark transaction"
    return tx


class SparkWrites(Writes):
    """`Writes` for Spark (see the module's docstring)."""

    def apply_changes(
        self, tx: Transaction, table: TableRef, changes: Sequence[Change], *, history: bool
    ) -> None:
        spark = _spark(tx)
        live = {c.name for c in tx.columns(table)}
        for change in changes:
            if change.kind == "add" and change.column not in live:
                spark.add_column(table, change.column, change.sql_type)
            elif change.kind in ("widen", "retype") and change.column in live:
                keep = change.kind == "widen" or history
                spark.retype(table, change.column, change.sql_type, keep_values=keep)
            # drop_not_null: Spark's tables keep no NOT NULL

    def dedupe(self, tx: Transaction, stage: TableRef, key: Sequence[str]) -> None:
        q = self.engine.quote
        keys = ", ".join(q(k) for k in key)
        spark = _spark(tx)
        last = spark.select(
            f"SELECT * FROM (SELECT *, max({q(ROW)}) OVER (PARTITION BY {keys}) AS _dk_last "
            f"FROM {self.engine.table(stage)}) WHERE {q(ROW)} = _dk_last"
        )
        spark.replace(stage, last.drop("_dk_last"))

    def merge(
        self,
        tx: Transaction,
        stage: TableRef,
        target: TableRef,
        columns: Sequence[str],
        key: Sequence[str],
        *,
        delete_missing: bool,
        keep: KeepFirst = NOTHING_KEPT,
        scope: Scope | None = None,
    ) -> None:
        """The target's next version: stored rows (changed ones from the stage), then new keys."""
        _unscoped(scope)
        q, spark = self.engine.quote, _spark(tx)
        s, t = self.engine.table(stage), self.engine.table(target)
        h = q(RECORD_HASH)
        match = self._match(key, "t", "s")
        changed = f"s.{q(key[0])} IS NOT NULL AND t.{h} <> s.{h}"
        stored = ", ".join(
            f"t.{q(c)}"
            if c in key
            else f"CASE WHEN {changed} THEN {self._value(c, keep, stored=['t'])} ELSE t.{q(c)} END AS {q(c)}"
            for c in columns
        )
        kept = f" WHERE s.{q(key[0])} IS NOT NULL" if delete_missing else ""
        fresh = ", ".join(f"{self._value(c, keep)} AS {q(c)}" for c in columns)
        spark.replace(
            target,
            spark.select(
                f"SELECT {stored} FROM {t} AS t LEFT JOIN {s} AS s ON {match}{kept} "
                f"UNION ALL SELECT {fresh} FROM {s} AS s "
                f"WHERE NOT EXISTS (SELECT 1 FROM {t} AS t WHERE {match})"
            ),
        )

    def history(
        self,
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
        keep: KeepFirst = NOTHING_KEPT,
        scope: Scope | None = None,
    ) -> None:
        """As `Writes.history`, with the two UPDATEs that close versions said as new versions."""
        _unscoped(scope)
        q, tz, spark = self.engine.quote, self.engine.timestamptz, _spark(tx)
        s, hst = self.engine.table(stage), self.engine.table(history)
        keys = ", ".join(q(k) for k in key)
        match_sc = " AND ".join(f"s.{q(k)} = c.{q(k)}" for k in key)
        current = f"c.{q(VALID_TO)} IS NULL"
        items = ", ".join(q(c) for c in columns)
        meta = ", ".join(q(c) for c in (VALID_FROM, VALID_TO, OPERATION, LOAD_ID, RECORD_HASH))
        every = [*columns, VALID_FROM, VALID_TO, OPERATION, LOAD_ID, RECORD_HASH]
        if detect_deletes:
            tx.execute(
                f"INSERT INTO {hst} ({items}, {meta}) SELECT {', '.join(f'c.{q(c)}' for c in columns)}, "
                f"CAST($1 AS {tz}), CAST($1 AS {tz}), 'delete', $2, c.{q(RECORD_HASH)} "
                f"FROM {hst} AS c WHERE {current} AND NOT EXISTS (SELECT 1 FROM {s} AS s WHERE {match_sc})",
                [loaded_at, load_id],
            )
            close = f"{current} AND c.{q(OPERATION)} <> 'delete' AND k.{q(key[0])} IS NULL"
            values = ", ".join(
                f"CASE WHEN {close} THEN CAST($1 AS {tz}) ELSE c.{q(VALID_TO)} END AS {q(VALID_TO)}"
                if name == VALID_TO
                else f"c.{q(name)}"
                for name in every
            )
            match_kc = " AND ".join(f"k.{q(k)} = c.{q(k)}" for k in key)
            spark.replace(
                history,
                spark.select(
                    f"SELECT {values} FROM {hst} AS c LEFT JOIN (SELECT DISTINCT {keys} FROM {s}) AS k "
                    f"ON {match_kc}",
                    [loaded_at],
                ),
            )
        start = f"CAST($2 AS {tz})"
        if by_systime:
            start = f"COALESCE(CAST(s.{q('systime')} AS {tz}), {start})"
        first = q(key[0])
        values = ", ".join(self._value(c, keep, stored=["c"]) for c in columns)
        tx.execute(
            f"INSERT INTO {hst} ({items}, {meta}) SELECT {values}, {start}, "
            f"NULL, CASE WHEN c.{first} IS NULL THEN 'insert' ELSE 'update' END, $1, s.{q(RECORD_HASH)} "
            f"FROM {s} AS s LEFT JOIN {hst} AS c ON {match_sc} AND {current} "
            f"WHERE c.{first} IS NULL OR c.{q(RECORD_HASH)} <> s.{q(RECORD_HASH)}",
            [load_id, loaded_at],
        )
        match_nc = " AND ".join(f"n.{q(k)} = c.{q(k)}" for k in key)
        close = f"{current} AND c.{q(LOAD_ID)} <> $1 AND n.{first} IS NOT NULL"
        values = ", ".join(
            f"CASE WHEN {close} THEN n.{q(VALID_FROM)} ELSE c.{q(VALID_TO)} END AS {q(VALID_TO)}"
            if name == VALID_TO
            else f"c.{q(name)}"
            for name in every
        )
        spark.replace(
            history,
            spark.select(
                f"SELECT {values} FROM {hst} AS c LEFT JOIN (SELECT {keys}, {q(VALID_FROM)} FROM {hst} "
                f"WHERE {q(LOAD_ID)} = $1 AND {q(VALID_TO)} IS NULL) AS n ON {match_nc}",
                [load_id],
            ),
        )


def _unscoped(scope: Scope | None) -> None:
    """Tables several sources load (consolidated targets) are not built on Spark yet: say so."""
    if scope is not None:
        raise ConnectorError(
            "a consolidated target (a table several sources load) cannot be merged on Spark yet; "
            "load it on DuckDB or PostgreSQL"
        )
