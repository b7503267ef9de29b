"""`datakit runs cancel` of a run that Prefect executes, against a real Prefect server: the flow run is
cancelled through Prefect's API, its running step's process is killed, the run is recorded `cancelled`
(by whom), the killed step is not retried, and the flow run ends Cancelled in Prefect too."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from datakit.config import load_project
from datakit.orchestrate.store import open_store
from tests.http_api import Req, Resp, add_api_job, running_api
from tests.integrations.airflow.projects import shop_project
from tests.integrations.prefect.conftest import PrefectServer
from tests.waits import GUARD, wait_until


def test_runs_cancel_stops_a_prefect_flow_run_and_records_it_cancelled(
    prefect_server: PrefectServer, tmp_path: Path
) -> None:
    entered, release = threading.Event(), threading.Event()

    def events(_req: Req) -> Resp:  # the step's request, held until the test ends
        entered.set()
        release.wait(GUARD)
        return Resp(503, {"error": "released"})

    with running_api() as api:
        api.route("/events")(events)
        root = shop_project(tmp_path / "shop")
        add_api_job(root, api.url, retries="{max_attempts: 3, retry_delay: 1s}")
        flow = subprocess.Popen(
            [sys.executable, "-m", "datakit", "prefect", "run", "job", "api_job", "--json"],
            cwd=root,
            env=prefect_server.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert entered.wait(GUARD), "the step never called the API"
            store = open_store(load_project(root))
            try:
                wait_until(lambda: bool(store.list_runs(engine="prefect", status="running")), "the run")
                (run,) = store.list_runs(engine="prefect")
                cancel = prefect_server.datakit("runs", "cancel", str(run.id), cwd=root)
                assert cancel.returncode == 0, cancel.stdout + cancel.stderr
                stdout, stderr = flow.communicate(timeout=GUARD)
            finally:
                store.close()
        finally:
            release.set()
            if flow.poll() is None:
                flow.kill()
                flow.wait()
    outcome = json.loads(stdout) if stdout.strip() else pytest.fail(stderr[-5000:])

    assert (outcome["state"], outcome["status"]) == ("CANCELLED", "cancelled"), outcome
    assert not outcome["ok"] and flow.returncode == 1
    flow_run_id = outcome["flow_run_id"]
    assert run.external_id == f"prefect:{flow_run_id}"
    assert prefect_server.get(f"/flow_runs/{flow_run_id}")["state_type"] == "CANCELLED"
    # Prefect's API was asked (the Cancelling state, with who asked), not only datakit's history
    states = prefect_server.get(f"/flow_run_states/?flow_run_id={flow_run_id}")
    asked = [s for s in states if s["name"] == "Cancelling"]
    assert asked and f"datakit runs cancel {run.id}" in asked[0]["message"]

    store = open_store(load_project(root))
    try:
        recorded = store.get_run(run.id)
        audit = store.list_audit()
    finally:
        store.close()
    assert recorded.status == "cancelled" and (recorded.error or "").startswith("cancelled by cli:")
    (step,) = recorded.steps
    (attempt,) = step.attempt_records  # the killed step is not retried (3 attempts allowed)
    assert step.status == "failed" and "cancelled while running" in (attempt.error or "")
    task = prefect_server.flow_run_task_runs(flow_run_id)["api_bronze.events"]
    assert task["run_count"] == 1 and "AwaitingRetry" not in task["history"]
    assert [(e.action, e.target, e.outcome) for e in audit] == [("cancel", f"run {run.id}", "ok")]
