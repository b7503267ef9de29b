"""report.html from a run recorded with the store API: steps, tables per layer, checks, lineage."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from datakit.demo.project import BRONZE_SCHEMA, JOB, create_demo_project
from datakit.demo.report import write_report

if TYPE_CHECKING:
    from datakit.config.project import Project


class Clock:
    def __init__(self) -> None:
        self.now = 1_780_000_000.0

    def __call__(self) -> float:
        self.now += 0.5
        return self.now


LOADS = ("actor", "film")
STEPS = [f"dvdrental_bronze.{t}" for t in LOADS] + ["silver", "silver_checks", "gold"]
CHECKS = {
    "suite": "silver_quality",
    "destination": "warehouse",
    "ok": False,
    "checks": [
        {"table": "silver.actor", "check": "unique", "name": "unique(actor_id)", "severity": "error",
         "status": "passed", "failing_rows": 0, "summary": "silver.actor unique(actor_id): passed"},
        {"table": "silver.actor", "check": "expression", "name": "<b>bold</b> & co", "severity": "warn",
         "status": "failed", "failing_rows": 3, "summary": "3 rows"},
    ],
}  # fmt: skip
MANIFEST = {
    "sources": {
        f"source.pagila.{BRONZE_SCHEMA}.{t}": {"name": t, "identifier": t, "schema": BRONZE_SCHEMA}
        for t in LOADS
    },
    "nodes": {
        "model.pagila.actor": {
            "resource_type": "model", "name": "actor", "schema": "silver",
            "depends_on": {"nodes": [f"source.pagila.{BRONZE_SCHEMA}.actor"]},
        },
        "model.pagila.film": {
            "resource_type": "model", "name": "film", "schema": "silver",
            "depends_on": {"nodes": [f"source.pagila.{BRONZE_SCHEMA}.film"]},
        },
        "model.pagila.dim_film": {
            "resource_type": "model", "name": "dim_film", "schema": "gold",
            "depends_on": {"nodes": ["model.pagila.film", "model.pagila.actor"]},
        },
        "test.pagila.unique_actor": {"resource_type": "test", "name": "unique_actor", "schema": "silver",
                                      "depends_on": {"nodes": ["model.pagila.actor"]}},
    },
}  # fmt: skip


def _plan() -> str:
    steps = [
        {
            "id": f"dvdrental_bronze.{t}",
            "kind": "load",
            "params": {"pipeline": "dvdrental_bronze", "resource": t},
        }
        for t in LOADS
    ]
    steps += [
        {"id": "silver", "kind": "dbt"},
        {"id": "silver_checks", "kind": "checks"},
        {"id": "gold", "kind": "dbt"},
    ]
    return json.dumps({"job": JOB, "steps": steps})


@pytest.fixture
def recorded(tmp_path: Path) -> tuple[Project, int]:
    """A demo project with one failed run: loads and silver ran, a check failed, gold was skipped."""
    import duckdb

    from datakit.config import load_project
    from datakit.orchestrate.store import RunStatus, StepStatus, open_store

    root = create_demo_project(tmp_path / "demo", scale=0.02)
    project = load_project(root)
    with duckdb.connect(str(root / "warehouse.duckdb")) as conn:
        for schema in (BRONZE_SCHEMA, "silver", "gold", "_datakit"):
            conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"CREATE TABLE {BRONZE_SCHEMA}.actor AS SELECT range AS actor_id FROM range(7)")
        conn.execute(f"CREATE TABLE {BRONZE_SCHEMA}.actor__rejected AS SELECT 1 AS actor_id")
        conn.execute(f"CREATE TABLE {BRONZE_SCHEMA}.film AS SELECT range AS film_id FROM range(11)")
        conn.execute(f"CREATE TABLE {BRONZE_SCHEMA}.film__history AS SELECT 1 AS film_id")
        conn.execute("CREATE TABLE silver.actor AS SELECT range AS actor_id FROM range(7)")
        conn.execute("CREATE TABLE silver.film AS SELECT range AS film_id FROM range(11)")
        conn.execute("CREATE TABLE _datakit.loads AS SELECT 1 AS load_id")
    manifest = root / ".datakit/dbt/pagila/_default/warehouse/target/manifest.json"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps(MANIFEST))

    store = open_store(project, clock=Clock())
    try:
        run_id = store.start_run(JOB, _plan())
        store.add_steps(run_id, STEPS)
        for step, rows in zip(STEPS[:2], (7, 11), strict=True):
            store.attempt_started(run_id, step, 1)
            store.attempt_finished(
                run_id, step, 1, rows={"rows_read": rows, "rows_loaded": rows, "rows_rejected": 0}
            )
        store.attempt_started(run_id, "silver", 1)
        store.attempt_finished(run_id, "silver", 1, details={"kind": "dbt", "success": True})
        store.attempt_started(run_id, "silver_checks", 1)
        store.attempt_finished(
            run_id, "silver_checks", 1, error="1 error check failed: <oops>", details=CHECKS
        )
        store.mark_steps(run_id, ["gold"], StepStatus.SKIPPED)
        store.finish_run(run_id, RunStatus.FAILED, "1 failed: silver_checks; 1 skipped: gold")
    finally:
        store.close()
    return project, run_id


def test_report_shows_steps_tables_checks_and_lineage(recorded: tuple[Project, int], tmp_path: Path) -> None:
    project, run_id = recorded
    out = write_report(project, run_id, tmp_path / "out" / "report.html")
    html = out.read_text(encoding="utf-8")

    assert f"Run {run_id} of job <code>demo</code>" in html
    assert 'class="run-status status-failed"' in html
    steps = re.findall(r'<tr class="step status-(\w+)" data-step="([^"]+)"', html)
    assert steps == [
        ("succeeded", "dvdrental_bronze.actor"),
        ("succeeded", "dvdrental_bronze.film"),
        ("succeeded", "silver"),
        ("failed", "silver_checks"),
        ("skipped", "gold"),
    ]
    assert html.count('class="bar ') == 4  # the skipped step has no bar

    tables = re.findall(r'class="table-row" data-layer="(\w+)" data-table="([^"]+)" data-rows="(\d+)"', html)
    assert tables == [
        ("bronze", f"{BRONZE_SCHEMA}.actor", "7"),
        ("bronze", f"{BRONZE_SCHEMA}.film", "11"),
        ("silver", "silver.actor", "7"),
        ("silver", "silver.film", "11"),
    ]  # side tables (__rejected, __history) and _datakit are not warehouse tables

    checks = re.findall(r'<tr class="check (\w+)" data-check="([^"]*)" data-table="([^"]+)"', html)
    assert checks == [
        ("passed", "unique(actor_id)", "silver.actor"),
        ("failed", "&lt;b&gt;bold&lt;/b&gt; &amp; co", "silver.actor"),
    ]
    assert "<b>bold</b>" not in html  # autoescaped
    assert "&lt;oops&gt;" in html

    nodes = re.findall(r'class="lineage-node layer-(\w+)" data-id="([^"]+)"', html)
    assert sorted(nodes) == sorted(
        [
            ("source", "source:actor"),
            ("source", "source:film"),
            ("bronze", "bronze:actor"),
            ("bronze", "bronze:film"),
            ("silver", "silver:actor"),
            ("silver", "silver:film"),
            ("gold", "gold:dim_film"),
        ]
    )
    edges = set(re.findall(r'class="lineage-edge" data-from="([^"]+)" data-to="([^"]+)"', html))
    assert edges == {
        ("source:actor", "bronze:actor"),
        ("source:film", "bronze:film"),
        ("bronze:actor", "silver:actor"),
        ("bronze:film", "silver:film"),
        ("silver:actor", "gold:dim_film"),
        ("silver:film", "gold:dim_film"),
    }


def test_report_is_self_contained(recorded: tuple[Project, int], tmp_path: Path) -> None:
    project, run_id = recorded
    html = write_report(project, run_id, tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<script" not in html
    assert not re.search(r'\s(src|href)="', html)
    linked = write_report(project, run_id, tmp_path / "linked.html", docs="docs/index.html")
    assert re.findall(r'\s(?:src|href)="([^"]*)"', linked.read_text(encoding="utf-8")) == [
        "docs/index.html",
        "docs/index.html#/graph",
    ]  # the docs beside it, nothing fetched from elsewhere
    assert "@import" not in html and "url(" not in html
    assert re.findall(r"https?://[^\"' ]+", html) == [
        "http://www.w3.org/2000/svg"
    ]  # a namespace, not fetched
