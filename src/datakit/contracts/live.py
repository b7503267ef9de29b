"""The columns a table has right now, read from the database's catalog.

Drift detection compares these with a contract. Only the catalog is read (no SQLAlchemy reflection
machinery), so it is cheap enough for the loader to run before every load. Types come back as logical
types through `sqltypes.logical_from_sql`, the inverse of what the DDL writes; PostgreSQL enums and
domains are resolved to what they store (text, the domain's base type).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from datakit.contracts.sqltypes import Dialect, logical_from_sql
from datakit.contracts.types import LogicalType

if TYPE_CHECKING:
    import duckdb
    import psycopg


@dataclass(frozen=True)
class LiveColumn:
    """One column as the database has it."""

    name: str
    native_type: str  # the catalog's own spelling, for messages
    type: LogicalType | None  # None: no logical equivalent
    nullable: bool
    max_length: int | None = None
    dialect: Dialect | None = None


_POSTGRES_COLUMNS = """
SELECT a.attname,
       format_type(a.atttypid, a.atttypmod),
       NOT a.attnotnull AND NOT coalesce(t.typnotnull, false),
       t.typtype,
       CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""

_DUCKDB_COLUMNS = """
SELECT column_name, data_type, is_nullable = 'YES'
FROM information_schema.columns
WHERE table_schema = ? AND table_name = ?
ORDER BY ordinal_position
"""


def live_columns_postgres(connection: psycopg.Connection[Any], table: str, schema: str) -> list[LiveColumn]:
    """Columns of `schema.table` in PostgreSQL, in table order; an absent table has none."""
    rows = connection.execute(_POSTGRES_COLUMNS, (schema, table)).fetchall()
    columns = []
    for name, native, nullable, typtype, domain_base in rows:
        stored = domain_base if typtype == "d" else native  # enums fall back to string in logical_from_sql
        logical, max_length = logical_from_sql(stored, Dialect.POSTGRES)
        columns.append(LiveColumn(name, native, logical, bool(nullable), max_length, Dialect.POSTGRES))
    return columns


def live_columns_duckdb(connection: duckdb.DuckDBPyConnection, table: str, schema: str) -> list[LiveColumn]:
    """Columns of `schema.table` in DuckDB, in table order; an absent table has none."""
    rows = connection.execute(_DUCKDB_COLUMNS, [schema, table]).fetchall()
    columns = []
    for name, native, nullable in rows:
        logical, max_length = logical_from_sql(native, Dialect.DUCKDB)
        columns.append(LiveColumn(name, native, logical, bool(nullable), max_length, Dialect.DUCKDB))
    return columns


def live_columns(connection: Any, table: str, schema: str) -> list[LiveColumn]:
    """Columns of `schema.table` through a DuckDB or a psycopg connection, whichever is given."""
    from datakit.contracts.deploy import connection_dialect

    try:
        dialect = connection_dialect(connection)
    except TypeError:
        raise TypeError(
            f"live_columns needs a duckdb or psycopg connection, not {type(connection).__qualname__}"
        ) from None
    if dialect is Dialect.DUCKDB:
        return live_columns_duckdb(connection, table, schema)
    return live_columns_postgres(connection, table, schema)
