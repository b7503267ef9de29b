"""Scale knobs of compiled DAGs: a pool per destination (so many tenants on one warehouse cannot exhaust
it), priority_weight and queue per job or warehouse (the warehouse's wins), all in the YAML, validated
with errors that name file:line; `datakit airflow pools` writes the pools for `airflow pools import`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from datakit.config import load_project
from datakit.integrations.airflow.compile import compile_dags, pools, write_dags
from tests.integrations.airflow.conftest import HERE, AirflowEnv
from tests.integrations.airflow.projects import copy_jaffle_project
from tests.integrations.airflow.test_compile import cli, literals
from tests.pagila_project import copy_pagila_project


def tasks_of(source: str) -> dict[str, dict[str, object]]:
    return literals(source)["TASKS"]  # type: ignore[no-any-return]


def scaled_jaffle(parent: Path) -> Path:
    """jaffle_shop with scale settings: both tenants' destinations share one pool of 2 slots, the job
    has a priority and a queue, acme overrides the priority."""
    root = copy_jaffle_project(parent)
    config = root / "datakit.yaml"
    config.write_text(config.read_text() + "airflow:\n  pool_slots: 6\n  queue: datakit\n")
    for tenant in ("acme", "globex"):
        destination = root / f"config/destinations/{tenant}_warehouse.yaml"
        text = destination.read_text()
        destination.write_text(
            text.replace("  type: duckdb\n", "  type: duckdb\n  airflow: {pool: shop_pg, pool_slots: 2}\n", 1)
        )
    job = root / "config/jobs/jaffle_daily.yaml"
    job.write_text(job.read_text() + "  airflow: {priority_weight: 5, queue: heavy}\n")
    acme = root / "config/warehouses/acme.yaml"
    acme.write_text(acme.read_text() + "  airflow: {priority_weight: 50}\n")
    return root


def test_pools_per_destination_priority_and_queue_per_job_and_warehouse(tmp_path: Path) -> None:
    files = {f.dag_id: f for f in compile_dags(load_project(scaled_jaffle(tmp_path), environment="dev"))}
    acme = tasks_of(files["datakit__acme__jaffle_daily"].source)
    globex = tasks_of(files["datakit__globex__jaffle_daily"].source)
    own = tasks_of(files["datakit__jaffle_daily"].source)
    # every task of a DAG works in its destination: the tenants share the pool their destinations name
    assert {t["pool"] for t in acme.values()} == {t["pool"] for t in globex.values()} == {"shop_pg"}
    assert {t["pool"] for t in own.values()} == {"datakit__warehouse"}
    # priority: acme's own over the job's; queue: the job's over the project's
    assert {(t["priority_weight"], t["queue"]) for t in acme.values()} == {(50, "heavy")}
    assert {(t["priority_weight"], t["queue"]) for t in globex.values()} == {(5, "heavy")}

    used, warnings = pools(list(files.values()))
    assert {name: pool.slots for name, pool in used.items()} == {"shop_pg": 2, "datakit__warehouse": 6}
    assert warnings == []


def test_the_pools_command_writes_what_airflow_imports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = scaled_jaffle(tmp_path)
    out = tmp_path / "pools.json"
    assert cli(["airflow", "pools", "--project", str(root), "--out", str(out)]) == 0
    assert json.loads(out.read_text()) == {
        "datakit__warehouse": {
            "slots": 6,
            "description": "datakit project jaffle_shop: tasks working in destination warehouse",
            "include_deferred": False,
        },
        "shop_pg": {
            "slots": 2,
            "description": "datakit project jaffle_shop: tasks working in destination acme_warehouse",
            "include_deferred": False,
        },
    }
    # a pool two destinations share with different sizes: the larger, and a warning
    globex = root / "config/destinations/globex_warehouse.yaml"
    globex.write_text(globex.read_text().replace("pool_slots: 2", "pool_slots: 3"))
    capsys.readouterr()
    assert cli(["airflow", "pools", "--project", str(root)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["shop_pg"]["slots"] == 3
    assert "pool 'shop_pg': destinations 'acme_warehouse' and 'globex_warehouse' ask for 2 and 3" in " ".join(
        captured.err.split()
    )


def test_pools_can_be_turned_off(tmp_path: Path) -> None:
    root = copy_pagila_project(tmp_path)
    config = root / "datakit.yaml"
    config.write_text(config.read_text() + "airflow: {pool_per_destination: false}\n")
    files = compile_dags(load_project(root, environment="dev"))
    assert all("pool" not in t for f in files for t in tasks_of(f.source).values())
    assert pools(files) == ({}, [])


@pytest.mark.parametrize(
    ("file", "edit", "expected"),
    [
        (
            "config/jobs/jaffle_daily.yaml",
            lambda text: text + "  airflow: {priority_weight: 0}\n",
            "config/jobs/jaffle_daily.yaml:14:30: job.airflow.priority_weight: "
            "input should be greater than or equal to 1",
        ),
        (
            "config/destinations/warehouse.yaml",
            lambda text: text.replace("  type: duckdb\n", "  type: duckdb\n  airflow: {pool: my pool}\n", 1),
            "config/destinations/warehouse.yaml:5:19: destination.airflow.pool: ",
        ),
        (
            "config/warehouses/acme.yaml",
            lambda text: text + "  airflow: {queues: fast}\n",
            "config/warehouses/acme.yaml:10:13: warehouse.airflow.queues: ",
        ),
    ],
)
def test_bad_settings_name_file_and_line(tmp_path: Path, file: str, edit: object, expected: str) -> None:
    import subprocess
    import sys

    root = copy_jaffle_project(tmp_path)
    path = root / file
    path.write_text(edit(path.read_text()))  # type: ignore[operator]
    done = subprocess.run(
        [sys.executable, "-m", "datakit", "-p", str(root), "validate"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert expected in " ".join((done.stdout + done.stderr).split()), done.stdout + done.stderr


def test_airflow_runs_each_task_in_its_pool_with_its_priority_and_queue(
    tmp_path: Path, airflow_env: AirflowEnv
) -> None:
    dags = tmp_path / "dags"
    root = scaled_jaffle(tmp_path)
    write_dags(compile_dags(load_project(root, environment="dev"), out=dags), dags, project="jaffle_shop")
    seen = airflow_env.run([str(HERE / "dag_inspect.py"), str(dags)], dags)
    task = seen["dags"]["datakit__acme__jaffle_daily"]["tasks"]["dbt_build"]
    assert (task["pool"], task["pool_slots"], task["priority_weight"], task["queue"]) == (
        "shop_pg",
        1,
        50,
        "heavy",
    )
    own = seen["dags"]["datakit__jaffle_daily"]["tasks"]["marts_checks"]
    assert (own["pool"], own["priority_weight"], own["queue"]) == ("datakit__warehouse", 5, "heavy")


def test_duckdb_jobs_for_a_multi_host_executor_are_warned_about(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_jaffle_project(tmp_path)
    project = load_project(root, environment="dev")
    assert all(f.warnings == () for f in compile_dags(project))  # LocalExecutor: one host, one file
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    acme = next(f for f in compile_dags(project) if f.dag_id == "datakit__acme__jaffle_daily")
    duckdb, history = acme.warnings
    assert "destination 'acme_warehouse' is a DuckDB file (acme.duckdb), and CeleryExecutor runs" in duckdb
    assert "# WARNING: destination 'acme_warehouse' is a DuckDB file" in acme.source
    assert "the run history is a SQLite file (.datakit/state.db), and CeleryExecutor runs" in history
    # the same project in prod writes PostgreSQL: no DuckDB file to warn about
    prod = load_project(root, environment="prod")
    assert not [w for f in compile_dags(prod, executor="CeleryExecutor") for w in f.warnings if "DuckDB" in w]
    with_state = root / "datakit.yaml"
    with_state.write_text(
        with_state.read_text().replace(
            "state:\n  type: sqlite\n  path: .datakit/state.db\n",
            "state:\n  type: postgres\n  connection: {host: db.internal, database: datakit_state}\n",
        )
    )
    on_server = compile_dags(load_project(root, environment="dev"), executor="CeleryExecutor")
    assert not [w for f in on_server for w in f.warnings if "SQLite" in w]


def test_work_files_go_under_datakit_home_when_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from datakit.config.home import work_root

    project = load_project(copy_jaffle_project(tmp_path), environment="dev")
    monkeypatch.delenv("DATAKIT_HOME", raising=False)
    assert work_root(project) == project.root / ".datakit"
    monkeypatch.setenv("DATAKIT_HOME", str(tmp_path / "home"))
    root = work_root(project)
    assert root.parent == tmp_path / "home" / "projects" and root.name.startswith("jaffle_shop-")
    other = load_project(copy_jaffle_project(tmp_path / "other"), environment="dev")
    assert work_root(other) != root  # two checkouts never share a folder
