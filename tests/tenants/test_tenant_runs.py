"""Run history per tenant: one active run per job *and* warehouse; a run resumes only as its own tenant;
tenants sharing a DuckDB file take turns in a fan-out."""

from __future__ import annotations

from pathlib import Path

import pytest

from datakit.config import load_project
from datakit.config.scaffold import init_project
from datakit.errors import DatakitError
from datakit.orchestrate.executor import Executor
from datakit.orchestrate.plan import Plan, compile_job
from datakit.orchestrate.run import _sharing, run_job_for_warehouses
from datakit.orchestrate.stepkinds import LoadParams, LoadStep, Step
from datakit.orchestrate.steps import StepOutput
from datakit.orchestrate.store import AlreadyRunning, RunStatus, StateStore, open_store
from datakit.orchestrate.store.sql import sqlite_url
from tests.matrix import DuckDBTarget


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    return StateStore(sqlite_url(tmp_path / "state.db"))


def test_one_active_run_per_job_and_warehouse(store: StateStore) -> None:
    acme = store.start_run("pagila_warehouse", "{}", warehouse="acme")
    globex = store.start_run("pagila_warehouse", "{}", warehouse="globex")  # acme's run does not block it
    plain = store.start_run("pagila_warehouse", "{}")  # nor the project's own
    with pytest.raises(AlreadyRunning):
        store.start_run("pagila_warehouse", "{}", warehouse="acme")
    with pytest.raises(AlreadyRunning):
        store.start_run("pagila_warehouse", "{}")
    store.finish_run(acme, RunStatus.SUCCEEDED)
    again = store.start_run("pagila_warehouse", "{}", warehouse="acme")
    assert len({acme, globex, plain, again}) == 4
    assert {r.warehouse for r in store.list_runs()} == {"acme", "globex", None}
    store.close()


def _plan(warehouse: str | None) -> Plan:
    step = LoadStep(id="p.r", params=LoadParams(pipeline="p", resource="r", warehouse=warehouse))
    return Plan("job", "sequential", 1, False, (step,), warehouse=warehouse)


def test_a_run_is_recorded_and_resumed_as_its_tenant(store: StateStore) -> None:
    seen: list[object] = []

    def failing(step: Step) -> StepOutput:
        seen.append(step.params)
        raise DatakitError("boom")

    result = Executor(store, failing).run(_plan("acme"))
    assert not result.ok and result.warehouse == "acme"
    assert result.resume_command == f"datakit run job job --warehouse acme --resume {result.run_id}"
    assert store.get_run(result.run_id).warehouse == "acme" and seen == [
        LoadParams(pipeline="p", resource="r", warehouse="acme")
    ]
    with pytest.raises(DatakitError, match="ran for warehouse acme, not globex"):
        Executor(store, failing).run(_plan("globex"), resume=result.run_id)
    resumed = Executor(store, lambda _step: StepOutput()).run(_plan("acme"), resume=result.run_id)
    assert resumed.ok and store.get_run(resumed.run_id).warehouse == "acme"
    store.close()


def test_tenants_sharing_one_duckdb_file_run_in_turn_and_both_load(tmp_path: Path) -> None:
    """Two tenants in one DuckDB file: `--warehouse all` may not write it from two processes at once,
    so the fan-out runs them one after the other (and each lands in its own schemas)."""
    root = tmp_path / "shop"
    init_project(root)
    for name in ("north", "south"):
        (root / "config" / "warehouses").mkdir(exist_ok=True)
        (root / "config" / "warehouses" / f"{name}.yaml").write_text(
            f"warehouse:\n  name: {name}\n  destinations: [warehouse]\n  jobs: [daily]\n"
            f"  schema_prefix: {name}_\n"
        )
    project = load_project(root, environment="dev")
    plans = {name: compile_job(project, "daily", name) for name in ("north", "south")}
    assert _sharing(plans) == [["north", "south"]]
    runs = run_job_for_warehouses(project, "daily", max_parallelism=2)
    assert [(r.warehouse, r.ok) for r in runs] == [("north", True), ("south", True)], [r.error for r in runs]

    def warehouse(schema: str) -> DuckDBTarget:
        return DuckDBTarget(root / "warehouse.duckdb", schema, read_only=True)

    counts = {
        schema: warehouse(schema).count("customers")
        for schema in ("north_br__shop__main", "south_br__shop__main")
    }
    loads = warehouse("north__datakit").count("loads")
    assert counts["north_br__shop__main"] == counts["south_br__shop__main"] and loads == 2

    # north's job is running (in this very process): north is reported as not started, south still runs
    state = open_store(project)
    holder = state.start_run("daily", "{}", warehouse="north")
    try:
        again = run_job_for_warehouses(project, "daily", max_parallelism=2)
    finally:
        state.finish_run(holder, RunStatus.FAILED)
        state.close()
    north, south = again
    assert north.result is None and not north.ok and "already" in (north.error or "")
    assert south.ok and south.result is not None and south.result.warehouse == "south"
