"""Backfills on the Pagila example, on DuckDB and PostgreSQL: a month of `rental` in daily chunks, killed
midway and resumed, loads each row once and leaves the cursor where it was; a job's backfill hands dbt
its window; what cannot be backfilled is said so before anything runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from datakit.config import load_project
from datakit.errors import UsageError
from datakit.orchestrate.backfill import compile_backfill
from datakit.orchestrate.plan import resume_command
from datakit.orchestrate.stepkinds import DbtStep, LoadStep
from datakit.orchestrate.store import StepStatus, open_store
from tests.conftest import EXAMPLES
from tests.matrix import ENGINES
from tests.orchestrate.pagila_runs import Warehouse, pagila_warehouse
from tests.waits import wait_until

FEBRUARY = [f"202202{day:02d}" for day in range(1, 29)]
RENTALS = 16044
KILL_AFTER = "pagila_bronze.rental.20220216"
"""The chunk holding 16,042 of the month's rentals; the 23rd (one rental) is still to come when killed."""
WINDOW_MODEL = """\
{{ config(materialized='incremental', unique_key='rental_id') }}
select rental_id, last_update, '{{ var("datakit_start", "none") }}' as built_for
from {{ source('br__pagila__public', 'rental') }}
{% if is_incremental() %}
where last_update >= '{{ var("datakit_start") }}' and last_update < '{{ var("datakit_end") }}'
{% endif %}
"""


@pytest.fixture(params=ENGINES)
def warehouse(
    request: pytest.FixtureRequest, tmp_path: Path, pg_dsn: str, pagila_dsn: str
) -> Iterator[Warehouse]:
    yield from pagila_warehouse(request.param, tmp_path, pg_dsn, pagila_dsn)


def _steps(root: Path, job: str) -> dict[str, str]:
    """Step id -> status of the latest run of `job` (empty before it is recorded)."""
    store = open_store(load_project(root))
    try:
        runs = store.list_runs(job=job, limit=1)
        return {s.step_id: s.status for s in store.get_run(runs[0].id).steps} if runs else {}
    finally:
        store.close()


def test_a_killed_backfill_resumes_loading_each_row_once(warehouse: Warehouse) -> None:
    pipeline = warehouse.pipeline
    loaded = warehouse.datakit("run", "pipeline", pipeline, "-r", "rental", "--json")
    assert loaded.returncode == 0, loaded.stderr
    cursor_sql = "select cursor_value, load_id from _datakit.cursors where resource = 'rental'"
    cursor = warehouse.target.query(cursor_sql)
    assert len(cursor) == 1
    _write(warehouse, "delete from br__pagila__public.rental")  # the month to backfill is lost

    args = ["backfill", "pipeline", pipeline, "-r", "rental", "--start", "2022-02-01", "--end", "2022-03-01"]
    job = f"backfill:pipeline:{pipeline}"
    kill_after = KILL_AFTER.replace("pagila_bronze", pipeline)
    process = subprocess.Popen(
        [sys.executable, "-m", "datakit", "-p", str(warehouse.root), *args, "--chunk", "1d"],
        env={k: v for k, v in os.environ.items() if k != "ENVIRONMENT"} | warehouse.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until(
            lambda: _steps(warehouse.root, job).get(kill_after) == StepStatus.SUCCEEDED.value,
            f"chunk {kill_after} to commit",
            guard=600,
        )
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    killed = _steps(warehouse.root, job)
    assert len(killed) == len(FEBRUARY)  # every chunk of the month is a step of the run
    done = [s for s, status in killed.items() if status == "succeeded"]
    # chunks run in order, one at a time: those done are the first ones, the 23rd is not among them
    assert done == [f"{pipeline}.rental.{day}" for day in FEBRUARY[: len(done)]]
    assert kill_after in done and f"{pipeline}.rental.20220223" not in done

    store = open_store(load_project(warehouse.root))
    try:
        run_id = store.list_runs(job=job, limit=1)[0].id
    finally:
        store.close()
    resumed = warehouse.datakit("backfill", "pipeline", pipeline, "--resume", str(run_id), "--json")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    steps = _steps(warehouse.root, job)
    assert {s for s, status in steps.items() if status == "reused"} == {
        s for s, status in killed.items() if status == "succeeded"
    }
    assert all(status in ("reused", "succeeded") for status in steps.values())

    rentals = "select count(*), count(distinct rental_id) from br__pagila__public.rental"
    assert warehouse.target.query(rentals) == [(RENTALS, RENTALS)]
    loads = warehouse.target.query(
        "select step_id, count(*), sum(rows_loaded), min(window_start), min(window_end) from _datakit.loads "
        "where status = 'succeeded' and step_id like $1 group by step_id",
        [f"{pipeline}.rental.%"],
    )
    by_chunk = {row[0]: row[1:] for row in loads}
    assert set(by_chunk) == {f"{pipeline}.rental.{day}" for day in FEBRUARY}
    assert all(count == 1 for count, *_ in by_chunk.values())  # each chunk committed once
    assert sum(int(rows) for _, rows, *_ in by_chunk.values()) == RENTALS  # each row loaded once
    window = by_chunk[f"{pipeline}.rental.20220223"][2:]
    assert window == ("2022-02-23T00:00:00+00:00", "2022-02-24T00:00:00+00:00")
    assert warehouse.target.query(cursor_sql) == cursor  # the cursor is where it was


def _write(warehouse: Warehouse, statement: str) -> None:
    if warehouse.target.kind == "duckdb":
        import duckdb

        with duckdb.connect(warehouse.target.location) as conn:
            conn.execute(statement)
        return
    import psycopg

    with psycopg.connect(warehouse.target.location, autocommit=True) as conn:
        conn.execute(statement)  # type: ignore[arg-type]


@pytest.mark.parametrize("engine", ["duckdb"])
def test_a_job_backfill_rebuilds_the_window_downstream(
    engine: str, tmp_path: Path, pg_dsn: str, pagila_dsn: str
) -> None:
    for warehouse in pagila_warehouse(engine, tmp_path, pg_dsn, pagila_dsn):
        model = warehouse.root / "transform" / "pagila" / "models" / "silver" / "rental_window.sql"
        model.write_text(WINDOW_MODEL)
        first = warehouse.run_job("--select", "+silver.rental_window")
        assert first["status"] == "succeeded", first
        whole = "select count(*) from silver.rental_window where built_for = 'none'"
        assert warehouse.target.query(whole) == [(RENTALS,)]
        # only rental is in this warehouse: what joins it to other tables is left out
        done = warehouse.datakit(
            "backfill", "job", warehouse.job, "--select", "pagila_bronze.rental",
            "--exclude", "gold silver_checks silver.relationships_*",
            "--start", "2022-02-15", "--end", "2022-02-16", "--json",
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        rebuilt = warehouse.target.query(
            "select rental_id, built_for from silver.rental_window where built_for <> 'none'"
        )
        # the one rental updated on the 15th, rebuilt for the window dbt was given
        assert [row[1] for row in rebuilt] == ["2022-02-15T00:00:00+00:00"]
        assert warehouse.target.query("select count(*) from silver.rental_window") == [(RENTALS,)]


def test_what_a_backfill_runs_and_refuses(tmp_path: Path) -> None:
    from tests.pagila_project import copy_pagila_project

    project = load_project(copy_pagila_project(tmp_path))
    plan = compile_backfill(project, "pipeline", "pagila_bronze", "2022-02-01", "2022-02-08", "1d")
    assert plan.job == "backfill:pipeline:pagila_bronze"
    resume = "datakit backfill pipeline pagila_bronze --warehouse acme --resume 7"
    assert resume_command(plan.job, "acme", 7) == resume
    incremental = ["actor", "address", "customer", "film", "payment", "rental"]
    assert [s.id for s in plan.steps] == [
        f"pagila_bronze.{resource}.202202{day:02d}" for resource in incremental for day in range(1, 8)
    ]
    assert plan.backfill is not None and set(plan.backfill.skipped) == {
        f"pagila_bronze.{r}"
        for r in ("category", "city", "country", "film_actor", "film_category", "inventory", "language")
    } | {"pagila_bronze.staff", "pagila_bronze.store"}
    first = plan.steps[0]
    assert isinstance(first, LoadStep) and first.params.window is not None
    assert (first.params.window.start.isoformat(), first.params.window.end.isoformat()) == (  # type: ignore[union-attr]
        "2022-02-01T00:00:00+00:00",
        "2022-02-02T00:00:00+00:00",
    )
    hours = compile_backfill(project, "pipeline", "pagila_bronze", "2022-02-01", "2022-02-01T12:00", "6h",
                             resources=["rental"], max_parallelism=3)  # fmt: skip
    assert [s.id for s in hours.steps] == [
        "pagila_bronze.rental.20220201T0000",
        "pagila_bronze.rental.20220201T0600",
    ]
    assert hours.parallelism == 3
    day = ("2022-02-01", "2022-02-02")
    with pytest.raises(
        UsageError, match=r"pagila_bronze\.category cannot be backfilled: it has no incremental"
    ):
        compile_backfill(project, "pipeline", "pagila_bronze", *day, resources=["category"])
    with pytest.raises(UsageError, match="has no resource 'rentals'") as typo:
        compile_backfill(project, "pipeline", "pagila_bronze", *day, resources=["rentals"])
    assert "did you mean 'rental'" in str(typo.value)
    with pytest.raises(UsageError, match="must be before --end"):
        compile_backfill(project, "pipeline", "pagila_bronze", "2022-03-01", "2022-02-01")
    with pytest.raises(UsageError, match="neither a time nor a number"):
        compile_backfill(project, "pipeline", "pagila_bronze", "yesterday", "2022-02-01")


def test_a_files_source_cannot_be_backfilled(tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "jaffle_shop"
    shutil.copytree(EXAMPLES / "jaffle_shop", root, ignore=shutil.ignore_patterns("*.duckdb", ".datakit"))
    project = load_project(root)
    with pytest.raises(UsageError, match="nothing of jaffle_files can be backfilled") as refused:
        compile_backfill(project, "pipeline", "jaffle_files", "2018-01-01", "2018-02-01")
    assert "jaffle is a files source: it reads whole files, it cannot filter rows by a cursor" in str(
        refused.value
    )
    plan = compile_backfill(project, "pipeline", "jaffle_payments", "2018-01-01", "2018-01-03")
    assert [s.id for s in plan.steps] == [
        "jaffle_payments.payments.20180101",
        "jaffle_payments.payments.20180102",
    ]


def test_a_job_backfill_plan_on_the_plain_dbt_project(tmp_path: Path) -> None:
    """jaffle_shop's job: payments (the API, incremental) in chunks, then what reads them, dbt with the
    window; the CSV exports are not backfilled, and the plan says why."""
    import shutil

    root = tmp_path / "jaffle_shop"
    shutil.copytree(EXAMPLES / "jaffle_shop", root, ignore=shutil.ignore_patterns("*.duckdb", ".datakit"))
    project = load_project(root)
    plan = compile_backfill(project, "job", "jaffle_daily", "2018-01-01", "2018-01-03", warehouse="acme")
    assert plan.job == "backfill:job:jaffle_daily" and plan.warehouse == "acme"
    ids = [s.id for s in plan.steps]
    assert ids[:2] == ["jaffle_payments.payments.20180101", "jaffle_payments.payments.20180102"]
    assert set(ids[2:]) == {"dbt_build", "marts_checks"}
    dbt = plan.step("dbt_build")
    assert isinstance(dbt, DbtStep)
    assert set(dbt.depends_on) == set(ids[:2])
    assert dbt.params.vars["datakit_start"] == "2018-01-01T00:00:00+00:00"
    assert dbt.params.vars["datakit_end"] == "2018-01-03T00:00:00+00:00"
    assert dbt.params.select is not None
    selected: set[Any] = set(dbt.params.select.split())
    assert {"fqn:jaffle_shop.staging.stg_payments", "fqn:jaffle_shop.marts.orders"} <= selected
    assert "fqn:jaffle_shop.staging.stg_customers" not in selected  # reads the CSV exports only
    assert plan.backfill is not None
    assert set(plan.backfill.skipped) == {"jaffle_files.raw_customers", "jaffle_files.raw_orders"}
