"""Compiled DAGs in Airflow 3 itself: what Airflow parses, `dag.test()` runs, and retries.

Each test compiles a project into a temporary dags folder and runs Airflow in a subprocess (see
conftest.py). Airflow 3's `dag.test()` syncs the DAG from its *file* in the configured dags folder to
the metadata database before running it, so the DAG under test must be discoverable there — a DAG
object built in the test process would not do.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from datakit.config import load_project
from datakit.integrations.airflow.compile import compile_dags, write_dags
from datakit.orchestrate.run import run_job
from datakit.orchestrate.store import open_store
from tests.integrations.airflow.conftest import HERE, AirflowEnv, changed, duckdb_fingerprint, tree
from tests.integrations.airflow.projects import rich_project, shop_project
from tests.pagila_project import copy_pagila_project


def compile_into(root: Path, dags: Path) -> list[str]:
    files = compile_dags(load_project(root, environment="dev"), out=dags)
    write_dags(files, dags, project=files[0].project)
    return [f.dag_id for f in files]


def test_airflow_parses_every_file_with_the_plan_settings(tmp_path: Path, airflow_env: AirflowEnv) -> None:
    dags = tmp_path / "dags"
    compile_into(copy_pagila_project(tmp_path), dags)
    compile_into(rich_project(tmp_path / "shop"), dags)
    seen = airflow_env.run([str(HERE / "dag_inspect.py"), str(dags)], dags)

    assert seen["import_errors"] == {}
    # a parse imports no datakit (what would make parsing slow): datakit is imported when a task runs;
    # only a job with an SLA names datakit's deadline callback, whose module Airflow checks (it imports
    # nothing itself)
    parsed = seen["parse_datakit_modules"]
    with_sla = {"datakit__pagila_daily.py", "datakit__pagila_hourly.py"}
    assert parsed and all(not modules for name, modules in parsed.items() if name not in with_sla)
    for name in with_sla:
        assert parsed[name] == [
            "datakit",
            "datakit.integrations",
            "datakit.integrations.airflow",
            "datakit.integrations.airflow.callbacks",
        ]
    assert sorted(seen["dags"]) == [
        "datakit__acme__pagila_warehouse",
        "datakit__daily",
        "datakit__globex__pagila_warehouse",
        "datakit__pagila_daily",
        "datakit__pagila_hourly",
        "datakit__pagila_warehouse",  # tenants run it, and so can the project itself
        "datakit__report",
    ]

    acme = seen["dags"]["datakit__acme__pagila_warehouse"]
    assert len(acme["tasks"]) == 15
    assert (acme["max_active_tasks"], acme["max_active_runs"], acme["timetable"]["type"]) == (
        1,
        1,
        "NullTimetable",
    )
    address = acme["tasks"]["pagila_bronze_pg.address"]
    assert address["upstream"] == ["pagila_bronze_pg.actor"]
    assert (address["retries"], address["retry_delay"], address["retry_exponential_backoff"]) == (1, 30.0, 0)
    assert acme["tasks"]["pagila_bronze_pg.store"]["outlets"] == ["datakit://acme/pagila_warehouse"]

    daily = seen["dags"]["datakit__pagila_daily"]
    assert daily["timetable"] == {
        "type": "CronTriggerTimetable",
        "expression": "0 2 * * *",
        "timezone": "Europe/Paris",
        "interval": 0.0,
        "run_immediately": False,
    }
    gold = daily["tasks"]["gold"]
    assert gold["upstream"] == ["silver_checks"]
    assert (
        gold["retries"],
        gold["retry_delay"],
        gold["retry_exponential_backoff"],
        gold["max_retry_delay"],
    ) == (
        2,
        60.0,
        2.0,
        900.0,
    )
    assert daily["fail_fast"] is False  # see compile.py: fail_fast would end a failed run as success
    assert daily["max_active_tasks"] == 2

    report = seen["dags"]["datakit__report"]
    assert report["timetable"]["type"] == "AssetOrTimeSchedule"
    assert report["schedule_assets"] == ["datakit://shop/daily"]
    orders = report["tasks"]["shop_bronze.orders"]
    assert set(report["tasks"]) == {"shop_bronze.customers", "shop_bronze.orders"}
    # parallel mode, but both steps write one DuckDB file: chained, so never two writers at once
    assert orders["upstream"] == ["shop_bronze.customers"]
    assert (orders["execution_timeout"], orders["retries"], orders["max_retry_delay"]) == (300.0, 3, 10.0)
    assert orders["outlets"] == ["datakit://shop/report"]
    assert seen["dags"]["datakit__daily"]["tasks"]["shop_bronze.orders"]["outlets"] == [
        "datakit://shop/daily"
    ]


def test_dag_test_retries_a_transient_failure_and_matches_the_local_run(
    tmp_path: Path, airflow_env: AirflowEnv
) -> None:
    in_airflow = shop_project(tmp_path / "airflow" / "shop")
    dags = tmp_path / "dags"
    compile_into(in_airflow, dags)
    # the first attempt of `orders` fails with a transient error (connection lost): Airflow retries it
    result = airflow_env.dag_test(dags, "datakit__daily", "--fail-once", "shop_bronze.orders")
    assert result["state"] == "success"
    assert result["tasks"] == {
        "shop_bronze.customers": {"state": "success", "try_number": 1},
        "shop_bronze.orders": {"state": "success", "try_number": 2},
    }

    local = shop_project(tmp_path / "local" / "shop")
    assert run_job(load_project(local, environment="dev"), "daily").ok

    airflow_tables = duckdb_fingerprint(in_airflow / "warehouse.duckdb")
    assert airflow_tables == duckdb_fingerprint(local / "warehouse.duckdb")
    assert airflow_tables["br__shop__main.customers"][0] == 50
    assert airflow_tables["br__shop__main.orders"][0] == 200


def test_a_retry_after_the_load_committed_does_not_load_again(
    tmp_path: Path, airflow_env: AirflowEnv
) -> None:
    """The first try of `customers` (an append) commits its load, then fails: the retry asks the
    destination, finds the load of this DAG run, and reports it instead of appending every row again."""
    projects = {}
    for where in ("airflow", "local"):
        root = shop_project(tmp_path / where / "shop")
        source = root / "config/sources/shop.yaml"
        source.write_text(
            source.read_text().replace("write_disposition: merge", "write_disposition: append", 1)
        )
        projects[where] = root
    dags = tmp_path / "dags"
    compile_into(projects["airflow"], dags)
    result = airflow_env.dag_test(dags, "datakit__daily", "--fail-after-load", "shop_bronze.customers")
    assert result["state"] == "success"
    assert result["tasks"]["shop_bronze.customers"] == {"state": "success", "try_number": 2}
    assert run_job(load_project(projects["local"], environment="dev"), "daily").ok

    airflow_tables = duckdb_fingerprint(projects["airflow"] / "warehouse.duckdb")
    assert airflow_tables["br__shop__main.customers"][0] == 50
    assert airflow_tables == duckdb_fingerprint(projects["local"] / "warehouse.duckdb")


def test_retries_stop_at_max_attempts_and_terminal_errors_are_not_retried(
    tmp_path: Path, airflow_env: AirflowEnv
) -> None:
    root = shop_project(tmp_path / "shop")
    dags = tmp_path / "dags"
    compile_into(root, dags)
    # `daily` allows 3 attempts: a step failing transiently every time is tried exactly 3 times
    result = airflow_env.dag_test(dags, "datakit__daily", "--fail-always", "shop_bronze.customers")
    assert result["state"] == "failed"
    assert result["tasks"]["shop_bronze.customers"] == {"state": "failed", "try_number": 3}
    assert result["tasks"]["shop_bronze.orders"]["state"] == "upstream_failed"

    # a terminal error fails at once (AirflowFailException), whatever the attempts left
    result = airflow_env.dag_test(dags, "datakit__daily", "--fail-terminal", "shop_bronze.customers")
    assert result["state"] == "failed"
    assert result["tasks"]["shop_bronze.customers"] == {"state": "failed", "try_number": 1}
    assert result["tasks"]["shop_bronze.orders"]["state"] == "upstream_failed"


def test_a_full_refresh_in_prod_needs_the_runs_confirmation(tmp_path: Path, airflow_env: AirflowEnv) -> None:
    root = shop_project(tmp_path / "shop")
    dags = tmp_path / "dags"
    files = compile_dags(load_project(root, environment="prod"), out=dags)
    write_dags(files, dags, project=files[0].project)
    refresh = '{"full_refresh": true}'
    refused = airflow_env.dag_test(dags, "datakit__daily", "--conf", refresh)
    assert refused["state"] == "failed"  # terminally, at its first try: retrying cannot confirm it
    assert refused["tasks"]["shop_bronze.customers"] == {"state": "failed", "try_number": 1}
    assert refused["tasks"]["shop_bronze.orders"]["state"] == "upstream_failed"
    assert not (root / "warehouse-prod.duckdb").exists()  # nothing was loaded

    confirmed = airflow_env.dag_test(
        dags, "datakit__daily", "--conf", '{"full_refresh": true, "confirm_full_refresh": true}'
    )
    assert confirmed["state"] == "success", confirmed
    assert duckdb_fingerprint(root / "warehouse-prod.duckdb")["br__shop__main.customers"][0] == 50


@pytest.mark.postgres
def test_pagila_for_acme_on_postgres_matches_the_local_run(
    tmp_path: Path, airflow_env: AirflowEnv, pagila_dsn: str, pg_dsn: str
) -> None:
    from tests.integrations.airflow.conftest import postgres_fingerprint
    from tests.integrations.airflow.projects import acme_full_job, postgres_state
    from tests.pagila_project import pagila_env, scratch_database

    with scratch_database(pg_dsn) as airflow_dsn, scratch_database(pg_dsn) as local_dsn:
        fingerprints = []
        for name, dsn in (("airflow", airflow_dsn), ("local", local_dsn)):
            root = copy_pagila_project(tmp_path / name)
            acme_full_job(root)
            postgres_state(root)  # a read-only deployment keeps its run history in a database
            env = pagila_env(pagila_dsn, dsn)
            if name == "airflow":
                dags = tmp_path / "dags"
                with pytest.MonkeyPatch.context() as patch:
                    for key, value in env.items():
                        patch.setenv(key, value)
                    files = compile_dags(
                        load_project(root, environment="dev"), warehouse="acme", job="acme_full"
                    )
                write_dags(files, dags, project=files[0].project)
                before = tree(root)
                result = airflow_env.dag_test(dags, "datakit__acme__acme_full", extra=env)
                # a read-only project: the tasks wrote nothing in it (dbt's files are under DATAKIT_HOME,
                # the run history in the PostgreSQL state store)
                assert changed(before, tree(root)) == []
                assert list((airflow_env.home / "datakit-home" / "projects").glob("pagila-*/dbt/pagila/acme"))
                assert result["state"] == "success", result
                assert result["tasks"]["silver_checks"]["state"] == "success"
                assert result["tasks"]["gold"]["state"] == "success"
                with pytest.MonkeyPatch.context() as patch:
                    for key, value in env.items():
                        patch.setenv(key, value)
                    store = open_store(load_project(root, environment="dev"))
                try:
                    (run,) = store.list_runs(engine="airflow")
                finally:
                    store.close()
                assert (run.job, run.warehouse, run.status) == ("acme_full", "acme", "succeeded")
            else:
                with pytest.MonkeyPatch.context() as patch:
                    for key, value in env.items():
                        patch.setenv(key, value)
                    outcome = run_job(load_project(root, environment="dev"), "acme_full", warehouse="acme")
                assert outcome.ok
            fingerprints.append(postgres_fingerprint(dsn, prefix="acme_"))
        in_airflow, local = fingerprints
        differing = sorted(t for t in {*in_airflow, *local} if in_airflow.get(t) != local.get(t))
        assert differing == []
        assert in_airflow["acme_br__pagila__public.payment"][0] > 10_000
        assert any(table.startswith("acme_gold.") or ".agg_monthly" in table for table in in_airflow)
