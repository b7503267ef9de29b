"""`datakit deploy`, `reflect` and `run pipeline` end to end, in subprocesses, on real servers.

The example project is copied per test; it reads the shared Pagila database (never written) and loads
into a DuckDB file in tmp or a scratch PostgreSQL database of the test's own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

from datakit.datakits import load_datakit
from tests.cli.test_cli import run
from tests.conftest import EXAMPLES
from tests.pagila import UNSCALED_ROWS
from tests.pagila_project import copy_pagila_project, pagila_env, scratch_database

pytestmark = pytest.mark.postgres


@pytest.fixture
def warehouse_dsn(pg_dsn: str) -> Iterator[str]:
    with scratch_database(pg_dsn) as dsn:
        yield dsn


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_pagila_project(tmp_path)


def datakit(project: Path, env: dict[str, str], *args: str) -> Any:
    return run("-p", str(project), *args, env=env)


def execute(destination: str, project: Path, warehouse_dsn: str | None, sql: str) -> list[tuple[Any, ...]]:
    if destination == "local_duckdb":
        with duckdb.connect(str(project / "warehouse.duckdb")) as conn:
            return conn.execute(sql).fetchall()
    assert warehouse_dsn is not None
    with psycopg.connect(warehouse_dsn, autocommit=True) as conn:
        cursor = conn.execute(sql)
        return cursor.fetchall() if cursor.description else []


@pytest.mark.parametrize("destination", ["local_duckdb", "warehouse_pg"])
def test_deploy_is_idempotent_and_validate_reports_drift(
    destination: str, project: Path, pagila_dsn: str, warehouse_dsn: str
) -> None:
    env = pagila_env(pagila_dsn, warehouse_dsn)
    first = datakit(project, env, "deploy", "pagila", "--destination", destination)
    assert first.returncode == 0, first.stderr
    assert "15 tables created, 0 already there, in br__pagila__public" in first.stdout
    again = datakit(project, env, "deploy", "pagila", "--destination", destination, "--json")
    report = json.loads(again.stdout)
    assert report["schemas"] == ["br__pagila__public"]
    assert [t["created"] for t in report["tables"]] == [False] * 15
    clean = datakit(project, env, "deploy", "pagila", "--destination", destination, "--validate")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "15 tables match their contracts (deployed from pagila 1.0.0)" in clean.stdout

    columns = execute(
        destination,
        project,
        warehouse_dsn,
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'br__pagila__public' AND table_name = 'customer' ORDER BY ordinal_position",
    )
    assert [c[0] for c in columns][-5:] == [
        "created_at",
        "updated_at",
        "systime",
        "_dk_load_id",
        "_dk_record_hash",
    ]
    for statement in (
        "ALTER TABLE br__pagila__public.actor DROP COLUMN last_name",
        "ALTER TABLE br__pagila__public.actor ADD COLUMN nickname integer",
        "ALTER TABLE br__pagila__public.city ALTER COLUMN city TYPE integer USING 1",
        "DROP TABLE br__pagila__public.store",
    ):
        execute(destination, project, warehouse_dsn, statement)
    wide = env | {"COLUMNS": "200"}  # a terminal the drift table fits in (at 80 its headers wrap)
    drift = datakit(project, wide, "deploy", "pagila", "--destination", destination, "--validate")
    assert drift.returncode == 1
    out = drift.stdout
    assert "Drift between live tables and contracts" in out
    assert "3 of 15 tables drift from their contracts" in out
    assert "deployed from" in out and "pagila 1.0.0" in out
    found = json.loads(
        datakit(project, env, "deploy", "pagila", "-d", destination, "--validate", "--json").stdout
    )
    bad = {t["table"]: t for t in found["tables"] if t["drift"] or not t["exists"]}
    assert sorted(bad) == ["actor", "city", "store"]
    assert not bad["store"]["exists"]
    kinds = {(d["column"], d["kind"]) for d in bad["actor"]["drift"]}
    assert kinds == {("last_name", "missing"), ("nickname", "extra")}
    assert [(d["column"], d["kind"]) for d in bad["city"]["drift"]] == [("city", "type_changed")]
    # each live table says which datakit version created it (recorded in _datakit.tables by the deploy)
    assert {t["table"]: t["deployed_from"] for t in found["tables"]}["actor"] == {
        "name": "pagila",
        "version": "1.0.0",
        "by": "deploy",
        "at": bad["actor"]["deployed_from"]["at"],
    }
    assert bad["store"]["deployed_from"] is None  # dropped: nothing live to speak for


def test_silver_on_postgres_has_keys_and_foreign_keys(
    project: Path, pagila_dsn: str, warehouse_dsn: str
) -> None:
    env = pagila_env(pagila_dsn, warehouse_dsn)
    done = datakit(project, env, "deploy", "pagila", "-d", "warehouse_pg", "--layer", "silver")
    assert done.returncode == 0, done.stderr
    assert "in sv__pagila__public (silver" in done.stdout
    datakit(project, env, "deploy", "pagila", "-d", "warehouse_pg")  # bronze beside it
    constraints = execute(
        "warehouse_pg",
        project,
        warehouse_dsn,
        "SELECT n.nspname, c.contype, count(*) FROM pg_constraint c "
        "JOIN pg_namespace n ON n.oid = c.connamespace "
        "WHERE n.nspname LIKE '%__pagila__public' GROUP BY 1, 2 ORDER BY 1, 2",
    )
    by_kind = {(schema, kind): count for schema, kind, count in constraints}
    assert by_kind[("sv__pagila__public", "p")] == 15
    shipped = load_datakit(EXAMPLES / "pagila" / "datakits", "pagila").contracts("source")
    assert by_kind[("sv__pagila__public", "f")] == sum(
        c.foreign_key is not None for t in shipped for c in t.columns
    )
    assert not any(schema == "br__pagila__public" and kind in "pfu" for schema, kind in by_kind)
    nullable = execute(
        "warehouse_pg",
        project,
        warehouse_dsn,
        "SELECT is_nullable FROM information_schema.columns WHERE table_schema = 'sv__pagila__public' "
        "AND table_name = 'customer' AND column_name = 'first_name'",
    )
    assert nullable == [("NO",)]


def test_reflect_writes_an_importable_package_equal_to_the_datakit(project: Path, pagila_dsn: str) -> None:
    env = pagila_env(pagila_dsn)
    done = datakit(project, env, "reflect", "--source", "pagila", "--out", "reflected/pagila")
    assert done.returncode == 0, done.stderr
    assert "15 tables of pagila.public written to" in done.stdout
    package = project / "reflected" / "pagila"
    assert (package / "__init__.py").is_file()
    fresh = load_datakit(project / "reflected", "pagila")
    shipped = load_datakit(EXAMPLES / "pagila" / "datakits", "pagila")
    assert fresh.contracts("source") == shipped.contracts("source")
    some = datakit(
        project, env, "reflect", "-s", "pagila", "--tables", "actor, film", "-o", "partial/pagila", "--json"
    )
    assert json.loads(some.stdout)["tables"] == ["actor", "film"]
    unknown = datakit(project, env, "reflect", "-s", "pagila", "--tables", "actors", "-o", "x/pagila")
    assert unknown.returncode == 2
    assert "unknown table 'actors'" in unknown.stderr and "did you mean 'actor'?" in unknown.stderr
    assert "Traceback" not in unknown.stderr


def summary_rows(stdout: str) -> dict[str, list[str]]:
    """The summary table's rows: table name -> [read, loaded, rejected, seconds, changes, status]."""
    rows = {}
    for line in stdout.splitlines():
        cells = [cell.strip() for cell in line.strip("│ ").split("│")]
        if len(cells) == 7 and cells[1].replace(",", "").isdigit():
            rows[cells[0]] = cells[1:]
    return rows


def real_counts(pagila_dsn: str) -> dict[str, int]:
    with psycopg.connect(pagila_dsn) as conn:
        return {
            table: conn.execute(f"SELECT count(*) FROM public.{table}").fetchone()[0]  # type: ignore[index]
            for table in UNSCALED_ROWS
        }


@pytest.mark.parametrize(
    ("pipeline", "destination"), [("pagila_bronze", "local_duckdb"), ("pagila_bronze_pg", "warehouse_pg")]
)
def test_run_pipeline_loads_every_pagila_table(
    pipeline: str, destination: str, project: Path, pagila_dsn: str, warehouse_dsn: str
) -> None:
    env = pagila_env(pagila_dsn, warehouse_dsn)
    expected = real_counts(pagila_dsn)
    done = datakit(project, env, "run", "pipeline", pipeline, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout)
    assert summary["ok"] is True
    results = {r["resource"]: r for r in summary["resources"]}
    assert sorted(results) == sorted(expected)
    for table, rows in expected.items():
        result = results[table]
        assert (result["rows_read"], result["rows_loaded"], result["rows_rejected"]) == (rows, rows, 0), table
        assert result["target"] == f"br__pagila__public.{table}"
        loaded = execute(
            destination, project, warehouse_dsn, f"SELECT count(*) FROM br__pagila__public.{table}"
        )
        assert loaded == [(rows,)], table
    emails = execute(
        destination,
        project,
        warehouse_dsn,
        "SELECT count(*) FROM br__pagila__public.customer WHERE email <> lower(email)",
    )
    assert emails == [(0,)]  # the typed transform ran
    again = datakit(
        project, env, "run", "pipeline", pipeline, "-r", "store", "-r", "rental", "--full-refresh"
    )
    assert again.returncode == 0, again.stderr
    assert f"pipeline {pipeline} → br__pagila__public" in again.stdout
    store, rental = expected["store"], expected["rental"]
    rows = summary_rows(again.stdout)
    assert rows["store"][:3] == [str(store), str(store), "0"]
    assert rows["rental"][:3] == [f"{rental:,}", f"{rental:,}", "0"]  # full refresh: every row again
    assert rows["rental"][-1] == "ok"
    count = "SELECT count(*) FROM br__pagila__public.rental"
    assert execute(destination, project, warehouse_dsn, count) == [(rental,)]
    assert "2 resources loaded" in again.stdout
    assert "loading store → br__pagila__public.store" in again.stderr  # plain lines off a terminal


def test_run_pipeline_exits_non_zero_when_a_resource_fails(project: Path, pagila_dsn: str) -> None:
    source = project / "config" / "sources" / "pagila.yaml"
    source.write_text(
        source.read_text().replace(
            "    - name: store\n",
            "    - name: actor_gone\n      table: no_such_table\n      contract: actor\n    - name: store\n",
        )
    )
    pipeline = project / "config" / "pipelines" / "pagila_rentals.yaml"
    pipeline.write_text(pipeline.read_text().replace("[rental, payment]", "[actor_gone, language]"))
    env = pagila_env(pagila_dsn)
    done = datakit(project, env, "run", "pipeline", "pagila_rentals")
    assert done.returncode == 1
    assert "failed" in done.stdout and "1 of 2 resources failed" in done.stdout
    assert "actor_gone:" in done.stderr and "no_such_table" in done.stderr
    assert "Traceback" not in done.stderr
    assert execute("local_duckdb", project, None, "SELECT count(*) FROM br__pagila__public.language") == [
        (6,)
    ]


def test_usage_errors_are_clear(project: Path, pagila_dsn: str) -> None:
    env = pagila_env(pagila_dsn)
    kit = datakit(project, env, "deploy", "pagilla", "-d", "local_duckdb")
    assert kit.returncode == 1
    # (the test servers' password is `datakit`, so that word is masked in output: assert around it)
    assert "'pagilla' (no package pagilla/__init__.py)" in kit.stderr
    assert "did you mean 'pagila'?" in kit.stderr
    dest = datakit(project, env, "deploy", "pagila", "-d", "local_duckbd")
    assert dest.returncode == 2 and "did you mean 'local_duckdb'?" in dest.stderr
    resource = datakit(project, env, "run", "pipeline", "pagila_rentals", "-r", "rentals")
    assert resource.returncode == 2 and "did you mean 'rental'?" in resource.stderr
    for result in (kit, dest, resource):
        assert "Traceback" not in result.stderr


def test_init_reflect_run_needs_no_service(tmp_path: Path) -> None:
    # The scaffolded project (SQLite source, DuckDB warehouse): reflect its source into a datakit,
    # which the pipeline then names.
    root = tmp_path / "shop"
    assert run("init", str(root)).returncode == 0
    reflected = run("-p", str(root), "reflect", "--source", "shop", "--out", "datakits/shop")
    assert reflected.returncode == 0, reflected.stderr
    kit = load_datakit(root / "datakits", "shop")
    assert sorted(c.name for c in kit.contracts("source")) == ["customers", "orders"]
    pipeline = root / "config" / "pipelines" / "shop_bronze.yaml"
    pipeline.write_text(pipeline.read_text() + "  datakit: shop\n")
    done = run("-p", str(root), "run", "pipeline", "shop_bronze", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    results = {r["resource"]: r for r in json.loads(done.stdout)["resources"]}
    assert {name: r["rows_loaded"] for name, r in results.items()} == {"customers": 50, "orders": 200}
    assert results["orders"]["target"] == "br__shop__main.orders"
