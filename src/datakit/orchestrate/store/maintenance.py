"""Keeping the state store's footprint honest: its size on disk, and giving back what a prune freed.

SQLite does not shrink a file by itself: deleted rows leave free pages inside it, and the WAL beside it
keeps its high-water mark. So a new store is created with `auto_vacuum=INCREMENTAL` (it must be set
before the first table), and after a prune `compact` returns the free pages (`incremental_vacuum`) and
checkpoints the WAL into the file and truncates it (`wal_checkpoint(TRUNCATE)`); between prunes,
`journal_size_limit` caps what a reset WAL keeps. A store created before auto-vacuum existed is
converted once by a full `VACUUM` on its first compaction. Each step takes the database's write lock
for a moment, like any other writer (`busy_timeout` queues them), so runs recording their steps in
another process carry on. PostgreSQL's autovacuum does this for its store; nothing to do there.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

WAL_LIMIT = 4 * 1024 * 1024
"""Bytes a WAL keeps after a checkpoint resets it (`journal_size_limit`)."""

SQLITE_PRAGMAS = (
    "PRAGMA auto_vacuum=INCREMENTAL",  # first: it only applies to a database without tables yet
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=30000",
    f"PRAGMA journal_size_limit={WAL_LIMIT}",
)
"""Run on every new SQLite connection of the store."""

_INCREMENTAL = 2


def sqlite_files(engine: Engine) -> list[Path]:
    """The database file and its WAL (the WAL may not exist)."""
    database = engine.url.database
    if not database:
        return []
    main = Path(database)
    return [main, main.with_name(main.name + "-wal")]


def store_size(engine: Engine, schema: str | None, tables: list[str]) -> int | None:
    """Bytes the store takes: SQLite's file and WAL, or PostgreSQL's tables with their indexes and
    TOAST (None when PostgreSQL does not say)."""
    if engine.dialect.name == "sqlite":
        return sum(path.stat().st_size for path in sqlite_files(engine) if path.exists())
    query = text(
        "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = COALESCE(CAST(:schema AS text), current_schema()) AND c.relkind = 'r' "
        "AND c.relname = ANY(:tables)"
    )
    with engine.connect() as conn:
        found = conn.execute(query, {"schema": schema, "tables": tables}).scalar()
    return None if found is None else int(found)


def compact(engine: Engine) -> None:
    """Give the space of deleted rows back to the file system (SQLite); a no-op elsewhere."""
    if engine.dialect.name != "sqlite":
        return
    raw: Any = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if cursor.execute("PRAGMA auto_vacuum").fetchone()[0] != _INCREMENTAL:
            cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
            cursor.execute("VACUUM")  # once: converts a store made before auto-vacuum
        else:
            # stepped to its end by executescript: `execute` would free a single page
            cursor.executescript("PRAGMA incremental_vacuum")
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        cursor.close()
    finally:
        raw.close()
