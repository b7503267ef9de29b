"""OpenLineage events of a Prefect flow run, sent by its tasks (each step through the same `RunRecorder`
as Airflow's): the same events as a local run of the job, each step's START and COMPLETE naming one
OpenLineage run whose parent is the flow run's.

The project's `openlineage:` appends events to a file; `datakit prefect run job` runs the flow on a real
Prefect server, then `datakit run` runs the job locally in the same project (so datasets are named alike).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from datakit.lineage.openlineage import run_uuid
from tests.integrations.airflow.projects import shop_project
from tests.integrations.airflow.test_openlineage import a_local_run_sends_the_same, by_job, read
from tests.integrations.prefect.conftest import PrefectServer
from tests.integrations.prefect.test_prefect_flows import STEPS, history, run_flow

pytest.importorskip("openlineage.client", reason="the optional extra datakit[openlineage] is not installed")


def test_a_flow_run_emits_the_events_of_a_local_run(prefect_server: PrefectServer, tmp_path: Path) -> None:
    root = shop_project(tmp_path / "shop")
    with (root / "datakit.yaml").open("a") as config:
        config.write("openlineage:\n  transport: {type: file, path: lineage/events.jsonl}\n")
    events_file = root / "lineage/events.jsonl"

    outcome = run_flow(prefect_server, root, "daily")
    assert outcome["ok"], outcome
    in_prefect = by_job(read(events_file))
    events_file.unlink()

    # the flow run: one START and one COMPLETE; every step: the same, sent by its task, under the flow's run
    assert sorted(in_prefect) == ["daily", *(f"daily.{step}" for step in STEPS)]
    flow = in_prefect["daily"]
    assert [e["eventType"] for e in flow] == ["START", "COMPLETE"]
    key = history(root, outcome["run_id"])["external_id"]
    assert key == f"prefect:{outcome['flow_run_id']}"
    assert flow[0]["run"]["runId"] == flow[1]["run"]["runId"] == run_uuid(key, None)
    for step in STEPS:
        start, complete = in_prefect[f"daily.{step}"]
        assert (start["eventType"], complete["eventType"]) == ("START", "COMPLETE")
        assert start["run"]["runId"] == complete["run"]["runId"] == run_uuid(key, step)
        parent = complete["run"]["facets"]["parent"]
        assert parent["run"]["runId"] == flow[0]["run"]["runId"] and parent["job"]["name"] == "daily"
        assert complete["outputs"], f"{step} wrote no dataset"

    a_local_run_sends_the_same(root, events_file, in_prefect)
