"""Nothing in the YAML is silently dropped by `airflow compile`: owner, tags, SLA, notifications, display
names and docs reach the DAG; what Airflow cannot express is a warning and a comment in the file; the
callbacks the files name send through datakit's own channels.

The project is examples/jaffle_shop (plain dbt, tenants) as an operator configures it
(`projects.operated_jaffle`); Pagila checks the warning of a plan Airflow runs differently.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from datakit.config import load_project
from datakit.integrations.airflow.callbacks import run_finished, sla_missed
from datakit.integrations.airflow.compile import compile_dags, write_dags
from tests.http_api import FakeApi, Resp, running_api
from tests.integrations.airflow.conftest import HERE, AirflowEnv
from tests.integrations.airflow.projects import ALERTS_VAR, copy_jaffle_project, operated_jaffle
from tests.integrations.airflow.test_compile import literals
from tests.pagila_project import copy_pagila_project


@pytest.fixture
def operated(tmp_path: Path) -> Path:
    return operated_jaffle(copy_jaffle_project(tmp_path))


def test_owner_tags_sla_notifications_and_docs_reach_the_dag(operated: Path) -> None:
    files = {f.dag_id: f for f in compile_dags(load_project(operated, environment="dev"))}
    acme = files["datakit__acme__jaffle_daily"]
    data = literals(acme.source)
    dag = data["DAG"]
    assert dag["default_args"] == "{'owner': 'data-team'}"
    assert json.loads(dag["tags"].replace("'", '"')) == [
        "datakit",
        "acme",
        "shop",
        "finance",
        "nightly",
        "customer",
    ]
    assert dag["dag_display_name"] == "'jaffle_daily (acme)'"
    assert (dag["on_failure_callback"], dag["on_success_callback"]) == ("_failed", "_succeeded")
    deadline = dag["deadline"]
    assert "reference=DeadlineReference.DAGRUN_QUEUED_AT" in deadline
    assert "interval=timedelta(seconds=1800.0)" in deadline
    assert "SyncCallback('datakit.integrations.airflow.callbacks.sla_missed'" in deadline
    assert dag["doc_md"] == "DOC_MD"

    doc = data["DOC_MD"]
    assert "owner: data-team" in doc and "SLA: 30m" in doc
    assert "notifications: failure and success → log, webhook" in doc
    assert (
        "| `jaffle_files.raw_orders` | load raw_orders → acme_br__jaffle__main.raw_orders | source jaffle: "
        "raw_orders | acme_warehouse: acme_br__jaffle__main.raw_orders | — |" in doc
    )
    assert (
        "| `marts_checks` | checks marts | acme_warehouse: customers<br>acme_warehouse: orders | — |" in doc
    )

    tasks = data["TASKS"]
    assert tasks["jaffle_payments.payments"]["task_display_name"] == (
        "load payments → acme_br__payments_api__main.payments"
    )
    assert tasks["dbt_build"]["task_display_name"] == "dbt build"
    assert "Staging views and the marts." in tasks["dbt_build"]["doc_md"]
    assert acme.warnings == ()  # everything of this job compiled

    # the project's own DAG: no warehouse tag, its own display name
    plain = literals(files["datakit__jaffle_daily"].source)["DAG"]
    assert plain["dag_display_name"] == "'jaffle_daily'" and "'acme'" not in plain["tags"]


def test_what_airflow_runs_differently_is_a_warning_and_a_comment(tmp_path: Path) -> None:
    root = copy_pagila_project(tmp_path)
    job = root / "config/jobs/pagila_warehouse.yaml"
    job.write_text(job.read_text().replace("mode: sequential", "mode: parallel\n    max_parallelism: 4"))
    (dag_file,) = compile_dags(load_project(root, environment="dev"), warehouse="acme")
    (warning,) = dag_file.warnings
    assert warning.startswith("datakit__acme__pagila_warehouse: continue_on_failure: false is not compiled")
    assert "# NOT COMPILED: continue_on_failure: false is not compiled" in dag_file.source
    assert "**Not compiled**" in literals(dag_file.source)["DOC_MD"]


def test_airflow_sees_owner_tags_deadline_callbacks_and_display_names(
    tmp_path: Path, operated: Path, airflow_env: AirflowEnv
) -> None:
    dags = tmp_path / "dags"
    write_dags(compile_dags(load_project(operated, environment="dev"), out=dags), dags, project="jaffle_shop")
    seen = airflow_env.run([str(HERE / "dag_inspect.py"), str(dags)], dags)
    assert seen["import_errors"] == {}
    # a parse imports only the callbacks module of datakit (Airflow checks a deadline callback's path)
    for modules in seen["parse_datakit_modules"].values():
        assert set(modules) <= {
            "datakit",
            "datakit.integrations",
            "datakit.integrations.airflow",
            "datakit.integrations.airflow.callbacks",
        }
    acme = seen["dags"]["datakit__acme__jaffle_daily"]
    assert acme["owner"] == "data-team"
    assert acme["tags"] == ["acme", "customer", "datakit", "finance", "nightly", "shop"]
    assert acme["dag_display_name"] == "jaffle_daily (acme)"
    assert acme["doc_md"].startswith("### datakit job `jaffle_daily` for warehouse `acme` (dev)")
    assert acme["callbacks"] == {"on_failure": True, "on_success": True}
    assert acme["deadlines"] == [
        {
            "interval": 1800.0,
            "reference": "DagRunQueuedAtDeadline",
            "callback": "datakit.integrations.airflow.callbacks.sla_missed",
        }
    ]
    assert acme["tasks"]["dbt_build"]["display_name"] == "dbt build"
    assert acme["tasks"]["jaffle_files.raw_customers"]["doc_md"].startswith("**load raw_customers")


@pytest.fixture
def hosted_logging() -> Any:
    """The callbacks log through the host's logging (`datakit.log.host`): put datakit's logging back."""
    import logging

    from datakit import log

    logger = logging.getLogger("datakit")
    saved = (list(logger.handlers), logger.propagate, logger.level, log._hosted)
    yield
    logger.handlers[:], logger.propagate, logger.level = saved[0], saved[1], saved[2]
    log._hosted = saved[3]


@pytest.fixture
def receiver() -> Any:
    with running_api() as api:
        api.route("/alerts")(lambda _: Resp(200, {"ok": True}))
        yield api


def posted(api: FakeApi) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in api.requests if r.method == "POST"]


def test_callbacks_send_through_datakits_channels(
    operated: Path,
    receiver: FakeApi,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    hosted_logging: None,
) -> None:
    """The functions the files name, called with the context Airflow gives them (the dag-processor's
    objects for a DAG callback, JSON for a deadline callback), for a run no task recorded: the run is
    ended in the run history, and the job's webhook gets datakit's event, once (test_callbacks.py has
    the rules between the callbacks and the tasks)."""
    monkeypatch.setenv(ALERTS_VAR, f"{receiver.url}/alerts")
    started = datetime.now(UTC)
    context = {
        "dag": SimpleNamespace(dag_id="datakit__acme__jaffle_daily"),
        "run_id": "scheduled__2026-01-02T03:00:00+00:00",
        "reason": "task_failure",
        "dag_run": SimpleNamespace(start_date=started, end_date=datetime.now(UTC)),
        "ti": SimpleNamespace(task_id="dbt_build", state="failed", try_number=3),
    }
    where = {"project_root": str(operated), "environment": "dev", "job": "jaffle_daily", "warehouse": "acme"}
    run_finished(context, **where, failed=True)
    sla_missed(
        {
            "dag_run": {
                "dag_id": "datakit__acme__jaffle_daily",
                "dag_run_id": "manual__1",
                "queued_at": (started - timedelta(hours=1)).isoformat(),
            },
            "deadline": {"id": "x", "deadline_time": started.isoformat()},
        },
        **where,
        sla=1800.0,
    )
    failed, missed = posted(receiver)
    assert (failed["event"], failed["engine"], failed["warehouse"], failed["status"]) == (
        "run_failed",
        "airflow",
        "acme",
        "failed",
    )
    assert failed["run_id"] == "scheduled__2026-01-02T03:00:00+00:00"
    assert failed["error"] == "Airflow failed the DAG run: a task failed (task dbt_build)"
    assert {s["status"] for s in failed["steps"]} == {"skipped"}  # no task recorded a step
    assert failed["resume_command"].startswith(
        "airflow tasks clear datakit__acme__jaffle_daily --only-failed"
    )
    assert (missed["event"], missed["sla_seconds"], missed["status"]) == ("sla_missed", 1800.0, "running")
    assert missed["duration_seconds"] >= 3600 and missed["run_id"] == "manual__1"
    # the log channel too, at WARNING, through the host's logging
    assert any(
        "jaffle_daily on acme run" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records
    )
