"""PostgreSQL catalog queries shared by the source and the destination (one job: describe tables).

A column's logical type is read from its base type (domains resolved, enums are text) by the engine
(`PostgresEngine.logical_type`), so drift, deploy --validate and the loader see one description.
"""

from __future__ import annotations

from collections.abc import Sequence

from datakit.connectors.arrow import postgres_type
from datakit.connectors.base import Column, TableRef
from datakit.connectors.engines.postgres.engine import POSTGRES

# Domains resolve to their base type; `typtype` tells enums ("e") apart. Rows: name, declared type,
# nullable (a domain's NOT NULL counts), base type, base kind. Arrays of enums and domains keep their
# declared spelling.
COLUMNS_SQL = """
SELECT a.attname,
       format_type(a.atttypid, a.atttypmod),
       NOT a.attnotnull AND NOT coalesce(t.typnotnull, false),
       format_type(COALESCE(NULLIF(t.typbasetype, 0), a.atttypid),
                   CASE WHEN t.typbasetype <> 0 THEN t.typtypmod ELSE a.atttypmod END),
       COALESCE(bt.typtype, t.typtype)
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type bt ON bt.oid = NULLIF(t.typbasetype, 0)
WHERE a.attrelid = to_regclass({relation}) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""

ESTIMATE_SQL = """
SELECT CASE WHEN c.relkind = 'p' THEN
         (SELECT CASE WHEN bool_or(p.reltuples >= 0) THEN sum(GREATEST(p.reltuples, 0)) END
          FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhrelid WHERE i.inhparent = c.oid)
       WHEN c.reltuples < 0 THEN NULL ELSE c.reltuples END
FROM pg_class c WHERE c.oid = to_regclass({relation})
"""

TABLES_SQL = """
SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
  AND ({schema}::text IS NULL OR n.nspname = {schema})
ORDER BY 1, 2
"""

# Types whose values ADBC decodes itself (or as text we cast exactly); anything else is read as `::text`.
NATIVE = frozenset(
    {
        "smallint", "integer", "bigint", "real", "double precision", "boolean", "date", "bytea", "text",
        "timestamp without time zone", "timestamp with time zone", "time without time zone", "interval",
        "numeric", "character varying", "character", "name", "json", "oid",
    }
)  # fmt: skip
# Types binary COPY accepts from the Arrow twin ADBC writes (json: text bytes; enum: its label).
WRITABLE = NATIVE - {"oid"}
TEXT_LIKE = frozenset({"text", "character varying", "character", "name", "json"})


def relation_literal(table: TableRef) -> str:
    """A SQL string literal holding the quoted relation name, for `to_regclass(...)`."""
    from psycopg import sql

    return sql.Literal(quote(table)).as_string()


def quote(table: TableRef) -> str:
    from psycopg import sql

    parts = (table.schema, table.name) if table.schema else (table.name,)
    return sql.Identifier(*parts).as_string()


def bare(db_type: str) -> str:
    """`numeric(5,2)` -> `numeric`, `character varying(20)[]` -> `character varying`."""
    import re

    return re.sub(r"\(.*?\)", "", db_type.removesuffix("[]")).strip()


def to_columns(rows: Sequence[Sequence[object]]) -> list[Column]:
    columns = []
    for name, db_type, nullable, base_type, kind in rows:
        base = "enum" if kind == "e" else str(base_type)
        arrow = postgres_type(str(base_type), "e" if kind == "e" else "b")
        logical, max_length = POSTGRES.logical_type(base)
        if logical is None:  # an array of a type with no logical twin: its declared spelling may have one
            logical, max_length = POSTGRES.logical_type(str(db_type))
        columns.append(Column(str(name), str(db_type), bool(nullable), base, arrow, logical, max_length))
    return columns


def natively_read(column: Column) -> bool:
    """True when ADBC returns this column's values in a form `conform` casts exactly."""
    return column.base_type == "enum" or bare(column.base_type) in NATIVE


def natively_written(column: Column) -> bool:
    """True when binary COPY accepts the Arrow twin of this column's type as ADBC encodes it.

    A type whose Arrow twin is the text fallback (numeric without precision) is not: ADBC will not
    encode a string as numeric, so such columns go through the text staging path.
    """
    import pyarrow as pa

    if column.base_type == "enum":
        return True
    name = bare(column.base_type)
    if name not in WRITABLE:
        return False
    element = (
        column.arrow_type.value_type if isinstance(column.arrow_type, pa.ListType) else column.arrow_type
    )
    return name in TEXT_LIKE or element != pa.string()
