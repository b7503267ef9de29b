"""`datakit plan job`, `run job`, `runs` end to end on a new project (SQLite source -> DuckDB)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from datakit.config import load_project
from datakit.orchestrate.store import open_store
from tests.cli.test_cli import run
from tests.integrations.airflow.projects import step_per_resource


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    created = run("init", str(root))
    assert created.returncode == 0, created.stderr
    return root


def test_plan_run_history_resume(tmp_path: Path) -> None:
    root = _project(tmp_path)
    step_per_resource(root)  # (a grouped step's resume: tests/orchestrate/test_grouped_loads.py)
    planned = run("plan", "job", "daily", "--json", cwd=root)
    assert planned.returncode == 0, planned.stderr
    assert [s["id"] for s in json.loads(planned.stdout)["steps"]] == [
        "shop_bronze.customers",
        "shop_bronze.orders",
    ]

    first = run("run", "job", "daily", cwd=root)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "run 1 of job daily succeeded" in first.stdout

    # break the second resource: its load fails (terminal, so no retry waits), the run stops there
    with sqlite3.connect(root / "data" / "shop.sqlite") as db:
        db.execute("alter table orders rename to orders_away")
    failed = run("run", "job", "daily", "--json", cwd=root)
    assert failed.returncode == 1
    outcome = json.loads(failed.stdout)
    assert outcome["steps"] == {"shop_bronze.customers": "succeeded", "shop_bronze.orders": "failed"}
    assert outcome["resume"] == "datakit run job daily --resume 2"

    with sqlite3.connect(root / "data" / "shop.sqlite") as db:
        db.execute("alter table orders_away rename to orders")
    resumed = run("run", "job", "daily", "--resume", "2", cwd=root)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "= shop_bronze.customers: reused" in resumed.stdout

    listed = json.loads(run("runs", "--json", cwd=root).stdout)
    assert [(r["id"], r["status"], r["resumed_from"]) for r in listed] == [
        (3, "succeeded", 2),
        (2, "failed", None),
        (1, "succeeded", None),
    ]
    table = run("runs", cwd=root, env={"COLUMNS": ""}).stdout  # piped, as `datakit runs | grep` is
    assert (
        "…" not in table
        and "succeeded" in table
        and "shop_bronze.customers" in run("runs", "show", "1", cwd=root, env={"COLUMNS": ""}).stdout
    )
    failed_only = json.loads(run("runs", "--status", "failed", "--job", "daily", "--json", cwd=root).stdout)
    assert [r["id"] for r in failed_only] == [2]

    shown = run("runs", "show", "2", "--logs", cwd=root)
    assert shown.returncode == 0, shown.stderr
    assert "shop_bronze.orders attempt 1" in shown.stderr
    assert "resume with: datakit run job daily --resume 2" in shown.stdout
    detail = json.loads(run("runs", "show", "1", "--json", cwd=root).stdout)
    assert [(s["rows_read"], s["rows_loaded"]) for s in detail["steps"]] == [(50, 50), (200, 200)]


def test_one_active_run_per_job(tmp_path: Path) -> None:
    root = _project(tmp_path)
    store = open_store(load_project(root))
    try:
        active = store.start_run("daily", "{}")  # held by this (living) test process
        refused = run("run", "job", "daily", cwd=root)
        assert refused.returncode == 1
        assert f"already running: run {active}" in refused.stderr
        allowed = run("run", "job", "daily", "--allow-concurrent", cwd=root)
        assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    finally:
        store.close()
