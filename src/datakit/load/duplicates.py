"""Rows of one merge load that repeat a key: the last one read is merged, the others are rejected.

Rule: of the staged rows sharing a key, the one read last wins (the highest read position, `ROW`:
a files source reads its files in path order, each from top to bottom; a database in the order it
returns rows). Every earlier one goes to `<table>__rejected` with rule `duplicate_key`, a reason naming
the key and its value, and its read position in `_dk_row_index` — so no row is dropped in silence and
`rows_read == rows_loaded + rows_rejected` holds row for row. A files source also records the file each
one came from (`_dk_file`), found from the read positions each file covered (`origins`).

Cost: one aggregate over the stage, as the plain dedupe had; the two statements that move rows run
only when some key repeats.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from datakit.contracts.audit import LOAD_ID
from datakit.contracts.sqltypes import Dialect
from datakit.contracts.validate import FAILED_COLUMN, FAILED_RULE, REASON, ROW_INDEX
from datakit.load.apply import ROW
from datakit.load.files import FILE
from datakit.load.tables import REJECTED_AT, quoted

if TYPE_CHECKING:
    from datakit.connectors import TableRef, Transaction

DUPLICATE_KEY = "duplicate_key"

Origin = tuple[str, int, int]
"""A file and the first and last read position of its rows in this load."""


def reject_duplicates(
    tx: Transaction,
    stage: TableRef,
    rejected: TableRef,
    key: Sequence[str],
    columns: Sequence[str],
    *,
    load_id: str,
    at: datetime,
    dialect: Dialect,
    origins: Sequence[Origin] = (),
) -> int:
    """Move every staged row but the last read of its key into `rejected`; return how many moved.

    `columns` are the stage's data columns, written as text like every rejected value.
    """
    q = tx.quote
    s, row = quoted(tx, stage), q(ROW)
    keys = ", ".join(q(k) for k in key)
    repeated = f"(SELECT {keys}, max({row}) AS {row} FROM {s} GROUP BY {keys} HAVING count(*) > 1)"
    ((extra,),) = tx.query(
        f"SELECT CAST(coalesce(sum(n) - count(*), 0) AS BIGINT) FROM "
        f"(SELECT count(*) AS n FROM {s} GROUP BY {keys} HAVING count(*) > 1) AS d"
    )
    if not extra:
        return 0
    match = " AND ".join(f"a.{q(k)} = d.{q(k)}" for k in key)
    shown = " || ', ' || ".join(f"coalesce(CAST(a.{q(k)} AS TEXT), 'NULL')" for k in key)
    reason = f"CAST($1 AS TEXT) || {shown} || CAST($2 AS TEXT) || CAST(d.{row} AS TEXT) || CAST($3 AS TEXT)"
    names = [*columns, LOAD_ID, ROW_INDEX, FAILED_COLUMN, FAILED_RULE, REASON, REJECTED_AT]
    values = [f"CAST(a.{q(c)} AS TEXT)" for c in columns]
    values += ["CAST($4 AS TEXT)", f"a.{row}", "CAST($5 AS TEXT)", "CAST($6 AS TEXT)", reason]
    values.append("CAST($7 AS TIMESTAMPTZ)")
    joins = f"{s} AS a JOIN {repeated} AS d ON {match} AND a.{row} < d.{row}"
    files = _origins(tx, origins, dialect, load_id)
    if files is not None:
        names.append(FILE)
        values.append(f"o.{q(FILE)}")
        joins += f" LEFT JOIN {quoted(tx, files)} AS o ON a.{row} BETWEEN o.first_row AND o.last_row"
    tx.execute(
        f"INSERT INTO {quoted(tx, rejected)} ({', '.join(q(n) for n in names)}) "
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
    tx.execute(f"DELETE FROM {s} AS a USING {repeated} AS d WHERE {match} AND a.{row} < d.{row}")
    if files is not None:
        tx.execute(f"DROP TABLE {quoted(tx, files)}")
    return int(extra)


def _origins(tx: Transaction, origins: Sequence[Origin], dialect: Dialect, load_id: str) -> TableRef | None:
    """A temporary table of `origins` to join rejected rows with their file (None without origins)."""
    import pyarrow as pa

    from datakit.connectors import TableRef

    if not origins:
        return None
    name = f"_dk_origins_{load_id.replace('-', '')[:16]}"
    body = f"{tx.quote(FILE)} TEXT, first_row BIGINT, last_row BIGINT"
    if dialect is Dialect.POSTGRES:
        tx.execute(f"CREATE TEMPORARY TABLE {tx.quote(name)} ({body}) ON COMMIT DROP")
        table = TableRef(name, "pg_temp")
    else:
        tx.execute(f"CREATE TEMPORARY TABLE {tx.quote(name)} ({body})")
        table = TableRef(name)
    files, firsts, lasts = zip(*origins, strict=True)
    batch = pa.RecordBatch.from_arrays(
        [pa.array(files, pa.string()), pa.array(firsts, pa.int64()), pa.array(lasts, pa.int64())],
        names=[FILE, "first_row", "last_row"],
    )
    tx.write(table, [batch])
    return table
