"""Jobs as Prefect 3 flows against a real Prefect server: the same warehouse as a local run, retries as
the YAML says (and only of transient errors), every attempt visible in Prefect and in datakit's run
history, and the flow run's page in Prefect's UI showing the tasks."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from datakit.config import load_project
from datakit.orchestrate.run import run_job
from tests.integrations.airflow.conftest import duckdb_fingerprint
from tests.integrations.airflow.projects import shop_project
from tests.integrations.prefect.cdp import open_page
from tests.integrations.prefect.conftest import PrefectServer
from tests.waits import wait_until

STEPS = ("shop_bronze.customers", "shop_bronze.orders")


def run_flow(server: PrefectServer, root: Path, *args: str, extra: dict[str, str] | None = None) -> Any:
    """`datakit prefect run job ... --json` against the server; its JSON outcome."""
    done = server.datakit("prefect", "run", "job", *args, "--json", cwd=root, extra=extra)
    try:
        return {**json.loads(done.stdout), "stderr": done.stderr, "exit_code": done.returncode}
    except json.JSONDecodeError:
        pytest.fail(
            f"datakit prefect run exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
        )


def history(root: Path, run_id: int) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "datakit", "--project", str(root), "runs", "show", str(run_id), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def shop_run(prefect_server: PrefectServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """The scaffold's job `daily` (two load steps into DuckDB) run once as a Prefect flow."""
    root = shop_project(tmp_path_factory.mktemp("prefect") / "shop")
    return root, run_flow(prefect_server, root, "daily")


def test_a_flow_run_loads_what_a_local_run_loads(
    shop_run: tuple[Path, Any], prefect_server: PrefectServer, tmp_path: Path
) -> None:
    root, outcome = shop_run
    assert outcome["ok"] and outcome["state"] == "COMPLETED", outcome
    assert outcome["status"] == "succeeded"

    local = shop_project(tmp_path / "local" / "shop")
    assert run_job(load_project(local, environment="dev"), "daily").ok
    tables = duckdb_fingerprint(root / "warehouse.duckdb")
    assert tables == duckdb_fingerprint(local / "warehouse.duckdb")
    assert (tables["br__shop__main.customers"][0], tables["br__shop__main.orders"][0]) == (50, 200)

    # Prefect's view: one task run per step, named after it, each done at its first attempt
    tasks = prefect_server.flow_run_task_runs(outcome["flow_run_id"])
    assert {name: (t["state_type"], t["run_count"]) for name, t in tasks.items()} == dict.fromkeys(
        STEPS, ("COMPLETED", 1)
    )
    # the plan's edge (sequential mode: orders after customers) is Prefect's too
    upstream = tasks["shop_bronze.orders"]["task_inputs"]["wait_for"]
    assert [u["id"] for u in upstream] == [tasks["shop_bronze.customers"]["id"]]
    flow_run = prefect_server.get(f"/flow_runs/{outcome['flow_run_id']}")
    assert flow_run["state_type"] == "COMPLETED"

    # datakit's view: the same run, engine prefect, with a link to the flow run
    run = history(root, outcome["run_id"])
    assert (run["engine"], run["status"], run["external_id"]) == (
        "prefect",
        "succeeded",
        f"prefect:{outcome['flow_run_id']}",
    )
    assert run["external_url"].endswith(f"/runs/flow-run/{outcome['flow_run_id']}")
    assert [(s["step_id"], s["status"], s["attempts"]) for s in run["steps"]] == [
        (step, "succeeded", 1) for step in STEPS
    ]


def test_the_flow_run_page_of_prefects_ui_shows_the_tasks(
    shop_run: tuple[Path, Any], prefect_server: PrefectServer, tmp_path: Path
) -> None:
    _root, outcome = shop_run
    url = f"{prefect_server.url}/runs/flow-run/{outcome['flow_run_id']}"
    with open_page(url, tmp_path / "profile") as page:
        page.wait_for_text(outcome["flow_run_name"], "Completed", "2 Task runs")
        # the Task Runs tab lists every step's task run
        page.call(
            "Runtime.evaluate",
            expression="[...document.querySelectorAll('[role=tab], button, a')]"
            ".find(e => e.innerText.trim() === 'Task Runs').click()",
        )
        text = page.wait_for_text(*STEPS)
        page.screenshot(tmp_path / "flow-run.png")
    assert "datakit__daily" in text and outcome["flow_run_name"] in text


def test_a_flaky_step_is_retried_and_both_attempts_are_visible(
    prefect_server: PrefectServer, tmp_path: Path
) -> None:
    """The warehouse file is locked by another process (this test) when the first step starts: a
    transient error. The test lets go of it once the first attempt has failed; the retry succeeds."""
    import duckdb

    root = shop_project(tmp_path / "shop", retry_delay="4s")  # 3 attempts, exponential backoff
    state = root / ".datakit" / "state.db"
    holder = duckdb.connect(str(root / "warehouse.duckdb"))  # a writer elsewhere: the file is locked
    flow = subprocess.Popen(
        [sys.executable, "-m", "datakit", "prefect", "run", "job", "daily", "--json"],
        cwd=root,
        env=prefect_server.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def first_attempt_failed() -> bool:
            if not state.exists():
                return False
            try:
                with sqlite3.connect(state) as conn:
                    rows = conn.execute(
                        "select status from attempts where step_id = ? and attempt = 1", (STEPS[0],)
                    ).fetchall()
            except sqlite3.OperationalError:  # not created yet, or busy: ask again
                return False
            return rows == [("failed",)]

        wait_until(first_attempt_failed, "the first attempt to fail on the locked file")
    finally:
        holder.close()
    stdout, stderr = flow.communicate(timeout=600)
    outcome = json.loads(stdout) if stdout.strip() else pytest.fail(stderr[-5000:])
    assert outcome["ok"], outcome

    run = history(root, outcome["run_id"])
    customers = run["steps"][0]
    attempts = customers["attempt_records"]
    assert attempts[0]["status"] == "failed" and attempts[0]["transient"] is True
    assert "lock" in attempts[0]["error"].lower()
    assert attempts[-1]["status"] == "succeeded" and customers["attempts"] == len(attempts) >= 2

    task = prefect_server.flow_run_task_runs(outcome["flow_run_id"])[STEPS[0]]
    assert task["run_count"] == len(attempts)  # every attempt is a run of the same task run
    assert task["history"][0] == "Pending" and task["history"][-1] == "Completed"
    # each attempt is a Running (then Retrying) state, each retry announced by AwaitingRetry
    tries = [name for name in task["history"] if name in ("Running", "Retrying")]
    assert tries == ["Running"] + ["Retrying"] * (len(attempts) - 1)
    assert task["history"].count("AwaitingRetry") == len(attempts) - 1


def test_a_terminal_failure_is_not_retried(prefect_server: PrefectServer, tmp_path: Path) -> None:
    root = shop_project(tmp_path / "shop")
    with sqlite3.connect(root / "data" / "shop.sqlite") as source:
        source.execute("drop table customers")  # the step can never succeed: no retry helps

    outcome = run_flow(prefect_server, root, "daily")
    assert not outcome["ok"] and outcome["state"] == "FAILED"
    assert outcome["exit_code"] == 1
    # the flow's on_failure hook told the job's channel (`log`, the default), once, from the recorded run
    told = [line for line in outcome["stderr"].splitlines() if "(run_failed)" in line]
    assert len(told) == 1 and f"run {outcome['run_id']} failed" in told[0], outcome["stderr"][-3000:]
    assert outcome["status"] == "failed"
    assert "1 failed: shop_bronze.customers; 1 skipped: shop_bronze.orders" in outcome["error"]

    tasks = prefect_server.flow_run_task_runs(outcome["flow_run_id"])
    assert list(tasks) == [STEPS[0]]  # orders never ran: it waits for customers
    customers = tasks[STEPS[0]]
    assert (customers["state_type"], customers["run_count"]) == ("FAILED", 1)
    assert "AwaitingRetry" not in customers["history"]

    run = history(root, outcome["run_id"])
    assert [(s["status"], s["attempts"]) for s in run["steps"]] == [("failed", 1), ("skipped", 0)]
    assert run["steps"][0]["attempt_records"][0]["transient"] is False
