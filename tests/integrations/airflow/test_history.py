"""Airflow's task runs in datakit's one run history: `dag.test()` runs a compiled DAG, then `datakit runs`
and the status pages show that run, marked engine=airflow, with every attempt Airflow made."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

from datakit.config import load_project
from datakit.integrations.airflow.compile import compile_dags, write_dags
from datakit.orchestrate.store import open_store
from datakit.server.pages import page_routes
from tests.integrations.airflow.conftest import AirflowEnv
from tests.integrations.airflow.projects import shop_project


def datakit_runs(root: Path, *args: str) -> Any:
    """`datakit runs ... --json` of the project, in a subprocess as a user types it."""
    env = {k: v for k, v in os.environ.items() if k != "ENVIRONMENT"}
    done = subprocess.run(
        [sys.executable, "-m", "datakit", "--project", str(root), "runs", *args, "--json"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def status_page(root: Path, path: str) -> str:
    from starlette.applications import Starlette
    from starlette.exceptions import StarletteDeprecationWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StarletteDeprecationWarning)
        from starlette.testclient import TestClient

    project = load_project(root, environment="dev")
    store = open_store(project)
    try:
        with TestClient(Starlette(routes=page_routes(project, store))) as client:
            response = client.get(path)
            assert response.status_code == 200, response.text
            return response.text
    finally:
        store.close()


def test_dag_runs_are_in_datakit_run_history_as_airflow_runs(tmp_path: Path, airflow_env: AirflowEnv) -> None:
    root = shop_project(tmp_path / "shop")
    dags = tmp_path / "dags"
    files = compile_dags(load_project(root, environment="dev"), out=dags)
    write_dags(files, dags, project=files[0].project)

    # a transient failure of `orders` is retried by Airflow: both tries are recorded
    retried = airflow_env.dag_test(dags, "datakit__daily", "--fail-once", "shop_bronze.orders")
    assert retried["state"] == "success"
    # a terminal failure of `customers`: not retried, and `orders` never runs
    failed = airflow_env.dag_test(dags, "datakit__daily", "--fail-terminal", "shop_bronze.customers")
    assert failed["state"] == "failed"

    newest, oldest = datakit_runs(root, "--engine", "airflow")
    assert datakit_runs(root, "--engine", "local") == []
    assert (oldest["engine"], oldest["job"], oldest["status"]) == ("airflow", "daily", "succeeded")
    assert oldest["external_id"].startswith("airflow:datakit__daily:")
    assert oldest["pid"] == 0  # detached: each step ran in a task process of its own
    assert oldest["error"] is None and oldest["finished_at"] >= oldest["started_at"]

    shown = datakit_runs(root, "show", str(oldest["id"]))
    steps = {s["step_id"]: s for s in shown["steps"]}
    assert {k: (s["status"], s["attempts"], s["rows_loaded"]) for k, s in steps.items()} == {
        "shop_bronze.customers": ("succeeded", 1, 50),
        "shop_bronze.orders": ("succeeded", 2, 200),
    }
    first, second = steps["shop_bronze.orders"]["attempt_records"]
    assert first["status"] == "failed" and "injected transient failure" in first["error"]
    assert first["transient"] is True and first["retry_in"] == 1.0
    assert second["status"] == "succeeded"

    assert (newest["status"], newest["error"]) == (
        "failed",
        "1 failed: shop_bronze.customers; 1 skipped: shop_bronze.orders",
    )
    shown = datakit_runs(root, "show", str(newest["id"]))
    customers, orders = shown["steps"]
    assert (customers["status"], customers["attempts"], orders["status"]) == ("failed", 1, "skipped")
    assert "injected terminal failure of shop_bronze.customers" in customers["error"]

    page = status_page(root, "/")
    assert page.count('<td class="engine">airflow</td>') == 2
    assert f'data-run="{oldest["id"]}" data-status="succeeded"' in page
    run_page = status_page(root, f"/runs/{oldest['id']}")
    assert '<dd class="engine">airflow · ' in run_page and oldest["external_id"] in run_page
    assert 'data-step="shop_bronze.orders" data-status="succeeded"' in run_page
