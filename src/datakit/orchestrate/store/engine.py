"""The store's SQLAlchemy engine: SQLite with WAL and `BEGIN IMMEDIATE` on every transaction, or PostgreSQL.

Why `BEGIN IMMEDIATE`, even for reads: a transaction takes SQLite's one write lock at its start and
queues for it on `busy_timeout`, instead of failing on a lock upgrade halfway (see `sql.py`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event

from datakit.orchestrate.store.maintenance import SQLITE_PRAGMAS

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine


def make_engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
        cursor = dbapi_conn.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"
