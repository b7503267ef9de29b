"""acme and globex load the real Pagila in parallel into one PostgreSQL server and both reconcile exactly.

One fan-out (`datakit run job pagila_warehouse --warehouse all --max-parallelism 2`, as a user runs it)
into a scratch database is shared by the tests of this module. The generic `warehouse_password` is set
to a wrong value: the tenants must connect with their own keys (on a server that checks passwords, a
tenant falling back to the generic key would fail to load at all).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from datakit.connectors import Column, PostgresParams, TableRef, open_source
from tests.cli.test_cli import run
from tests.connectors.checksums import _normal, kind, pg_sql
from tests.matrix import PostgresTarget, Row
from tests.pagila import TABLES, UNSCALED_ROWS
from tests.pagila_project import copy_pagila_project, pagila_env, scratch_database

pytestmark = pytest.mark.postgres

JOB = "pagila_warehouse"
TENANTS = ("acme", "globex")
TRANSFORMED = {
    ("customer", "email"): 'lower("email")',
    ("customer", "create_date"): "(\"create_date\"::timestamp AT TIME ZONE 'UTC')",
}
"""Source columns the example's bronze transform changes on purpose (customer_bronze_transform), as SQL
on the source giving what bronze holds."""
RENAMED = {("customer", "create_date"): "created_at"}
"""Source columns that bronze holds under another name."""


@dataclass
class FanOut:
    project: Path
    env: dict[str, str]
    dsn: str
    stdout: str
    stderr: str
    returncode: int

    def query(self, sql: str) -> list[Row]:
        """Rows of `sql` on the tenants' warehouse database."""
        return PostgresTarget(self.dsn, "public").query(sql)


SILVER_JOB = "pagila_pg_country"
SILVER_JOB_YAML = f"""job:
  name: {SILVER_JOB}
  steps:
    - name: silver
      dbt: {{project: transform/pagila, command: build, select: country, destination: warehouse_pg}}
    - name: checks
      checks: country_quality
      depends_on: [silver]
  execution: {{mode: dag}}
"""
SUITE_YAML = """checks:
  name: country_quality
  destination: warehouse_pg
  tables:
    silver.country:
      - not_null: [country_id, country]
      - unique: country_id
      - row_count: {equal_to: br__pagila__public.country}
"""


def _with_silver_job(project: Path) -> None:
    """A dbt + checks job on the PostgreSQL warehouse (one silver model: dbt's parse dominates), acme's."""
    (project / "config" / "jobs" / f"{SILVER_JOB}.yaml").write_text(SILVER_JOB_YAML)
    (project / "config" / "checks" / "country_quality.yaml").write_text(SUITE_YAML)
    acme = project / "config" / "warehouses" / "acme.yaml"
    acme.write_text(
        acme.read_text().replace("jobs: [pagila_warehouse]", f"jobs: [pagila_warehouse, {SILVER_JOB}]")
    )
    for generated in ("target", "logs", "dbt_packages"):  # what a local dbt run in examples/ leaves
        shutil.rmtree(project / "transform" / "pagila" / generated, ignore_errors=True)


@pytest.fixture(scope="module")
def fan_out(tmp_path_factory: pytest.TempPathFactory, pg_dsn: str, pagila_dsn: str) -> Iterator[FanOut]:
    project = copy_pagila_project(tmp_path_factory.mktemp("tenants"))
    _with_silver_job(project)
    with scratch_database(pg_dsn) as dsn:
        env = pagila_env(pagila_dsn, dsn)
        password = env.pop("WAREHOUSE_PASSWORD_DEV")
        env |= {
            "WAREHOUSE_PASSWORD_DEV": "not-the-password",
            "ACME_WAREHOUSE_PASSWORD": password,
            "GLOBEX_WAREHOUSE_PASSWORD": password,
            "COLUMNS": "200",  # tables printed whole, whatever the terminal
        }
        done = run(
            "-p", str(project), "run", "job", JOB, "--warehouse", "all", "--max-parallelism", "2", env=env
        )  # fmt: skip
        yield FanOut(project, env, dsn, done.stdout, done.stderr, done.returncode)


def test_the_fan_out_succeeds_with_one_summary(fan_out: FanOut) -> None:
    assert fan_out.returncode == 0, fan_out.stdout[-4000:] + fan_out.stderr[-4000:]
    out = fan_out.stdout
    assert f"job {JOB} in 2 warehouses" in out
    rows = [line for line in out.splitlines() if any(f" {t} " in line for t in TENANTS)]
    assert len(rows) == 2 and all("succeeded" in row for row in rows), out
    assert f"✓ job {JOB} succeeded in 2 warehouses" in out


def _source_checksums(pagila_dsn: str, table: str, columns: list[Column]) -> dict[str, Any]:
    import psycopg

    select = ", ".join(
        f"{TRANSFORMED.get((table, c.name), f'{_q(c.name)}')} AS {_q(c.name)}" for c in columns
    )
    with psycopg.connect(pagila_dsn) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        return _checksums(conn, f'(SELECT {select} FROM public."{table}") AS t', columns)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _checksums(
    conn: Any, relation: str, columns: list[Column], names: dict[str, str] | None = None
) -> dict[str, Any]:
    """Row count and, per column, (non-null count, checksum) — the column read under `names[column]`
    when given (bronze's name for it); character(n) compares trimmed."""
    parts = ["count(*)"]
    for column in columns:
        c = _q(column.name)
        aggregate = pg_sql(column)
        if kind(column) == "bpchar":
            aggregate = f"md5(string_agg(rtrim({c}::text), E'\\x1f' ORDER BY rtrim({c}::text) COLLATE \"C\"))"
        if names and column.name in names:
            c, aggregate = _q(names[column.name]), aggregate.replace(c, _q(names[column.name]))
        parts.append(f"count({c}), {aggregate}")
    row = conn.execute(f"SELECT {', '.join(parts)} FROM {relation}").fetchone()
    out: dict[str, Any] = {"#rows": row[0]}
    for i, column in enumerate(columns):
        out[column.name] = (row[1 + 2 * i], _normal(row[2 + 2 * i]))
    return out


def test_both_tenants_bronze_reconciles_exactly_with_the_source(fan_out: FanOut, pagila_dsn: str) -> None:
    import psycopg

    assert fan_out.returncode == 0, fan_out.stderr[-4000:]
    source = open_source(PostgresParams.from_dsn(pagila_dsn))
    with psycopg.connect(fan_out.dsn) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        for table in TABLES:
            columns = source.columns(TableRef(table, "public"))
            expected = _source_checksums(pagila_dsn, table, columns)
            assert expected["#rows"] == UNSCALED_ROWS[table]
            names = {s: b for (t, s), b in RENAMED.items() if t == table}
            for tenant in TENANTS:
                actual = _checksums(conn, f'"{tenant}_br__pagila__public"."{table}"', columns, names)
                assert actual == expected, (tenant, table)
        schemas = {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace").fetchall()}
    # nothing was written outside the tenants' prefixed schemas
    assert {
        "acme_br__pagila__public",
        "globex_br__pagila__public",
        "acme__datakit",
        "globex__datakit",
    } <= schemas
    assert not {"_datakit", "br__pagila__public"} & schemas


def test_each_tenant_has_its_own_load_records_and_cursors(fan_out: FanOut) -> None:
    assert fan_out.returncode == 0, fan_out.stderr[-4000:]
    for tenant in TENANTS:
        loads = fan_out.query(
            f'SELECT resource, target, status, rows_loaded FROM "{tenant}__datakit".loads ORDER BY resource'
        )
        assert [(r[0], r[1], r[2], r[3]) for r in loads] == [
            (t, f"{tenant}_br__pagila__public.{t}", "succeeded", UNSCALED_ROWS[t]) for t in TABLES
        ]
        cursors = fan_out.query(f'SELECT resource, target FROM "{tenant}__datakit".cursors ORDER BY resource')
        assert cursors and all(target == f"{tenant}_br__pagila__public.{r}" for r, target in cursors)
    acme_ids = {r[0] for r in fan_out.query('SELECT load_id FROM "acme__datakit".loads')}
    globex_ids = {r[0] for r in fan_out.query('SELECT load_id FROM "globex__datakit".loads')}
    assert len(acme_ids) == len(TABLES) == len(globex_ids) and not acme_ids & globex_ids


def test_run_history_shows_one_run_per_tenant_and_they_overlapped(fan_out: FanOut) -> None:
    assert fan_out.returncode == 0, fan_out.stderr[-4000:]
    listed = run("-p", str(fan_out.project), "runs", "--json", env=fan_out.env)
    assert listed.returncode == 0, listed.stderr
    runs = {r["warehouse"]: r for r in json.loads(listed.stdout)}
    assert set(runs) == set(TENANTS)
    assert all(r["job"] == JOB and r["status"] == "succeeded" for r in runs.values())
    acme, globex = runs["acme"], runs["globex"]
    assert acme["started_at"] < globex["finished_at"] and globex["started_at"] < acme["finished_at"]
    for tenant, record in runs.items():
        shown = run("-p", str(fan_out.project), "runs", "show", str(record["id"]), env=fan_out.env)
        assert f"run {record['id']} of job {JOB} in warehouse {tenant}: succeeded" in shown.stdout
        steps = json.loads(
            run(
                "-p", str(fan_out.project), "runs", "show", str(record["id"]), "--json", env=fan_out.env
            ).stdout
        )["steps"]
        assert {(step["step_id"], step["status"]) for step in steps} == {
            (f"pagila_bronze_pg.{table}", "succeeded") for table in TABLES
        }
    table = run("-p", str(fan_out.project), "runs", env=fan_out.env)
    assert "warehouse" in table.stdout and "acme" in table.stdout and "globex" in table.stdout


def test_a_tenant_not_listing_the_job_is_refused(fan_out: FanOut) -> None:
    done = run(
        "-p", str(fan_out.project), "run", "job", "pagila_daily", "--warehouse", "acme", env=fan_out.env
    )
    assert done.returncode == 1
    assert f"warehouse 'acme' does not run job 'pagila_daily' (its jobs: {JOB}, {SILVER_JOB})" in done.stderr
    everywhere = run(
        "-p", str(fan_out.project), "run", "job", "pagila_daily", "--warehouse", "all", env=fan_out.env
    )
    assert everywhere.returncode == 1 and "no warehouse runs job 'pagila_daily'" in everywhere.stderr


def test_a_tenants_dbt_and_checks_steps_work_in_its_schemas(fan_out: FanOut) -> None:
    """dbt reads acme's bronze through the generated sources and writes acme_silver (vars tenant and
    schema_prefix, the profile with acme's password); the checks read acme_silver and acme's bronze."""
    assert fan_out.returncode == 0, fan_out.stderr[-4000:]
    done = run(
        "-p", str(fan_out.project), "run", "job", SILVER_JOB, "--warehouse", "acme", "--json", env=fan_out.env
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    outcome = json.loads(done.stdout)
    assert outcome["warehouse"] == "acme" and outcome["steps"] == {
        "silver": "succeeded",
        "checks": "succeeded",
    }
    assert fan_out.query('SELECT count(*) FROM "acme_silver"."country"') == [(UNSCALED_ROWS["country"],)]
    schemas = {r[0] for r in fan_out.query("SELECT nspname FROM pg_namespace")}
    assert "silver" not in schemas and "globex_silver" not in schemas
    assert not (fan_out.project / "transform" / "pagila" / "models" / "_datakit_sources.yml").exists()
    (sources,) = (fan_out.project / ".datakit" / "dbt" / "pagila" / "acme").glob("*/project/_datakit/*.yml")
    text = sources.read_text()
    assert "name: br__pagila__public" in text and "schema: acme_br__pagila__public" in text
    assert "globex_" not in text
    shown = run("-p", str(fan_out.project), "runs", "show", str(outcome["run_id"]), "--json", env=fan_out.env)
    checks = next(s for s in json.loads(shown.stdout)["steps"] if s["step_id"] == "checks")["details"]
    assert {c["table"] for c in checks["checks"]} == {"acme_silver.country"}
    assert all(c["status"] == "passed" for c in checks["checks"])
    # globex does not list the job
    refused = run(
        "-p", str(fan_out.project), "run", "job", SILVER_JOB, "--warehouse", "globex", env=fan_out.env
    )
    assert refused.returncode == 1 and "warehouse 'globex' does not run job" in refused.stderr


def test_deploy_into_a_tenant_finds_its_loaded_tables(fan_out: FanOut) -> None:
    assert fan_out.returncode == 0, fan_out.stderr[-4000:]
    args = ("-p", str(fan_out.project), "deploy", "pagila", "--warehouse", "globex")
    deployed = run(*args, "--json", env=fan_out.env)
    assert deployed.returncode == 0, deployed.stderr
    report = json.loads(deployed.stdout)
    assert report["destination"] == "warehouse_pg" and report["schemas"] == ["globex_br__pagila__public"]
    assert sorted(t["table"] for t in report["tables"]) == TABLES and not any(
        t["created"] for t in report["tables"]
    )
    checked = run(*args, "--validate", env=fan_out.env)
    assert checked.returncode == 0 and f"{len(TABLES)} tables match their contracts" in checked.stdout
