"""The Pagila warehouse on Spark equals the one on DuckDB (issue 18): the same project, only the
destination differs. Bronze is loaded by `datakit run pipeline` (validated by Spark), silver and gold
by dbt-spark's session method, the silver checks run as Spark SQL; every gold table then has the row
count and checksum of DuckDB's. Each step runs in a child process, as a job's steps do (and the test
process may already hold a Spark session of its own: one per process).

Slow (several Spark starts on two cores): `pytest -m "spark and slow" tests/warehouse`.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.matrix import DuckDBTarget
from tests.pagila_project import copy_pagila_project, pagila_env
from tests.warehouse.conftest import DBT_PROJECT, Warehouse, load_bronze, run_dbt_step, subprocess_run

pytestmark = [pytest.mark.spark, pytest.mark.slow]

_GOLD_AND_CHECKS = """
import json, sys
from pathlib import Path
from datakit.config import load_project
from datakit.connectors.from_config import open_destination_named
from datakit.quality.runner import run_check_suite
from tests.warehouse.fingerprint import fingerprint

root, destination, out = sys.argv[1:4]
project = load_project(Path(root))
checks = run_check_suite(project, "silver_quality", destination=destination)
warehouse = open_destination_named(project, destination)
gold = {}
with warehouse.session() as session:
    for table in session.tables():
        if table.schema == "gold":
            columns, rows = session.query(f"SELECT * FROM {warehouse.engine.quote('gold', table.name)}")
            gold[table.name] = fingerprint(columns, rows)
result = {
    "checks": [[f"{c.table}:{c.name}", c.status, c.error] for c in checks.results],
    "gold": gold,
}
Path(out).write_text(json.dumps(result))
"""


SPARK_CONFIG = Path(__file__).with_name("spark_config")
"""The example's Spark destination and bronze pipeline (added to a copy of the example)."""


def with_spark(project: Path) -> Path:
    """`project` (a copy of examples/pagila) with a Spark destination and its bronze pipeline."""
    shutil.copy(SPARK_CONFIG / "warehouse_spark.yaml", project / "config/destinations/")
    shutil.copy(SPARK_CONFIG / "pagila_bronze_spark.yaml", project / "config/pipelines/")
    return project


def _build(tmp: Path, engine: str, pagila_dsn: str) -> Warehouse:
    """The example project copied to `tmp`, reading Pagila from the test server."""
    project = with_spark(copy_pagila_project(tmp))
    shutil.rmtree(project / DBT_PROJECT / "target", ignore_errors=True)
    env = pagila_env(pagila_dsn) | {"SPARK_WAREHOUSE": str(project / "spark-warehouse")}
    target = DuckDBTarget(project / "warehouse.duckdb", read_only=True)  # read for DuckDB only
    return _Engine(project, env, target, engine)


def _facts(warehouse: Warehouse, destination: str) -> dict[str, Any]:
    out = warehouse.project / ".facts.json"
    done = subprocess_run(
        [sys.executable, "-c", _GOLD_AND_CHECKS, str(warehouse.project), destination, str(out)],
        warehouse.env | {"PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert done.returncode == 0 and out.is_file(), done.stdout[-4000:] + done.stderr[-4000:]
    facts: dict[str, Any] = json.loads(out.read_text())
    return facts


class _Engine(Warehouse):
    """A Warehouse whose engine is given (its target serves DuckDB only: Spark is read by a child)."""

    def __init__(self, project: Path, env: dict[str, str], target: DuckDBTarget, engine: str) -> None:
        super().__init__(project, env, target)
        self._kind = engine

    @property
    def engine(self) -> Any:
        return self._kind


def test_pagila_gold_on_spark_equals_duckdb(tmp_path: Path, pagila_dsn: str) -> None:
    facts = {}
    for engine in ("duckdb", "spark"):
        warehouse = _build(tmp_path / engine, engine, pagila_dsn)
        load_bronze(warehouse)
        run_dbt_step(warehouse)
        facts[engine] = _facts(warehouse, warehouse.destination)
    duckdb, spark = facts["duckdb"], facts["spark"]
    assert spark["checks"] and all(status == "passed" for _, status, _ in spark["checks"]), spark["checks"]
    assert sorted(c for c, _, _ in spark["checks"]) == sorted(c for c, _, _ in duckdb["checks"])
    assert set(duckdb["gold"]) == set(spark["gold"]) and duckdb["gold"]
    for table, expected in duckdb["gold"].items():
        assert expected["rows"] > 0, table
        assert spark["gold"][table] == expected, table
