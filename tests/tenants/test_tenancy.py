"""The tenant context without a database: secrets isolation, destinations, schemas, plans, check SQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from datakit.config import load_project, validate_project
from datakit.config.project import Project
from datakit.config.tenancy import tenant_context, tenants_running
from datakit.connectors import TableRef
from datakit.connectors.engines.postgres.engine import POSTGRES
from datakit.errors import DatakitError, SecretError
from datakit.load.resolve import plans_for
from datakit.orchestrate.plan import compile_job
from datakit.orchestrate.stepkinds import LoadStep
from datakit.quality.runner import plan_suite
from datakit.transform.bronze import bronze_tables
from tests.pagila_project import copy_pagila_project

ACME_PASSWORD = "acme-s3cret-value"
GLOBEX_PASSWORD = "globex-t0p-s3cret"
JOB = "pagila_pg_daily"
SUITE = "pg_silver_quality"


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example with both tenants' passwords set, and a PostgreSQL job with dbt and checks steps."""
    monkeypatch.setenv("ACME_WAREHOUSE_PASSWORD", ACME_PASSWORD)
    monkeypatch.setenv("GLOBEX_WAREHOUSE_PASSWORD", GLOBEX_PASSWORD)
    monkeypatch.delenv("ENVIRONMENT", raising=False)
    project = copy_pagila_project(tmp_path)
    config = project / "config"
    (config / "jobs" / f"{JOB}.yaml").write_text(
        f"""job:
  name: {JOB}
  pipelines: [pagila_bronze_pg]
  steps:
    - name: silver
      dbt: {{project: transform/pagila, command: build, select: silver}}
      depends_on: [pagila_bronze_pg]
    - name: silver_checks
      checks: {SUITE}
      depends_on: [silver]
  execution: {{mode: dag}}
"""
    )
    (config / "checks" / f"{SUITE}.yaml").write_text(
        f"""checks:
  name: {SUITE}
  destination: warehouse_pg
  tables:
    silver.customer:
      - unique: customer_id
      - relationships: {{column: address_id, to: silver.address, field: address_id}}
    silver.payment:
      - row_count: {{equal_to: br__pagila__public.payment}}
"""
    )
    acme = config / "warehouses" / "acme.yaml"
    acme.write_text(acme.read_text().replace("jobs: [pagila_warehouse]", f"jobs: [pagila_warehouse, {JOB}]"))
    return project


def _project(root: Path) -> Project:
    return load_project(root, environment="dev")


def test_a_tenant_resolves_its_own_and_shared_secrets_but_never_another_tenants(root: Path) -> None:
    project = _project(root)
    acme = tenant_context(project, "acme").secrets
    # the key the configs use is the tenant's own
    password = acme.resolve("warehouse_password")
    assert password is not None and password.get_secret_value() == ACME_PASSWORD
    assert acme.key_for("pagila_password") == "pagila_password"  # shared: no tenant owns it
    with pytest.raises(SecretError) as raised:
        acme.resolve("globex_warehouse_password")
    message = str(raised.value)
    assert "secret 'globex_warehouse_password' is not available to warehouse 'acme'" in message
    assert GLOBEX_PASSWORD not in message and ACME_PASSWORD not in message
    # the other way round, too
    globex = tenant_context(project, "globex").secrets
    with pytest.raises(SecretError, match="not available to warehouse 'globex'"):
        globex.resolve("acme_warehouse_password")
    # the project itself (no tenant) is as before: every key
    assert tenant_context(project, None).secrets.key_for("globex_warehouse_password")


def test_acmes_load_through_a_destination_with_globexs_key_fails_clearly(root: Path) -> None:
    """A config that routes acme to globex's key (here: a destination naming it) cannot load as acme."""
    config = root / "config"
    (config / "destinations" / "globex_pg.yaml").write_text(
        "destination:\n  name: globex_pg\n  type: postgres\n  connection:\n    host: 127.0.0.1\n"
        "    database: globex\n    user: globex\n    password_secret_key: globex_warehouse_password\n"
    )
    pipeline = config / "pipelines" / "pagila_bronze_pg.yaml"
    pipeline.write_text(pipeline.read_text().replace("name: warehouse_pg", "name: globex_pg"))
    acme = config / "warehouses" / "acme.yaml"
    acme.write_text(acme.read_text().replace("destinations: [warehouse_pg]", "destinations: [globex_pg]"))
    project = _project(root)
    with pytest.raises(SecretError) as raised:
        plans_for(project, "pagila_bronze_pg", resources=["actor"], tenant=tenant_context(project, "acme"))
    assert "not available to warehouse 'acme'" in str(raised.value)
    assert GLOBEX_PASSWORD not in str(raised.value)
    # globex itself loads through it
    _, (plan,) = plans_for(
        project, "pagila_bronze_pg", resources=["actor"], tenant=tenant_context(project, "globex")
    )
    assert plan.target == TableRef("actor", "globex_br__pagila__public")


def test_an_alias_to_another_tenants_key_is_refused(root: Path) -> None:
    acme = root / "config" / "warehouses" / "acme.yaml"
    acme.write_text(acme.read_text().replace(": acme_warehouse_password", ": globex_warehouse_password"))
    rendered = [p.render() for p in validate_project(root, environment="dev").errors]
    assert any(
        "acme.yaml:10:" in r
        and "secret 'globex_warehouse_password' is also the own key of warehouse 'globex'" in r
        for r in rendered
    ), rendered
    # and at run time, for a project that was not validated by the loader
    acme.write_text(acme.read_text().replace(": globex_warehouse_password", ": acme_warehouse_password"))
    project = _project(root)
    globex = project.warehouses["globex"]
    project.warehouses["globex"] = globex.model_copy(
        update={"secrets": {"warehouse_password": "acme_warehouse_password"}}
    )
    for name in ("acme", "globex"):
        with pytest.raises(DatakitError, match="own key of several warehouses"):
            tenant_context(project, name)


def test_two_tenants_with_one_prefix_on_one_destination_are_refused(root: Path) -> None:
    globex = root / "config" / "warehouses" / "globex.yaml"
    globex.write_text(globex.read_text().replace("schema_prefix: globex_", "schema_prefix: acme_"))
    rendered = [p.render() for p in validate_project(root, environment="dev").errors]
    assert any("would share every table" in r and "globex.yaml:6:" in r for r in rendered), rendered
    globex.write_text(globex.read_text().replace("schema_prefix: acme_", "schema_prefix: globex_"))
    project = _project(root)
    project.warehouses["globex"] = project.warehouses["globex"].model_copy(update={"schema_prefix": "acme_"})
    with pytest.raises(DatakitError, match="would share every table"):
        tenant_context(project, "acme")


def test_prefixes_that_fold_to_one_another_are_refused(root: Path) -> None:
    """DuckDB and PostgreSQL fold unquoted names: `ACME_` and `acme_` would write the same schemas."""
    globex = root / "config" / "warehouses" / "globex.yaml"
    globex.write_text(globex.read_text().replace("schema_prefix: globex_", "schema_prefix: ACME_"))
    rendered = [p.render() for p in validate_project(root, environment="dev").errors]
    assert any(
        "globex.yaml:6:" in r and "prefix 'acme_', the same as 'ACME_' once the database folds case" in r
        for r in rendered
    ), rendered


def test_a_prefix_that_breaks_qualified_names_is_refused(root: Path) -> None:
    globex = root / "config" / "warehouses" / "globex.yaml"
    globex.write_text(globex.read_text().replace("schema_prefix: globex_", "schema_prefix: t.x_"))
    errors = validate_project(root, environment="dev").errors
    (rendered,) = [p.render() for p in errors if "schema_prefix" in p.render()]
    assert "globex.yaml:6:" in rendered and "'t.x_' cannot prefix schema names" in rendered, rendered
    assert "e.g. 't_x_'" in rendered


def test_a_tenant_without_prefix_on_the_projects_destination_is_refused(root: Path) -> None:
    """Without a prefix, a tenant on a destination the project's own runs write would write their tables."""
    globex = root / "config" / "warehouses" / "globex.yaml"
    globex.write_text(globex.read_text().replace("  schema_prefix: globex_\n", ""))
    rendered = [p.render() for p in validate_project(root, environment="dev").errors]
    assert any(
        "globex.yaml:" in r
        and "the project's own runs (without --warehouse) also write to 'warehouse_pg'" in r
        for r in rendered
    ), rendered


def test_loads_of_a_tenant_go_to_its_prefixed_schemas_and_state(root: Path) -> None:
    project = _project(root)
    _, (plain,) = plans_for(project, "pagila_bronze_pg", resources=["rental"])
    assert (plain.target, plain.state_schema) == (TableRef("rental", "br__pagila__public"), "_datakit")
    _, (acme,) = plans_for(
        project, "pagila_bronze_pg", resources=["rental"], tenant=tenant_context(project, "acme")
    )
    assert (acme.target, acme.state_schema) == (
        TableRef("rental", "acme_br__pagila__public"),
        "acme__datakit",
    )


def test_a_plan_for_a_tenant_carries_it_in_every_step(root: Path) -> None:
    project = _project(root)
    plain = compile_job(project, JOB)
    assert plain.warehouse is None and plain.as_dict()["warehouse"] is None
    assert all(step.params.warehouse is None for step in plain.steps)

    plan = compile_job(project, JOB, "acme")
    assert plan.warehouse == "acme" and plan.as_dict()["warehouse"] == "acme"
    assert [s.id for s in plan.steps] == [s.id for s in plain.steps]
    assert {step.params.warehouse for step in plan.steps} == {"acme"}
    assert {s.params.destination for s in plan.steps if not isinstance(s, LoadStep)} == {"warehouse_pg"}
    assert {s["params"]["warehouse"] for s in plan.as_dict()["steps"]} == {"acme"}


def test_a_tenant_runs_only_the_jobs_it_lists(root: Path) -> None:
    project = _project(root)
    with pytest.raises(DatakitError) as raised:
        compile_job(project, JOB, "globex")
    assert f"warehouse 'globex' does not run job '{JOB}' (its jobs: pagila_warehouse)" in str(raised.value)
    assert "add 'pagila_pg_daily' to `jobs:`" in str(raised.value)
    with pytest.raises(DatakitError, match="unknown warehouse 'acmee'"):
        compile_job(project, JOB, "acmee")
    assert tenants_running(project, "pagila_warehouse") == ["acme", "globex"]
    assert tenants_running(project, JOB) == ["acme"]
    assert tenants_running(project, "pagila_daily") == []


def test_a_destination_without_a_stand_in_is_an_error(root: Path) -> None:
    """pagila_daily writes to DuckDB; acme has only PostgreSQL: no guessing, a clear error."""
    acme = root / "config" / "warehouses" / "acme.yaml"
    acme.write_text(acme.read_text().replace(f"{JOB}]", f"{JOB}, pagila_daily]"))
    with pytest.raises(DatakitError) as raised:
        compile_job(_project(root), "pagila_daily", "acme")
    assert "warehouse 'acme' has none of duckdb destinations to stand in for 'local_duckdb'" in str(
        raised.value
    )


def test_dbt_gets_the_tenants_variables_and_prefixed_sources(root: Path) -> None:
    project = _project(root)
    acme = tenant_context(project, "acme")
    assert acme.dbt_vars({"dim_date_start": "2022-01-01"}) == {
        "dim_date_start": "2022-01-01",
        "tenant": "acme",
        "schema_prefix": "acme_",
    }
    assert tenant_context(project, None).dbt_vars({"a": 1}) == {"a": 1}
    tables = bronze_tables(project, "warehouse_pg", tenant=acme)
    assert {t.schema for t in tables} == {"br__pagila__public"}  # as written; the sources add the prefix
    assert {t.schema for t in bronze_tables(project, "warehouse_pg")} == {"br__pagila__public"}
    # the DuckDB pipelines are not acme's: it has no DuckDB destination
    assert len(tables) == len(bronze_tables(project, "warehouse_pg"))


def test_a_variable_contradicting_the_warehouse_is_refused(root: Path) -> None:
    acme = root / "config" / "warehouses" / "acme.yaml"
    acme.write_text(acme.read_text().replace("tenant: acme", "tenant: globex"))
    with pytest.raises(DatakitError, match="variable 'tenant' is 'globex', but datakit sets it to 'acme'"):
        tenant_context(_project(root), "acme")


def test_checks_of_a_tenant_read_its_prefixed_tables(root: Path) -> None:
    project = _project(root)
    suite = project.check_suite(SUITE)
    sql = "\n".join(check.sql for check in plan_suite(suite, POSTGRES, tenant_context(project, "acme")))
    assert '"acme_silver"."customer"' in sql and '"acme_silver"."address"' in sql
    assert '"acme_br__pagila__public"."payment"' in sql
    assert '"silver".' not in sql and '"br__pagila__public"' not in sql
    plain = "\n".join(check.sql for check in plan_suite(suite, POSTGRES))
    assert '"silver"."customer"' in plain and "acme_" not in plain


def test_sql_and_bare_names_of_a_tenants_checks_read_its_tables(root: Path) -> None:
    """A suite written with plain names (a `sql` check with a CTE, a subquery in an expression, a
    table without schema) reads acme's tables on an acme run, and the project's tables otherwise."""
    from datakit.connectors.engines.duckdb.engine import DUCKDB

    (root / "config" / "checks" / "plain.yaml").write_text(
        """checks:
  name: plain
  destination: warehouse_pg
  tables:
    customers:
      - relationships: {column: store_id, to: stores, field: store_id}
    main.orders:
      - expression: "amount <= (select max(total) from main.limits)"
      - expression: "amount >= 0"
      - sql: |
          with recent as (select * from main.orders where amount > 0)
          select r.* from recent r left join silver.customer c on c.id = r.customer_id
          where c.id is null
        name: orphans
"""
    )
    project = _project(root)
    suite = project.check_suite("plain")
    acme = "\n".join(check.sql for check in plan_suite(suite, DUCKDB, tenant_context(project, "acme")))
    assert '"acme_main"."customers"' in acme and '"acme_main"."stores"' in acme
    assert '"acme_main".limits' in acme and '"acme_main".orders' in acme
    assert '"acme_silver".customer' in acme
    assert "FROM recent" in acme  # the query's own CTE is not a table
    assert "amount >= 0" in acme  # SQL that reads no table runs as written
    plain = "\n".join(check.sql for check in plan_suite(suite, DUCKDB))
    assert "acme_" not in plain and "from main.limits" in plain


def test_a_tenant_refuses_sql_it_cannot_read(root: Path) -> None:
    (root / "config" / "checks" / "odd.yaml").write_text(
        "checks:\n  name: odd\n  destination: warehouse_pg\n  tables:\n    main.t:\n"
        "      - sql: 'select * from (('\n        name: broken\n"
    )
    project = _project(root)
    with pytest.raises(DatakitError, match="cannot read this SQL to move its tables"):
        plan_suite(project.check_suite("odd"), POSTGRES, tenant_context(project, "acme"))


def test_a_tenants_schedule_override_is_available(root: Path) -> None:
    acme = root / "config" / "warehouses" / "acme.yaml"
    acme.write_text(acme.read_text() + "  schedules:\n    pagila_nightly: {cron: '0 4 * * *'}\n")
    project = _project(root)
    override = tenant_context(project, "acme").schedule_for("pagila_nightly")
    assert override is not None and override.cron == "0 4 * * *"
    assert tenant_context(project, "globex").schedule_for("pagila_nightly") is None


def test_list_and_plan_show_the_tenants(root: Path) -> None:
    from tests.cli.test_cli import run

    env = {"COLUMNS": "200"}
    listed = run("-p", str(root), "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    acme = next(w for w in json.loads(listed.stdout)["warehouses"] if w["name"] == "acme")
    assert acme["destinations"] == ["warehouse_pg"] and acme["jobs"] == ["pagila_warehouse", JOB]
    assert (acme["schema_prefix"], acme["state_schema"]) == ("acme_", "acme__datakit")
    assert acme["variables"] == {"tenant": "acme"}
    assert acme["secrets"] == {"warehouse_password": "acme_warehouse_password"}
    assert ACME_PASSWORD not in listed.stdout
    text = run("-p", str(root), "list", env=env).stdout
    assert "Schema prefix: acme_  State: acme__datakit" in text and "Variables: tenant=globex" in text

    planned = run("-p", str(root), "plan", "job", JOB, "--warehouse", "acme", "--json", env=env)
    assert planned.returncode == 0, planned.stderr
    plan = json.loads(planned.stdout)
    assert plan["warehouse"] == "acme" and {s["params"]["warehouse"] for s in plan["steps"]} == {"acme"}
    shown = run("-p", str(root), "plan", "job", JOB, "--warehouse", "acme", env=env)
    assert f"job {JOB} in warehouse acme" in shown.stdout
    refused = run("-p", str(root), "plan", "job", JOB, "--warehouse", "globex", env=env)
    assert refused.returncode == 1 and f"warehouse 'globex' does not run job '{JOB}'" in refused.stderr
