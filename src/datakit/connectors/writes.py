"""The loader's statements on a destination: its tables, stage, write dispositions, history, duplicates.

The loader (`datakit.load`) decides what a load does; this says how, in SQL every engine of this
package runs alike (UPDATE ... FROM, DELETE ... USING, NOT EXISTS), spelled through its `Engine`
(quoting, types, temporary tables, join preparation). An engine whose SQL cannot say these things
(Spark on plain files has no UPDATE) gives its own subclass from `Engine.writes`. Every statement runs
in the load's one transaction. The layouts of the tables the loader keeps beside a target:

* `<table>__rejected`: every data column as text (a rejected value is often one that does not convert)
  plus `REJECT_META`; it follows every column ever seen.
* `<table>__history`: the contract's columns, all nullable (a delete marker copies the last version),
  plus `HISTORY_META`, the validity interval.
* the stage: a temporary table with the target's columns and `ROW`, the row's position in the read.

Where good rows go, per disposition:

* `append` — straight into the target: nothing to compare, and a stage copies every row twice.
  Measured with 1M rows (source PostgreSQL, 2 busy cores): PostgreSQL 5.3 s straight vs 10.7 s through
  a stage (a merge into an empty table: COPY into the stage, then INSERT ... SELECT); DuckDB 7.0-8.1 s
  vs 8.2-8.6 s. Incremental appends that re-read rows at the cursor boundary go through a stage so
  those rows can be recognised (`append_unseen`).
* `replace` — the target is emptied with DELETE (readers keep seeing the old rows until commit; TRUNCATE
  would block them for the whole load) and filled directly, for the same reason as append.
* `merge` — always a stage, deduped on the merge key keeping the last row read, then `UPDATE ... FROM`
  for keys whose record hash changed (unchanged rows are not rewritten, so a second identical run
  writes nothing) and `INSERT ... WHERE NOT EXISTS` for new keys. Bronze tables have no primary key
  constraint, so there is no ON CONFLICT to lean on.
* any disposition with history — a stage, because history compares new rows with current versions.

History rules. A staged row whose record hash equals its key's current version (valid_to NULL) is
unchanged and writes nothing. A changed row closes the current version (`_dk_valid_to` = the new
version's start) and opens a new one with `_dk_operation` 'update'; a key without a current version
opens one with 'insert'. A version starts at the row's `systime` when the contract has that column, else
at the load time. Deletes are detected only when the caller says so (a full read that rejected nothing):
each current key absent from the stage is closed at the load time and a 'delete' row (a copy of its last
version, valid from and to the load time) is recorded.

Duplicate keys of a merge (`reject_duplicates`): of the staged rows sharing a key, the one read last
wins; every earlier one goes to the rejected table with rule `duplicate_key`, a reason naming the key,
and its read position — and, for files, the file it came from (`origins`). Cost: one aggregate over the
stage; the statements that move rows run only when some key repeats.

Columns a mixin fills with the key's first load time (`KeepFirst`, `datakit.load.times`) keep the stored
row's value: `COALESCE(stage, stored, load time)`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from datakit.connectors.base import TableRef
from datakit.contracts.audit import LOAD_ID, RECORD_HASH, with_audit_columns
from datakit.contracts.types import LogicalType, TypeKind, integer, simple, string
from datakit.contracts.validate import FAILED_COLUMN, FAILED_RULE, REASON, ROW_INDEX

if TYPE_CHECKING:
    from datakit.connectors.base import Transaction
    from datakit.connectors.engine import Engine
    from datakit.contracts.model import Contract

ROW = "_dk_row"
"""The stage's column holding a row's position in the read, so "the last row read" wins a dedupe."""
FILE = "_dk_file"
"""The file a row of a file set came from (its rejected rows name it)."""
RAW = "_dk_raw"
"""The text of a malformed file record, in the rejected table of a file set."""
PARSE_RULE = "parse"
"""The rule a malformed file record breaks."""
SYSTIME = "systime"
"""When a version was written in the source (the transactional mixin): a history version starts there."""
DUPLICATE_KEY = "duplicate_key"
REJECTED_SUFFIX = "__rejected"
HISTORY_SUFFIX = "__history"
REJECTED_AT = "_dk_rejected_at"
VALID_FROM = "_dk_valid_from"
VALID_TO = "_dk_valid_to"
OPERATION = "_dk_operation"
_TEXT, _BIGINT, _TIMESTAMPTZ = string(), integer(64), simple(TypeKind.TIMESTAMPTZ)
REJECT_META: tuple[tuple[str, LogicalType, bool], ...] = (
    (LOAD_ID, _TEXT, False),
    (ROW_INDEX, _BIGINT, False),
    (FAILED_COLUMN, _TEXT, True),
    (FAILED_RULE, _TEXT, False),
    (REASON, _TEXT, False),
    (REJECTED_AT, _TIMESTAMPTZ, False),
)
"""(name, type, nullable) of the columns the rejected table has besides the data's."""
HISTORY_META: tuple[tuple[str, LogicalType, bool], ...] = (
    (VALID_FROM, _TIMESTAMPTZ, False),
    (VALID_TO, _TIMESTAMPTZ, True),
    (OPERATION, _TEXT, False),
    (LOAD_ID, _TEXT, False),
    (RECORD_HASH, _BIGINT, False),
)
Scope = tuple[str, str]
"""(provenance column, source): the rows of one source in a table several sources load."""
Origin = tuple[str, int, int]
"""A file and the first and last read position of its rows in this load."""
_temp_seq = itertools.count()


def rejected_ref(target: TableRef) -> TableRef:
    return TableRef(target.name + REJECTED_SUFFIX, target.schema)


def history_ref(target: TableRef) -> TableRef:
    return TableRef(target.name + HISTORY_SUFFIX, target.schema)


@dataclass(frozen=True)
class KeepFirst:
    """Columns that keep the stored row's value (a key's first load time), and this load's time."""

    columns: tuple[str, ...] = ()
    at: datetime | None = None


NOTHING_KEPT = KeepFirst()


@dataclass(frozen=True)
class Change:
    """One DDL change to a target (and its history/rejected twins), decided by `datakit.load.drift`."""

    kind: str  # "add", "drop_not_null", "widen", "retype"
    column: str
    sql_type: str = ""


class Writes:
    """The loader's statements, in the SQL of `engine` (see the module's docstring)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- the tables -----------------------------------------------------------------------------------

    def create_target(self, tx: Transaction, contract: Contract, target: TableRef) -> None:
        """CREATE TABLE for the target, from the contract plus audit columns, under bronze rules."""
        table = with_audit_columns(contract.evolve(name=target.name))
        schema = target.schema or self.engine.default_schema
        for statement in self.engine.create_tables_sql([table], schema, layer_rules="bronze"):
            tx.execute(statement)

    def create_history(self, tx: Transaction, contract: Contract, target: TableRef) -> None:
        """CREATE TABLE for `<table>__history`: contract columns (nullable) plus the validity columns."""
        e = self.engine
        parts = [f"{e.quote(c.name)} {e.sql_type(c.type, max_length=c.max_length)}" for c in contract.columns]
        parts += [e.column_sql(name, kind, nullable=nullable) for name, kind, nullable in HISTORY_META]
        tx.execute(f"CREATE TABLE {e.table(history_ref(target))} ({', '.join(parts)})")

    def ensure_rejected(self, tx: Transaction, target: TableRef, columns: Sequence[str]) -> None:
        """Create `<table>__rejected`, or add the text columns it lacks (it follows every column seen)."""
        e, table = self.engine, rejected_ref(target)
        live = {c.name for c in tx.columns(table)}
        if not live:
            parts = [e.column_sql(name, _TEXT) for name in columns]
            parts += [e.column_sql(name, kind, nullable=nullable) for name, kind, nullable in REJECT_META]
            tx.execute(f"CREATE TABLE {e.table(table)} ({', '.join(parts)})")
            return
        for name in columns:
            if name not in live:
                tx.execute(f"ALTER TABLE {e.table(table)} ADD COLUMN {e.column_sql(name, _TEXT)}")

    def apply_changes(
        self, tx: Transaction, table: TableRef, changes: Sequence[Change], *, history: bool
    ) -> None:
        """Run drift changes on a target (or, with `history`, on its history table: all nullable)."""
        name = self.engine.table(table)
        live = {c.name for c in tx.columns(table)}
        for change in changes:
            column = self.engine.quote(change.column)
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

    def create_stage(
        self, tx: Transaction, target: TableRef, columns: Sequence[str], load_id: str
    ) -> TableRef:
        """A temporary table with `columns` of the target (same types) and the row position `ROW`."""
        name = f"_dk_stage_{load_id.replace('-', '')[:16]}_{next(_temp_seq)}"
        return self.engine.create_stage(tx, name, target, columns, ROW)

    def drop(self, tx: Transaction, table: TableRef) -> None:
        tx.execute(f"DROP TABLE {self.engine.table(table)}")

    def empty(self, tx: Transaction, target: TableRef, scope: Scope | None = None) -> None:
        """Delete the target's rows (with `scope`, only those of one source of a shared table)."""
        where, params = self._scope(scope, "")
        tx.execute(f"DELETE FROM {self.engine.table(target)}" + (f" WHERE {where}" if where else ""), params)

    def resolved_view(
        self,
        tx: Transaction,
        target: TableRef,
        view: TableRef,
        columns: Sequence[str],
        key: Sequence[str],
        provenance: str,
        order: Sequence[str],
    ) -> None:
        """(Re)create `view`: one row of `target` per `key`, the one whose `provenance` comes first in
        `order` (sources not in `order` after them, by name)."""
        q, e = self.engine.quote, self.engine
        items = ", ".join(q(c) for c in columns)
        ranks = " ".join(f"WHEN {e.string(source)} THEN {rank}" for rank, source in enumerate(order))
        rank = f"CASE {q(provenance)} {ranks} ELSE {len(order)} END" if order else "0"
        partition = ", ".join(q(k) for k in key)
        tx.execute(
            f"CREATE OR REPLACE VIEW {e.table(view)} AS SELECT {items} FROM (SELECT {items}, row_number() "
            f"OVER (PARTITION BY {partition} ORDER BY {rank}, {q(provenance)}) AS {q('_dk_rank')} "
            f"FROM {e.table(target)}) AS ranked WHERE {q('_dk_rank')} = 1"
        )

    # -- dispositions ---------------------------------------------------------------------------------

    def prepare_stage(self, tx: Transaction, stage: TableRef) -> None:
        """Ready a filled stage to be joined with the target (`Engine.prepare_join`)."""
        self.engine.prepare_join(tx, stage)

    def dedupe(self, tx: Transaction, stage: TableRef, key: Sequence[str]) -> None:
        """Keep only the last row read of each key in the stage.

        One aggregate finds the repeated keys (usually none, so the DELETE then touches nothing) instead
        of a self-join of the whole stage (PostgreSQL, 1M rows: about 2 s instead of 2-3 s).
        """
        q = self.engine.quote
        s, row = self.engine.table(stage), q(ROW)
        keys = ", ".join(q(k) for k in key)
        tx.execute(
            f"DELETE FROM {s} AS a USING (SELECT {keys}, max({row}) AS {row} FROM {s} GROUP BY {keys} "
            f"HAVING count(*) > 1) AS d WHERE {self._match(key, 'a', 'd')} AND a.{row} < d.{row}"
        )

    def insert_all(
        self,
        tx: Transaction,
        stage: TableRef,
        target: TableRef,
        columns: Sequence[str],
        keep: KeepFirst = NOTHING_KEPT,
    ) -> None:
        items = ", ".join(self.engine.quote(c) for c in columns)
        values = ", ".join(self._value(c, keep) for c in columns)
        tx.execute(
            f"INSERT INTO {self.engine.table(target)} ({items}) "
            f"SELECT {values} FROM {self.engine.table(stage)} AS s"
        )

    def append_unseen(
        self,
        tx: Transaction,
        stage: TableRef,
        target: TableRef,
        columns: Sequence[str],
        cursor: str,
        keep: KeepFirst = NOTHING_KEPT,
    ) -> None:
        """Append staged rows, except re-read ones: same record hash at a cursor value inside the window."""
        q = self.engine.quote
        items = ", ".join(q(c) for c in columns)
        values = ", ".join(self._value(c, keep) for c in columns)
        s, t = self.engine.table(stage), self.engine.table(target)
        h, c = q(RECORD_HASH), q(cursor)
        tx.execute(
            f"INSERT INTO {t} ({items}) SELECT {values} FROM {s} AS s WHERE NOT EXISTS "
            f"(SELECT 1 FROM {t} AS t WHERE t.{h} = s.{h} AND t.{c} = s.{c})"
        )

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
        """Update changed rows, insert new ones, and (on a full read with history) delete missing keys
        (with `scope`, only keys of one source of a shared table)."""
        q = self.engine.quote
        s, t = self.engine.table(stage), self.engine.table(target)
        h = q(RECORD_HASH)
        sets = ", ".join(f"{q(c)} = {self._value(c, keep, stored=['t'])}" for c in columns if c not in key)
        tx.execute(
            f"UPDATE {t} AS t SET {sets} FROM {s} AS s WHERE {self._match(key, 't', 's')} AND t.{h} <> s.{h}"
        )
        items = ", ".join(q(c) for c in columns)
        values = ", ".join(self._value(c, keep) for c in columns)
        tx.execute(
            f"INSERT INTO {t} ({items}) SELECT {values} FROM {s} AS s "
            f"WHERE NOT EXISTS (SELECT 1 FROM {t} AS t WHERE {self._match(key, 't', 's')})"
        )
        if delete_missing:
            gone = f"NOT EXISTS (SELECT 1 FROM {s} AS s WHERE {self._match(key, 's', 't')})"
            where, params = self._scope(scope, "t.")
            tx.execute(f"DELETE FROM {t} AS t WHERE {gone}" + (f" AND {where}" if where else ""), params)

    # -- history --------------------------------------------------------------------------------------

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
        """Record this load's inserts, updates and (when `detect_deletes`) deletes (module docstring);
        with `scope`, deletes only of keys of one source of a shared table.

        The stage must already be deduped on the key."""
        q, tz = self.engine.quote, self.engine.timestamptz
        s, hst = self.engine.table(stage), self.engine.table(history)
        match_sc = " AND ".join(f"s.{q(k)} = c.{q(k)}" for k in key)
        current = f"c.{q(VALID_TO)} IS NULL"
        items = ", ".join(q(c) for c in columns)
        meta = ", ".join(q(c) for c in (VALID_FROM, VALID_TO, OPERATION, LOAD_ID, RECORD_HASH))
        if detect_deletes:
            mine = f" AND c.{q(scope[0])} = CAST($3 AS {self.engine.sql_type(_TEXT)})" if scope else ""
            tx.execute(
                f"INSERT INTO {hst} ({items}, {meta}) SELECT {', '.join(f'c.{q(c)}' for c in columns)}, "
                f"CAST($1 AS {tz}), CAST($1 AS {tz}), 'delete', $2, c.{q(RECORD_HASH)} "
                f"FROM {hst} AS c WHERE {current} AND NOT EXISTS (SELECT 1 FROM {s} AS s WHERE {match_sc})"
                + mine,
                [loaded_at, load_id, *([scope[1]] if scope else [])],
            )
            mine = f" AND c.{q(scope[0])} = CAST($2 AS {self.engine.sql_type(_TEXT)})" if scope else ""
            tx.execute(
                f"UPDATE {hst} AS c SET {q(VALID_TO)} = CAST($1 AS {tz}) WHERE {current} "
                f"AND c.{q(OPERATION)} <> 'delete' "
                f"AND NOT EXISTS (SELECT 1 FROM {s} AS s WHERE {match_sc})" + mine,
                [loaded_at, *([scope[1]] if scope else [])],
            )
        start = f"CAST($2 AS {tz})"
        if by_systime:  # a NULL systime (a column added later, say) falls back to the load time
            start = f"COALESCE(CAST(s.{q(SYSTIME)} AS {tz}), {start})"
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
        tx.execute(
            f"UPDATE {hst} AS c SET {q(VALID_TO)} = n.{q(VALID_FROM)} FROM {hst} AS n "
            f"WHERE {match_nc} AND n.{q(LOAD_ID)} = $1 AND n.{q(VALID_TO)} IS NULL "
            f"AND {current} AND c.{q(LOAD_ID)} <> $1",
            [load_id],
        )

    # -- duplicate keys of a merge --------------------------------------------------------------------

    def reject_duplicates(
        self,
        tx: Transaction,
        stage: TableRef,
        rejected: TableRef,
        key: Sequence[str],
        columns: Sequence[str],
        *,
        load_id: str,
        at: datetime,
        origins: Sequence[Origin] = (),
        before: Callable[[], None] | None = None,
    ) -> int:
        """Move every staged row but the last read of its key into `rejected`; return how many moved.

        `columns` are the stage's data columns, written as text like every rejected value. `before` is
        called when there is a row to move, before it moves (the loader creates the rejected table then).
        """
        q, text, tz = self.engine.quote, self.engine.sql_type(_TEXT), self.engine.timestamptz
        s, row = self.engine.table(stage), q(ROW)
        keys = ", ".join(q(k) for k in key)
        repeated = f"(SELECT {keys}, max({row}) AS {row} FROM {s} GROUP BY {keys} HAVING count(*) > 1)"
        ((extra,),) = tx.query(
            f"SELECT CAST(coalesce(sum(n) - count(*), 0) AS BIGINT) FROM "
            f"(SELECT count(*) AS n FROM {s} GROUP BY {keys} HAVING count(*) > 1) AS d"
        )
        if not extra:
            return 0
        if before is not None:
            before()
        match = " AND ".join(f"a.{q(k)} = d.{q(k)}" for k in key)
        shown = " || ', ' || ".join(f"coalesce(CAST(a.{q(k)} AS {text}), 'NULL')" for k in key)
        reason = (
            f"CAST($1 AS {text}) || {shown} || CAST($2 AS {text}) || CAST(d.{row} AS {text}) "
            f"|| CAST($3 AS {text})"
        )
        names = [*columns, LOAD_ID, ROW_INDEX, FAILED_COLUMN, FAILED_RULE, REASON, REJECTED_AT]
        values = [f"CAST(a.{q(c)} AS {text})" for c in columns]
        values += [f"CAST($4 AS {text})", f"a.{row}", f"CAST($5 AS {text})", f"CAST($6 AS {text})", reason]
        values.append(f"CAST($7 AS {tz})")
        joins = f"{s} AS a JOIN {repeated} AS d ON {match} AND a.{row} < d.{row}"
        files = self._origins(tx, origins, load_id)
        if files is not None:
            names.append(FILE)
            values.append(f"o.{q(FILE)}")
            joins += (
                f" LEFT JOIN {self.engine.table(files)} AS o ON a.{row} BETWEEN o.first_row AND o.last_row"
            )
        tx.execute(
            f"INSERT INTO {self.engine.table(rejected)} ({', '.join(q(n) for n in names)}) "
            f"SELECT {', '.join(values)} FROM {joins}",
            [
                f"key ({', '.join(key)}) = (",
                ") repeats in this load; the last row read (row ",
                ") is kept",
                load_id,
                ", ".join(key),
                DUPLICATE_KEY,
                at,
            ],
        )
        self.dedupe(tx, stage, key)  # the rows just rejected leave the stage
        if files is not None:
            self.drop(tx, files)
        return int(extra)

    def _origins(self, tx: Transaction, origins: Sequence[Origin], load_id: str) -> TableRef | None:
        """A temporary table of `origins` to join rejected rows with their file (None without origins)."""
        import pyarrow as pa

        if not origins:
            return None
        e = self.engine
        columns = ((FILE, _TEXT), ("first_row", _BIGINT), ("last_row", _BIGINT))
        body = ", ".join(e.column_sql(name, kind) for name, kind in columns)
        table = e.create_temp_table(tx, f"_dk_origins_{load_id.replace('-', '')[:16]}", body)
        files, firsts, lasts = zip(*origins, strict=True)
        batch = pa.RecordBatch.from_arrays(
            [pa.array(files, pa.string()), pa.array(firsts, pa.int64()), pa.array(lasts, pa.int64())],
            names=[FILE, "first_row", "last_row"],
        )
        tx.write(table, [batch])
        return table

    # -- helpers --------------------------------------------------------------------------------------

    def _scope(self, scope: Scope | None, alias: str) -> tuple[str, list[object]]:
        """`<column> = $1` limiting a statement to one source's rows of a shared table (or nothing)."""
        if scope is None:
            return "", []
        text = self.engine.sql_type(_TEXT)
        return f"{alias}{self.engine.quote(scope[0])} = CAST($1 AS {text})", [scope[1]]

    def _match(self, key: Sequence[str], left: str, right: str) -> str:
        q = self.engine.quote
        return " AND ".join(f"{left}.{q(k)} = {right}.{q(k)}" for k in key)

    def _value(self, column: str, keep: KeepFirst, *, stored: Sequence[str] = ()) -> str:
        """The SQL of staged column `s.<column>` as written: a kept column falls back on the `stored`
        aliases' values, then on the load's time."""
        q = self.engine.quote
        item = f"s.{q(column)}"
        if column not in keep.columns or keep.at is None:
            return item
        fallbacks = [f"{alias}.{q(column)}" for alias in stored]
        return f"COALESCE({', '.join([item, *fallbacks, self.engine.timestamp(keep.at)])})"
