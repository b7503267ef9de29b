"""`datakit prefect run job` with a selection and with a backfill window, against a real Prefect server:
the flow run carries out the plan `datakit run job --select` / `datakit backfill job` would (the same
steps, as tasks in Prefect and steps in datakit's history), and a bad selector is the CLI's error,
before any flow run starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from datakit.config import load_project
from datakit.errors import UsageError
from datakit.orchestrate.backfill import compile_backfill
from datakit.orchestrate.selection import selected_job
from datakit.orchestrate.store import open_store
from tests.integrations.airflow.projects import shop_project
from tests.integrations.prefect.conftest import PrefectServer
from tests.integrations.prefect.test_prefect_flows import history, run_flow


def test_a_flow_run_of_a_selection_runs_only_the_selected_steps(
    prefect_server: PrefectServer, tmp_path: Path
) -> None:
    root = shop_project(tmp_path / "shop")

    outcome = run_flow(prefect_server, root, "daily", "--select", "shop_bronze.orders")

    assert outcome["ok"] and outcome["status"] == "succeeded", outcome
    run = history(root, outcome["run_id"])
    assert [(s["step_id"], s["status"]) for s in run["steps"]] == [("shop_bronze.orders", "succeeded")]
    assert list(prefect_server.flow_run_task_runs(outcome["flow_run_id"])) == ["shop_bronze.orders"]
    flow_run = prefect_server.get(f"/flow_runs/{outcome['flow_run_id']}")
    assert flow_run["parameters"]["select"] == ["shop_bronze.orders"]

    # a bad selector: the CLI's own message (and hint), exit 2, and no flow run, no datakit run
    with pytest.raises(UsageError) as cli:
        selected_job(load_project(root), "daily", None, ["tagg:nightly"], [])
    expected = cli.value.message

    def flow_runs() -> set[str]:  # the server is shared by this worker's tests: compare, not count
        found = prefect_server.post("/flow_runs/filter", {"flows": {"name": {"any_": ["datakit__daily"]}}})
        return {r["id"] for r in found}

    before = flow_runs()
    assert outcome["flow_run_id"] in before
    bad = prefect_server.datakit("prefect", "run", "job", "daily", "--select", "tagg:nightly", cwd=root)
    assert bad.returncode == 2 and expected in bad.stderr and "did you mean 'tag'" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert flow_runs() == before
    store = open_store(load_project(root))
    try:
        assert [r.id for r in store.list_runs()] == [outcome["run_id"]]  # and no datakit run either
    finally:
        store.close()


def test_a_flow_run_of_a_backfill_runs_the_backfills_chunks(
    prefect_server: PrefectServer, tmp_path: Path
) -> None:
    root = shop_project(tmp_path / "shop")
    window = ("--start", "2024-01-01", "--end", "2024-01-04", "--chunk", "1d")
    local = compile_backfill(load_project(root), "job", "daily", "2024-01-01", "2024-01-04", "1d")

    outcome = run_flow(prefect_server, root, "daily", *window)

    assert outcome["ok"] and outcome["status"] == "succeeded", outcome
    run = history(root, outcome["run_id"])
    assert run["job"] == local.job == "backfill:job:daily"
    steps = [s["step_id"] for s in run["steps"]]
    assert steps == [step.id for step in local.steps] and len(steps) >= 3  # a chunk a day, as locally
    assert {s["status"] for s in run["steps"]} == {"succeeded"}
    assert sorted(prefect_server.flow_run_task_runs(outcome["flow_run_id"])) == sorted(steps)
    parameters = prefect_server.get(f"/flow_runs/{outcome['flow_run_id']}")["parameters"]
    assert (parameters["backfill_start"], parameters["backfill_end"]) == ("2024-01-01", "2024-01-04")

    half = prefect_server.datakit("prefect", "run", "job", "daily", "--start", "2024-01-01", cwd=root)
    assert half.returncode == 2 and "a backfill needs both --start and --end" in half.stderr
