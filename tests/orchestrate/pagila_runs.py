"""The example Pagila project as a warehouse runs write into (DuckDB file or PostgreSQL scratch database),
with helpers to run the CLI on it and look inside: what the selection, full refresh and backfill tests
share. Pagila is read from the test server; runs are subprocesses, as a user's are."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.cli.test_cli import run
from tests.matrix import DuckDBTarget, PostgresTarget, Target
from tests.pagila_project import copy_pagila_project, pagila_env, scratch_database

PG_JOB = """\
job:
  name: pagila_pg_daily
  pipelines: [pagila_bronze_pg]
  steps:
    - name: silver
      dbt: {project: transform/pagila, command: build, select: silver, destination: warehouse_pg}
      depends_on: [pagila_bronze_pg]
    - name: gold
      dbt: {project: transform/pagila, command: build, select: gold, destination: warehouse_pg}
      depends_on: [silver]
  execution: {mode: dag, max_parallelism: 2}
"""
JOBS = {"duckdb": ("pagila_daily", "pagila_bronze"), "postgres": ("pagila_pg_daily", "pagila_bronze_pg")}


@dataclass
class Warehouse:
    root: Path
    env: dict[str, str]
    target: Target
    job: str
    pipeline: str

    def datakit(self, *args: str) -> Any:
        return run("-p", str(self.root), *args, env=self.env)

    def run_job(self, *args: str) -> dict[str, Any]:
        done = self.datakit("run", "job", self.job, "--json", *args)
        assert done.stdout, done.stderr
        outcome: dict[str, Any] = json.loads(done.stdout)
        return outcome

    def plan(self, *args: str) -> dict[str, Any]:
        done = self.datakit("plan", "job", self.job, "--json", *args)
        assert done.returncode == 0, done.stderr
        plan: dict[str, Any] = json.loads(done.stdout)
        return plan

    def tables(self, schema: str) -> set[str]:
        found = self.target.query(
            "select table_name from information_schema.tables where table_schema = $1", [schema]
        )
        return {str(row[0]) for row in found}

    def dbt_nodes(self, run_id: int, step: str) -> dict[str, str]:
        """dbt's node results of a step of a run, from run history: label -> status."""
        from datakit.config import load_project
        from datakit.orchestrate.store import open_store

        store = open_store(load_project(self.root))
        try:
            record = next(s for s in store.get_run(run_id).steps if s.step_id == step)
        finally:
            store.close()
        assert record.details is not None
        return {_label(n["unique_id"]): n["status"] for n in record.details["nodes"]}


def _label(unique_id: str) -> str:
    """`model.pagila.customer` -> `silver.customer`; a test's id -> `silver.<test name>`."""
    kind, _, rest = unique_id.partition(".pagila.")
    name = re.sub(r"\.[0-9a-f]{10}$", "", rest)
    if kind == "model" or name.startswith(("not_null_", "unique_", "accepted_values_", "relationships_")):
        return f"silver.{name}"
    return name


def pagila_warehouse(engine: str, tmp_path: Path, pg_dsn: str, pagila_dsn: str) -> Iterator[Warehouse]:
    """A copy of the example on `engine` (a fixture's body); its jobs fail at once (no retry waits),
    and it has `pagila_pg_daily`, the daily job on PostgreSQL."""
    root = copy_pagila_project(tmp_path)
    (root / "config" / "jobs" / "pagila_pg_daily.yaml").write_text(PG_JOB)
    daily = root / "config" / "jobs" / "pagila_daily.yaml"
    daily.write_text(daily.read_text().replace("max_attempts: 3", "max_attempts: 1"))
    job, pipeline = JOBS[engine]
    if engine == "duckdb":
        target: Target = DuckDBTarget(root / "warehouse.duckdb", read_only=True)
        yield Warehouse(root, pagila_env(pagila_dsn), target, job, pipeline)
        return
    with scratch_database(pg_dsn) as warehouse_dsn:
        target = PostgresTarget(warehouse_dsn, "public")
        yield Warehouse(root, pagila_env(pagila_dsn, warehouse_dsn), target, job, pipeline)
