"""A project whose job appends a big PostgreSQL table (and a small one) into DuckDB or PostgreSQL.

Append is the disposition that shows a load made twice (every row twice), so it is what the kill and
resume tests run. The source tables live in a schema of their own in the given database; the targets
in `br__src__<that schema>`, in `warehouse.duckdb` or in the same database.
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SMALL = 10
STEPS = ("kb.small", "kb.big")


@dataclass(frozen=True)
class AppendProject:
    root: Path
    kind: str
    dsn: str
    rows: int
    source_schema: str

    @property
    def target_schema(self) -> str:
        return f"br__src__{self.source_schema}"

    @property
    def env(self) -> dict[str, str]:
        """Variables the project's YAML reads (the database's password, if the DSN has one)."""
        return {"KILL_TEST_PASSWORD": _params(self.dsn).get("password", "")}

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        if self.kind == "duckdb":
            import duckdb

            with duckdb.connect(str(self.root / "warehouse.duckdb"), read_only=True) as conn:
                return conn.execute(sql).fetchall()
        import psycopg

        with psycopg.connect(self.dsn) as conn:
            return conn.execute(sql).fetchall()

    def counts(self) -> dict[str, tuple[int, int]]:
        """`table -> (rows, distinct ids)` of both targets."""
        counts = {}
        for table in ("small", "big"):
            rows, ids = self.query(
                f'SELECT count(*), count(DISTINCT id) FROM "{self.target_schema}".{table}'
            )[0]
            counts[table] = (int(rows), int(ids))
        return counts

    def reset_targets(self) -> None:
        """Forget what was loaded (target tables and load records), keeping the source and the project."""
        if self.kind == "duckdb":
            for name in ("warehouse.duckdb", "warehouse.duckdb.wal"):
                (self.root / name).unlink(missing_ok=True)
            return
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.target_schema}" CASCADE')

    def last_run(self) -> tuple[int, str] | None:
        """(id, status) of the latest run in the project's state store (read without sweeping)."""
        path = self.root / ".datakit" / "state.db"
        if not path.exists():
            return None
        with sqlite3.connect(path) as db:
            row = db.execute("SELECT id, status FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def step_status(self, step: str) -> str | None:
        """The status of `step` in the latest run (None before the run recorded its steps)."""
        path = self.root / ".datakit" / "state.db"
        if not path.exists():
            return None
        with sqlite3.connect(path) as db:
            row = db.execute(
                "SELECT status FROM steps WHERE step_id = ? AND run_id = (SELECT max(id) FROM runs)", (step,)
            ).fetchone()
        return None if row is None else str(row[0])

    def forget_success(self, run_id: int, step: str) -> None:
        """As if the run was killed after `step` committed but before the state store heard of it."""
        with sqlite3.connect(self.root / ".datakit" / "state.db") as db:
            db.execute(
                "UPDATE runs SET status = 'abandoned', active_key = NULL, error = 'killed' WHERE id = ?",
                (run_id,),
            )
            db.execute(
                "UPDATE steps SET status = 'running', rows_read = NULL, rows_loaded = NULL, "
                "rows_rejected = NULL WHERE run_id = ? AND step_id = ?",
                (run_id, step),
            )


def _params(dsn: str) -> dict[str, str]:
    from psycopg.conninfo import conninfo_to_dict

    return {k: str(v) for k, v in conninfo_to_dict(dsn).items() if v is not None}


def append_project(root: Path, dsn: str, kind: str, rows: int) -> AppendProject:
    """Create the source tables (`big`: `rows` rows, `small`) in a new schema of `dsn`'s database and
    the project in `root`: job `j` loads both (append) into a `kind` destination, sequentially."""
    import psycopg

    schema = f"dk_src_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'CREATE TABLE "{schema}".big (id bigint, name text, score int)')
        conn.execute(
            f"INSERT INTO \"{schema}\".big SELECT g, 'name ' || g, g % 1000 FROM generate_series(1, {rows}) g"
        )
        conn.execute(f'CREATE TABLE "{schema}".small (id bigint)')
        conn.execute(f'INSERT INTO "{schema}".small SELECT generate_series(1, {SMALL})')
    params = _params(dsn)
    connection = (
        f"{{host: {params.get('host', '127.0.0.1')}, port: {params.get('port', '5432')}, "
        f"database: {params['dbname']}, user: {params.get('user', 'datakit')}, "
        "password_secret_key: kill_password}"
    )
    files = {
        "datakit.yaml": "name: killonce\ndefault_environment: dev\n"
        "state: {type: sqlite, path: .datakit/state.db}\n",
        "config/secrets_mapping.yaml": "secrets:\n  kill_password:\n    env_var: KILL_TEST_PASSWORD\n"
        "    required: false\n",
        "config/sources/src.yaml": f"source:\n  name: src\n  type: postgres\n  connection: {connection}\n"
        f"  schema: {schema}\n  resources:\n    - {{name: small, write_disposition: append}}\n"
        "    - {name: big, write_disposition: append}\n",
        "config/destinations/wh.yaml": (
            "destination:\n  name: wh\n  type: duckdb\n  connection: {database: warehouse.duckdb}\n"
            if kind == "duckdb"
            else f"destination:\n  name: wh\n  type: postgres\n  connection: {connection}\n"
        ),
        "config/pipelines/kb.yaml": "pipeline:\n  name: kb\n  source: {name: src}\n"
        "  destination: {name: wh, layer: bronze}\n",
        # a step per resource, on DuckDB too: the kills and resumes here are of steps
        "config/jobs/j.yaml": "job:\n  name: j\n  pipelines: [{name: kb, group_resources: false}]\n"
        "  execution: {mode: sequential}\n",
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return AppendProject(root, kind, dsn, rows, schema)
