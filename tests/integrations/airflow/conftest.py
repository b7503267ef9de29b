"""The Airflow environment the tests run compiled DAGs in, and helpers to compare warehouses.

Airflow is the optional extra `datakit[airflow]`. Tests that need it use the test interpreter when it
has Airflow, else `DATAKIT_AIRFLOW_PYTHON` (an interpreter with datakit and the extra installed);
without either they skip with the reason — or fail when `DATAKIT_REQUIRE_SERVICES=1` (CI), like the
other services. Airflow always runs in a subprocess with its own AIRFLOW_HOME and SQLite metadata
database, so it never creates ~/airflow and never configures itself inside pytest.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.services import services_required

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "dagtest_runner.py"


@dataclass(frozen=True)
class AirflowEnv:
    """An interpreter with Airflow and datakit, and a private AIRFLOW_HOME for each call."""

    python: str
    home: Path

    def env(self, dags: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
        self.home.mkdir(parents=True, exist_ok=True)
        return {
            **os.environ,
            **(extra or {}),
            "AIRFLOW_HOME": str(self.home),
            "DATAKIT_HOME": str(self.home / "datakit-home"),  # never the user's cache
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.home / 'airflow.db'}",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        }

    def run(
        self, args: list[str], dags: Path, extra: dict[str, str] | None = None, timeout: float = 600
    ) -> Any:
        """Run `python args...` with Airflow configured; the JSON of its last stdout line."""
        done = subprocess.run(
            [self.python, *args],
            env=self.env(dags, extra),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            pytest.fail(f"{args[0]} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}")
        return json.loads(lines[-1])

    def dag_test(self, dags: Path, dag_id: str, *options: str, extra: dict[str, str] | None = None) -> Any:
        """`dag.test()` of `dag_id` from the files in `dags`: the run's state and each task's."""
        return self.run([str(RUNNER), str(dags), dag_id, *options], dags, extra)


def _airflow_python() -> str | None:
    if importlib.util.find_spec("airflow") is not None:
        return sys.executable
    candidate = os.environ.get("DATAKIT_AIRFLOW_PYTHON")
    return candidate if candidate and Path(candidate).exists() else None


@pytest.fixture
def airflow_env(tmp_path: Path) -> AirflowEnv:
    """Airflow to run DAGs with (skips, or fails in CI, when the extra is not installed)."""
    python = _airflow_python()
    if python is None:
        message = (
            "Airflow is not installed (pip install -e '.[airflow]', or set DATAKIT_AIRFLOW_PYTHON "
            "to an interpreter that has datakit[airflow])"
        )
        if services_required():
            pytest.fail(f"{message} — DATAKIT_REQUIRE_SERVICES=1 forbids skipping", pytrace=False)
        pytest.skip(message)
    return AirflowEnv(python=python, home=tmp_path / "airflow-home")


VOLATILE = {
    "_dk_load_id",
    "_dk_loaded_at",
    "_dk_rejected_at",
    "load_id",
    "run_id",  # the run a load was part of: a DAG run in Airflow, a datakit run locally
    "recorded_by",  # `_datakit.tables`: "load <load id>" of the load that created the table
    "loaded_at",
    "started_at",
    "finished_at",
    "systime",  # the transactional mixin's "this version was written here"
    "_dk_valid_from",  # history: versions start when they were written
    "_dk_valid_to",
}
"""Columns that differ between two runs of the same data (ids and clock times of the load itself)."""


def _digest(rows: list[tuple[Any, ...]], root: Path | None = None) -> str:
    lines = sorted(repr(row) for row in rows)
    if root is not None:  # a file's path recorded with its rows (`_dk_file`): the same file in each copy
        lines = sorted(line.replace(str(root), "<project>") for line in lines)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def duckdb_fingerprint(database: Path, root: Path | None = None) -> dict[str, tuple[int, str]]:
    """`schema.table -> (row count, checksum of its rows)` for every table, volatile columns left out;
    `root` (the project the data came from) is written `<project>` in values, so copies compare equal."""
    import duckdb

    with duckdb.connect(str(database), read_only=True) as conn:
        columns = conn.execute(
            "select table_schema, table_name, column_name, data_type from information_schema.columns "
            "order by table_schema, table_name, ordinal_position"
        ).fetchall()
        return _fingerprint(columns, lambda sql: conn.execute(sql).fetchall(), root)


def postgres_fingerprint(dsn: str, prefix: str) -> dict[str, tuple[int, str]]:
    """The same fingerprint over the tables of the schemas named `prefix...` in a PostgreSQL database."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        columns = conn.execute(
            "select table_schema, table_name, column_name, data_type from information_schema.columns "
            "where starts_with(table_schema, %s) order by table_schema, table_name, ordinal_position",
            (prefix,),
        ).fetchall()
        return _fingerprint(columns, lambda sql: conn.execute(sql).fetchall())


def _fingerprint(
    columns: list[tuple[Any, ...]], fetch: Any, root: Path | None = None
) -> dict[str, tuple[int, str]]:
    tables: dict[tuple[str, str], list[str]] = {}
    for schema, table, column, data_type in columns:
        volatile = column in VOLATILE or (schema.endswith("_datakit") and "timestamp" in data_type.lower())
        tables.setdefault((schema, table), [])
        if not volatile:
            tables[(schema, table)].append(column)
    out: dict[str, tuple[int, str]] = {}
    for (schema, table), kept in sorted(tables.items()):
        listed = ", ".join(f'"{c}"' for c in kept) or "1"
        rows = fetch(f'select {listed} from "{schema}"."{table}"')
        out[f"{schema}.{table}"] = (len(rows), _digest(rows, root))
    return out


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under `root`: relative path -> (size, modification time), to see what a run wrote."""
    return {
        str(path.relative_to(root)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(root.rglob("*"))
        if path.is_file() or path.is_symlink()
    }


def changed(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> list[str]:
    """The files created, changed or deleted between two `tree`s."""
    return sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
