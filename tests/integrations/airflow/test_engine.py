"""A compiled DAG on a real Airflow 3 deployment: api-server, scheduler and dag-processor, LocalExecutor,
PostgreSQL metadata database (see engine.py), triggered with `airflow dags trigger`.

The project is examples/jaffle_shop, written the plain way (CSV exports and a REST API into bronze, a
plain dbt project, checks), run for its tenant acme: the run must succeed, the warehouse must equal a
local `datakit run job` of the same project, and what operators see must be right — each task's log at
the levels datakit logged (no stderr shown as ERROR), each dbt line once, one XCom per task — and the
job's notifications must reach its webhook once each — the run's success and its missed SLA — though
the tasks, a DAG callback (in the dag-processor) and a deadline alert (in the executor) all see them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from datakit.config import load_project
from datakit.integrations.airflow.compile import compile_dags, write_dags
from datakit.orchestrate.run import run_job
from tests.http_api import FakeApi, Resp, running_api
from tests.integrations.airflow.conftest import AirflowEnv, changed, duckdb_fingerprint, tree
from tests.integrations.airflow.engine import FINISHED, Engine, metadata_dsn, running
from tests.integrations.airflow.projects import ALERTS_VAR, copy_jaffle_project, operated_jaffle
from tests.integrations.airflow.test_compile import cli
from tests.waits import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

TOKENS = {"default": "tok-Default-1", "acme": "tok-Acme-2", "globex": "tok-Globex-3"}
DAG = "datakit__acme__jaffle_daily"


@pytest.fixture(scope="module")
def jaffle_api() -> Iterator[dict[str, str]]:
    """The example's payments API on a free port; the environment a jaffle_shop run needs."""
    from tests.conftest import EXAMPLES

    env = {f"JAFFLE_API_TOKEN_{k.upper()}": v for k, v in TOKENS.items()}
    server = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "jaffle_shop" / "api.py"), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ | env,
    )
    assert server.stdout is not None
    line = server.stdout.readline()  # printed once it listens
    assert line.startswith("serving on "), line
    yield {**env, "JAFFLE_API_URL": line.split()[-1]}
    server.terminate()
    server.wait()


def events(receiver: FakeApi, run_id: str) -> list[dict[str, Any]]:
    """The notifications the webhook received about `run_id`, in order."""
    bodies = [json.loads(r.body) for r in receiver.requests if r.method == "POST"]
    return [b for b in bodies if b["run_id"] == run_id]


def success_callback_ran(engine: Engine) -> bool:
    """Whether the dag-processor ran the DAG's success callback (which must not notify again)."""
    return any(
        "Executing on_success dag callback" in path.read_text(errors="replace")
        for path in engine.home.rglob("*.log")
        if path.is_file()
    )


def _run(
    engine: Engine, receiver: FakeApi, run_id: str
) -> tuple[
    dict[str, tuple[str, int]], str | None, dict[str, Any], list[Any], dict[str, Any], list[dict[str, Any]]
]:
    """Trigger the DAG once it can run, wait for the run and then its notifications; what was seen."""
    wait_until(lambda: engine.ready(DAG), f"{DAG} serialized and the api-server up", guard=300)
    engine.trigger(DAG, run_id)
    wait_until(lambda: engine.run_state(DAG, run_id) in FINISHED, f"run {run_id} to finish", guard=600)
    tasks = engine.task_states(DAG, run_id)
    state = engine.run_state(DAG, run_id)
    logs = {task: engine.task_log(DAG, run_id, task) for task in tasks}
    xcoms = engine.query(
        "select task_id, key from xcom where dag_id = %s and run_id = %s order by task_id", DAG, run_id
    )
    if state == "success":
        wait_until(lambda: len(events(receiver, run_id)) >= 2, "the success and SLA notifications", guard=300)
        wait_until(lambda: success_callback_ran(engine), "the DAG's success callback", guard=300)
    return (
        tasks,
        state,
        logs,
        xcoms,
        {e["event"]: e for e in events(receiver, run_id)},
        events(receiver, run_id),
    )


def test_a_triggered_run_on_a_real_scheduler_matches_the_local_run(
    tmp_path: Path, airflow_env: AirflowEnv, pg_dsn: str, jaffle_api: dict[str, str]
) -> None:
    root = operated_jaffle(copy_jaffle_project(tmp_path / "airflow"), sla="1s")
    dags = tmp_path / "dags"
    project = load_project(root, environment="dev")
    files = compile_dags(project, out=dags, warehouse="acme")
    write_dags(files, dags, project="jaffle_shop")
    assert cli(["airflow", "pools", "-p", str(root), "-w", "acme", "-o", str(tmp_path / "pools.json")]) == 0

    engine = Engine(
        python=airflow_env.python, home=tmp_path / "airflow-home", dags=dags, dsn=metadata_dsn(pg_dsn)
    )
    run_id = f"test_{time.time_ns()}"
    before = tree(root)
    with running_api() as receiver:
        receiver.route("/alerts")(lambda _: Resp(200, {"ok": True}))
        engine.extra_env = {
            **jaffle_api,
            ALERTS_VAR: f"{receiver.url}/alerts",
            # the scheduler (whose LocalExecutor workers fork the tasks) preloads the project
            "AIRFLOW__CORE__LAZY_LOAD_PLUGINS": "False",
            "DATAKIT_PRELOAD": str(root),
        }
        with running(engine, "api-server", "scheduler", "dag-processor"):
            engine.cli("pools", "import", str(tmp_path / "pools.json"))  # the tasks' pool: acme's warehouse
            (tasks, state, logs, xcoms, notified, told) = _run(engine, receiver, run_id)
            used = engine.query("select distinct pool from task_instance where run_id = %s", run_id)

    assert state == "success", (tasks, {t: [e.get("event") for e in log] for t, log in logs.items()})
    assert tasks == {
        "jaffle_files.raw_customers": ("success", 1),
        "jaffle_files.raw_orders": ("success", 1),
        "jaffle_payments.payments": ("success", 1),
        "dbt_build": ("success", 1),
        "marts_checks": ("success", 1),
    }
    assert used == [("datakit__acme_warehouse",)]
    scheduler = (engine.home / "process-logs" / "scheduler.log").read_text()
    assert "datakit preloaded jaffle_shop@dev, jaffle_shop@dev/acme, jaffle_shop@dev/globex" in scheduler
    # the tasks wrote nothing in the project but the DuckDB file its destination names (dbt's profiles,
    # sources, workspace, target/ and logs/ and Python's bytecode are under DATAKIT_HOME)
    # (and the run history the project's `state:` names: jaffle_shop's is a SQLite file in the project;
    # a read-only deployment names a PostgreSQL store, as multi-host workers must anyway)
    written = changed(before, tree(root))
    assert [n for n in written if not n.startswith(("acme.duckdb", ".datakit/state.db"))] == [], written
    # one XCom per task, the step's result (no multiple_outputs: no key per dict entry)
    assert xcoms == [(task, "return_value") for task in sorted(tasks)]

    # logs: datakit's lines at their level through Airflow's logging, none on stderr (shown as ERROR)
    for task, log in logs.items():
        assert not [e for e in log if e.get("logger") == "task.stderr"], (task, log)
    orders = [e for e in logs["jaffle_files.raw_orders"] if str(e.get("logger", "")).startswith("datakit")]
    assert any(
        e["level"] == "info" and e["event"].startswith("loaded acme_br__jaffle__main.raw_orders")
        for e in orders
    ), orders
    dbt = [str(e.get("event")) for e in logs["dbt_build"]]
    created = [line for line in dbt if "OK created sql table model" in line and "customers" in line]
    assert len(created) == 1, dbt  # each dbt line once

    # the job's channels heard it once (from the tasks or Airflow's callbacks, whoever came first), as
    # datakit's own events
    assert sorted(e["event"] for e in told) == ["run_succeeded", "sla_missed"], told
    assert {e["engine"] for e in notified.values()} == {"airflow"}
    assert notified["sla_missed"]["sla_seconds"] == 1.0
    assert notified["run_succeeded"]["warehouse"] == "acme"

    # the warehouse equals a local run of the same project
    local = copy_jaffle_project(tmp_path / "local")
    with pytest.MonkeyPatch.context() as patch:
        for key, value in jaffle_api.items():
            patch.setenv(key, value)
        assert run_job(load_project(local, environment="dev"), "jaffle_daily", warehouse="acme").ok
    in_airflow = duckdb_fingerprint(root / "acme.duckdb", root)
    assert in_airflow == duckdb_fingerprint(local / "acme.duckdb", local)
    assert in_airflow["acme_main.customers"][0] > 0
