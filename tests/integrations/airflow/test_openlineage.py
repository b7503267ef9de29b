"""OpenLineage events of a DAG run, sent by its tasks (each in a process of its own) and its end: the
same events as a local run of the job, each step's START and COMPLETE naming one OpenLineage run.

The project's `openlineage:` appends events to a file; `dag.test()` runs the compiled DAG, then
`datakit run` runs the job locally in the same project (so the datasets are named alike).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from datakit.config import load_project
from datakit.integrations.airflow.compile import compile_dags, write_dags
from datakit.lineage.openlineage import run_uuid
from datakit.orchestrate.run import run_job
from tests.integrations.airflow.conftest import AirflowEnv
from tests.integrations.airflow.projects import SHOP_ALERTS_VAR, notified_shop
from tests.orchestrate.test_sla import Arrivals

pytest.importorskip("openlineage.client", reason="the optional extra datakit[openlineage] is not installed")

STEPS = ["shop_bronze.customers", "shop_bronze.orders"]


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def by_job(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    jobs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        jobs[event["job"]["name"]].append(event)
    return dict(jobs)


def datasets(event: dict[str, Any]) -> dict[str, Any]:
    """What an event says was read and written (names, schema and column lineage facets)."""
    return {"inputs": event["inputs"], "outputs": event["outputs"]}


def test_a_dag_run_emits_the_events_of_a_local_run(
    tmp_path: Path, airflow_env: AirflowEnv, arrivals: Arrivals
) -> None:
    root = notified_shop(tmp_path / "shop", lineage="lineage/events.jsonl")
    events_file = root / "lineage/events.jsonl"
    dags = tmp_path / "dags"
    write_dags(compile_dags(load_project(root, environment="dev"), out=dags), dags, project="shop")

    ran = airflow_env.dag_test(dags, "datakit__daily", extra={SHOP_ALERTS_VAR: f"{arrivals.api.url}/hook"})
    assert ran["state"] == "success"
    assert [body["event"] for _, body in arrivals.received] == ["run_succeeded"]  # once
    in_airflow = by_job(read(events_file))
    events_file.unlink()

    # every step: one START and one COMPLETE, sent by its task, naming the same run
    assert sorted(in_airflow) == ["daily", *(f"daily.{step}" for step in STEPS)]
    run = in_airflow["daily"]
    assert [e["eventType"] for e in run] == ["START", "COMPLETE"]
    assert run[0]["run"]["runId"] == run[1]["run"]["runId"]
    dag_run = next(r for r in json.loads(_runs(root)) if r["engine"] == "airflow")
    assert run[0]["run"]["runId"] == run_uuid(dag_run["external_id"], None)  # stable, from the run's key
    for step in STEPS:
        start, complete = in_airflow[f"daily.{step}"]
        assert (start["eventType"], complete["eventType"]) == ("START", "COMPLETE")
        assert start["run"]["runId"] == complete["run"]["runId"] == run_uuid(dag_run["external_id"], step)
        parent = complete["run"]["facets"]["parent"]
        assert parent["run"]["runId"] == run[0]["run"]["runId"] and parent["job"]["name"] == "daily"
        assert complete["outputs"], f"{step} wrote no dataset"

    a_local_run_sends_the_same(root, events_file, in_airflow)


Events = dict[str, list[dict[str, Any]]]


def a_local_run_sends_the_same(root: Path, events_file: Path, in_engine: Events) -> None:
    """A local run of job `daily` in the same project sends the events an engine's run sent (grouped by
    job: `in_engine`), with the same datasets, step by step."""
    assert run_job(load_project(root, environment="dev"), "daily").ok
    local = by_job(read(events_file))
    assert sorted(local) == sorted(in_engine)
    for step in STEPS:
        ours, theirs = in_engine[f"daily.{step}"], local[f"daily.{step}"]
        assert [e["eventType"] for e in theirs] == ["START", "COMPLETE"]
        assert [datasets(e) for e in ours] == [datasets(e) for e in theirs]


def _runs(root: Path) -> str:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "ENVIRONMENT"}
    done = subprocess.run(
        [sys.executable, "-m", "datakit", "--project", str(root), "runs", "--json"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return done.stdout
