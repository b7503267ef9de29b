"""The Pagila sample database as a test and benchmark fixture, created on demand with psql.

Loading is idempotent and safe under pytest-xdist: every worker takes the same PostgreSQL advisory lock
on the admin connection, and the first one builds the database under a temporary name and renames it
into place, so a database called `pagila` is either absent or complete (a killed load leaves only the
temporary name, which the next attempt drops). Scaled copies (`copies=124` ~2M rows, `copies=620` ~10M
rows in rental and payment) go in their own databases and are created only by the benchmark.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

PAGILA_DIR = Path(
    os.environ.get("DATAKIT_PAGILA_DIR", Path(__file__).resolve().parent / "fixtures" / "pagila")
)
BASE_ROWS = {"rental": 16044, "payment": 16049}
UNSCALED_ROWS = {
    "actor": 200,
    "address": 603,
    "category": 16,
    "city": 600,
    "country": 109,
    "customer": 599,
    "film": 1000,
    "film_actor": 5462,
    "film_category": 2367,
    "inventory": 4581,
    "language": 6,
    "payment": 16049,
    "rental": 16044,
    "staff": 1500,
    "store": 500,
}
TABLES = sorted(UNSCALED_ROWS)
"""Every Pagila table, in name order."""
_LOCK_KEY = 0x7061_6769  # "pagi"; the second key is the database name, so builds of different sizes overlap


def expected_rows(copies: int = 0) -> dict[str, int]:
    """Row counts of every Pagila table after `scale.sql` ran with `copies` (0: unscaled)."""
    rows = dict(UNSCALED_ROWS)
    for table, base in BASE_ROWS.items():
        rows[table] = base * (1 + copies)
    return rows


def ensure_pagila(admin_dsn: str, dbname: str = "pagila", copies: int = 0) -> str:
    """Create and load database `dbname` unless it already holds Pagila with the expected row counts.

    `admin_dsn` must name a role that may create databases and objects owned by `postgres`. Returns the
    DSN of the Pagila database (same server and credentials as `admin_dsn`).
    """
    import psycopg
    from psycopg import sql

    dsn = _with_dbname(admin_dsn, dbname)
    if _is_complete(dsn, copies):
        return dsn
    building = f"{dbname}__building"
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (_LOCK_KEY, dbname))
        try:
            if _is_complete(dsn, copies):  # another worker finished while we waited for the lock
                return dsn
            for name in (building, dbname):
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(building)))
            files = ["pagila-schema.sql", "pagila-data.sql"] + (["scale.sql"] if copies else [])
            for file in files:
                _psql(_with_dbname(admin_dsn, building), PAGILA_DIR / file, copies)
            admin.execute(
                sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                    sql.Identifier(building), sql.Identifier(dbname)
                )
            )
        finally:
            admin.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (_LOCK_KEY, dbname))
    if not _is_complete(dsn, copies):
        raise RuntimeError(f"Pagila database {dbname!r} was loaded but its row counts are wrong")
    return dsn


def _is_complete(dsn: str, copies: int) -> bool:
    import psycopg

    try:
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            for table, rows in expected_rows(copies).items():
                found = conn.execute(f"SELECT count(*) FROM public.{table}").fetchone()  # names are ours
                if found is None or found[0] != rows:
                    return False
    except psycopg.Error:
        return False
    return True


def _with_dbname(dsn: str, dbname: str) -> str:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(dsn)
    params["dbname"] = dbname
    return make_conninfo("", **params)


def _psql(dsn: str, file: Path, copies: int) -> None:
    """Run one SQL file with psql; connection parameters go in PG* variables so no password is on argv."""
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(dsn)
    names = {
        "host": "PGHOST",
        "port": "PGPORT",
        "user": "PGUSER",
        "password": "PGPASSWORD",
        "dbname": "PGDATABASE",
    }
    env = {**os.environ, **{names[k]: str(v) for k, v in params.items() if k in names and v is not None}}
    cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", f"copies={copies}", "-f", str(file)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"psql failed on {file.name}: {done.stderr.strip()[-2000:]}")
