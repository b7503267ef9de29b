"""`run_dbt` against real DuckDB and PostgreSQL warehouses: builds, results, failures, partial parsing."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from datakit.config import load_project
from datakit.errors import DatakitError
from datakit.transform import PASSWORD_ENV, DbtFailed, DbtInvocation, run_dbt
from tests.pagila_project import copy_pagila_project, pagila_env, scratch_database
from tests.transform.helpers import (
    BRONZE,
    CATEGORY_ROWS,
    DBT_DIR,
    bronze_duckdb,
    bronze_postgres,
    write_dbt_project,
)

GOOD = DbtInvocation(DBT_DIR, "build", select=f"source:{BRONZE}.category+")


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("ENVIRONMENT", raising=False)
    root = copy_pagila_project(tmp_path)
    write_dbt_project(root)
    return root


def test_duckdb_build_results_failures_and_partial_parsing(root: Path) -> None:
    import duckdb

    with (root / "datakit.yaml").open("a") as config:
        config.write("dbt:\n  source_tests: all\n")  # the contract's tests on the sources, as asked
    project = load_project(root)
    warehouse = bronze_duckdb(project, CATEGORY_ROWS)

    first = run_dbt(project, GOOD, destination="local_duckdb")
    assert first.success
    assert not first.partial_parse  # no saved manifest yet
    with duckdb.connect(str(warehouse)) as connection:
        rows = connection.execute("select category_id, name_upper from main.categories order by 1").fetchall()
    assert rows == [(1, "ACTION"), (2, "COMEDY"), (3, "DRAMA")]
    by_type: dict[str, list[str]] = {}
    for node in first.nodes:
        by_type.setdefault(node.resource_type, []).append(node.name)
        assert node.execution_time > 0
    assert by_type["model"] == ["categories"]
    assert sorted(by_type["test"]) == [  # generated from the bronze contract of category
        f"source_not_null_{BRONZE}_category_category_id",
        f"source_not_null_{BRONZE}_category_last_update",
        f"source_not_null_{BRONZE}_category_name",
        f"source_unique_{BRONZE}_category_category_id",
    ]
    model = next(node for node in first.nodes if node.name == "categories")
    assert model.status == "success"
    assert model.relation is not None and "categories" in model.relation
    assert model.execute_time is not None and model.execute_time > 0
    assert model.executed is not None
    start, end = model.executed
    assert end - start == pytest.approx(model.execute_time, abs=1e-3) and abs(start - time.time()) < 600
    assert all(node.status == "pass" for node in first.nodes if node.resource_type == "test")
    details = first.details()
    json.dumps(details)  # JSON-able as it is
    assert details["statuses"]["success"] == 1
    assert details["command"] == "build" and details["destination"] == "local_duckdb"
    assert first.rows == {"rows_loaded": 0}  # dbt-duckdb reports no row counts
    assert "categories" in first.log

    work = root / ".datakit" / "dbt" / "tiny" / "_default" / "local_duckdb"
    msgpack = work / "target" / "partial_parse.msgpack"
    assert msgpack.is_file()
    stamp = msgpack.stat().st_mtime_ns
    second = run_dbt(project, GOOD, destination="local_duckdb")
    assert second.partial_parse, "the second invocation parsed the whole project again"
    assert msgpack.stat().st_mtime_ns == stamp  # nothing changed: dbt did not even rewrite its state

    with pytest.raises(DbtFailed) as caught:
        run_dbt(
            project, DbtInvocation(DBT_DIR, "run", select="categories broken"), destination="local_duckdb"
        )
    error = caught.value
    assert str(error).splitlines()[0] == (
        "model main.broken (models/broken.sql) failed: "
        'Binder Error: Referenced column "no_such_column" not found in FROM clause!'
    )
    assert "categories" not in error.message  # it built fine
    assert not error.transient
    statuses = {node["name"]: node["status"] for node in error.details["nodes"]}
    assert statuses == {"categories": "success", "broken": "error"}
    assert "no_such_column" in error.log

    with duckdb.connect(str(warehouse)) as connection:  # a duplicate key breaks the source's unique test
        connection.execute(
            f"insert into {BRONZE}.category select * from {BRONZE}.category where category_id = 1"
        )
    with pytest.raises(
        DbtFailed, match=r"test source_unique_br__pagila__public_category_category_id .*failed: "
    ):
        run_dbt(
            project,
            DbtInvocation(DBT_DIR, "test", select=f"source:{BRONZE}.category"),
            destination="local_duckdb",
        )


def test_a_project_that_does_not_parse_names_the_file(root: Path) -> None:
    (root / DBT_DIR / "models" / "orphan.sql").write_text("select * from {{ ref('nowhere') }}\n")
    project = load_project(root)
    with pytest.raises(DbtFailed) as caught:
        run_dbt(project, GOOD, destination="local_duckdb")
    assert "models/orphan.sql" in caught.value.message
    assert caught.value.file == "models/orphan.sql"
    assert "nowhere" in caught.value.message
    assert caught.value.details["error"]


def _warehouse_password(dsn: str) -> str:
    """A password that cannot be mistaken for any other word, when the server lets any password in."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    distinct = "Xq7-dbt-s3cret-9Zt"
    try:
        with psycopg.connect(make_conninfo(dsn, password=distinct), connect_timeout=3):
            return distinct
    except psycopg.OperationalError:
        return str(conninfo_to_dict(dsn).get("password") or "")


@pytest.mark.postgres
def test_postgres_build_and_failure(root: Path, pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    with scratch_database(pg_dsn) as dsn:
        password = _warehouse_password(dsn)
        for name, value in pagila_env(pg_dsn, dsn).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("WAREHOUSE_PASSWORD_DEV", password)
        project = load_project(root)
        bronze_postgres(project, dsn, CATEGORY_ROWS)

        with_tenant = DbtInvocation(DBT_DIR, "build", select=f"{GOOD.select} tenant")
        result = run_dbt(project, with_tenant, destination="warehouse_pg", vars={"tenant": "acme"})
        with psycopg.connect(dsn) as connection:
            rows = connection.execute(
                "select category_id, name_upper from public.categories order by 1"
            ).fetchall()
            tenant = connection.execute("select tenant from public.tenant").fetchall()
        assert rows == [(1, "ACTION"), (2, "COMEDY"), (3, "DRAMA")]
        assert tenant == [("acme",)]  # --vars reached the model
        model = next(node for node in result.nodes if node.name == "categories")
        assert model.rows_affected == 3
        assert result.rows == {"rows_loaded": 4}  # categories (3) + tenant (1); tests write nothing
        assert PASSWORD_ENV not in os.environ
        work = root / ".datakit" / "dbt" / "tiny" / "_default"
        profiles = list(work.glob("warehouse_pg__vars_*/profiles.yml"))
        assert len(profiles) == 1
        if password:
            assert password not in profiles[0].read_text()
            assert password not in json.dumps(result.details()) + result.log

        with pytest.raises(DbtFailed) as caught:
            run_dbt(project, DbtInvocation(DBT_DIR, "run", select="broken"), destination="warehouse_pg")
        assert caught.value.message.startswith("model public.broken (models/broken.sql) failed: ")
        assert 'column "no_such_column" does not exist' in caught.value.message
        assert not caught.value.transient


@pytest.mark.postgres
def test_an_unreachable_database_is_transient(
    root: Path, pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    destination = root / "config" / "destinations" / "warehouse_pg.yaml"
    destination.write_text(destination.read_text().replace("port: 5432", "port: 1"))
    project = load_project(root)
    with pytest.raises(DbtFailed) as caught:
        run_dbt(project, DbtInvocation(DBT_DIR, "run", select="categories"), destination="warehouse_pg")
    assert caught.value.transient, caught.value.message
    from datakit.orchestrate.retry import is_transient

    assert is_transient(caught.value)


def test_arguments_keep_dbt_state_in_the_work_dir(tmp_path: Path) -> None:
    from datakit.transform.runner import _arguments

    invocation = DbtInvocation(DBT_DIR, "build", select="silver+ gold", exclude="tag:slow")
    args = _arguments(
        invocation, tmp_path / "dbt", tmp_path / "work", "datakit", "local_duckdb", True, {"b": 1}
    )
    assert args[0] == "build"
    assert args[args.index("--target-path") + 1] == str(tmp_path / "work" / "target")
    assert args[args.index("--log-path") + 1] == str(tmp_path / "work" / "logs")
    assert args[args.index("--profiles-dir") + 1] == str(tmp_path / "work")
    assert args[args.index("--vars") + 1] == '{"b": 1}'
    assert "--full-refresh" in args
    assert args[args.index("--select") + 1 : args.index("--select") + 3] == ["silver+", "gold"]
    assert args[args.index("--exclude") + 1 :][:1] == ["tag:slow"]
    assert args[-2:] == ["--indirect-selection", "buildable"]  # layered steps: see DbtInvocation
    test = _arguments(DbtInvocation(DBT_DIR, "test"), tmp_path, tmp_path, "p", "t", True, None)
    assert "--full-refresh" not in test  # dbt test has no such option
    assert "--vars" not in test and "--select" not in test


def test_an_unknown_command_is_refused() -> None:
    with pytest.raises(DatakitError, match="unknown dbt command 'deps'"):
        DbtInvocation(DBT_DIR, "deps")  # type: ignore[arg-type]


def test_an_in_memory_duckdb_cannot_host_dbt(root: Path) -> None:
    destination = root / "config" / "destinations" / "local_duckdb.yaml"
    destination.write_text(
        destination.read_text().replace("database: warehouse.duckdb", "database: ':memory:'")
    )
    with pytest.raises(DatakitError, match="in-memory DuckDB"):
        run_dbt(load_project(root), GOOD, destination="local_duckdb")


@pytest.mark.postgres
def test_a_tenant_builds_in_its_schemas_with_dbts_own_naming(
    root: Path, pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dbt's default `generate_schema_name` (`<target>_<custom>`), no var, no macro: acme's run builds
    `acme_public` and `acme_public_marts`, reads acme's bronze, and leaves the project's own untouched."""
    import psycopg

    from datakit.config.tenancy import tenant_context

    dbt = root / DBT_DIR
    (dbt / "dbt_project.yml").write_text(
        (dbt / "dbt_project.yml").read_text() + "    marts:\n      +schema: marts\n"
    )
    (dbt / "models" / "marts").mkdir()
    (dbt / "models" / "marts" / "top.sql").write_text(
        "select max(category_id) as top from {{ ref('categories') }}\n"
    )
    with scratch_database(pg_dsn) as dsn:
        for name, value in pagila_env(pg_dsn, dsn).items():
            monkeypatch.setenv(name, value)
        project = load_project(root)
        bronze_postgres(project, dsn, CATEGORY_ROWS)  # the project's own bronze: 3 categories
        with psycopg.connect(dsn, autocommit=True) as con:  # acme's bronze: 2 categories
            con.execute("create schema acme_br__pagila__public")
            con.execute(
                "create table acme_br__pagila__public.category as "
                "select * from br__pagila__public.category where category_id <= 2"
            )
        invocation = DbtInvocation(DBT_DIR, "run", select="categories top")
        run_dbt(project, invocation, destination="warehouse_pg")
        acme = run_dbt(
            project, invocation, destination="warehouse_pg", tenant=tenant_context(project, "acme")
        )
        with psycopg.connect(dsn) as con:
            assert con.execute("select top from public_marts.top").fetchall() == [(3,)]
            assert con.execute("select top from acme_public_marts.top").fetchall() == [(2,)]
            assert con.execute("select count(*) from acme_public.categories").fetchall() == [(2,)]
            assert con.execute("select count(*) from public.categories").fetchall() == [(3,)]
        relations = {node.name: node.relation for node in acme.nodes}
        assert relations["top"] is not None and '"acme_public_marts"."top"' in relations["top"]


def test_a_project_parsed_ahead_is_not_parsed_again(root: Path) -> None:
    """`parse_ahead` (what the step server does in idle time) leaves the manifest for the next `run_dbt`
    of the same work folder, which then parses nothing; the one after parses as usual."""
    import duckdb

    from datakit.transform import parse_ahead

    project = load_project(root)
    warehouse = bronze_duckdb(project, CATEGORY_ROWS)
    assert parse_ahead(project, GOOD, destination="local_duckdb")
    ahead = run_dbt(project, GOOD, destination="local_duckdb")
    assert ahead.parsed_ahead and ahead.details()["parsed_ahead"]
    with duckdb.connect(str(warehouse)) as connection:
        assert connection.execute("select count(*) from main.categories").fetchone() == (3,)
    again = run_dbt(project, GOOD, destination="local_duckdb")
    assert not again.parsed_ahead and again.success


def test_a_folder_in_use_is_not_parsed_ahead(root: Path) -> None:
    """Another process holds the work folder (its dbt runs): the head start is skipped, not waited for."""
    import fcntl

    from datakit.transform import parse_ahead
    from datakit.transform.dbt_project import read_dbt_project, work_dir
    from datakit.transform.runner import LOCK_FILE

    project = load_project(root)
    folder = work_dir(project, read_dbt_project(project, DBT_DIR), "local_duckdb", None)
    folder.mkdir(parents=True)
    with (folder / LOCK_FILE).open("a") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        assert not parse_ahead(project, GOOD, destination="local_duckdb")


def test_a_manifest_parsed_ahead_serves_every_step_of_its_work_folder(root: Path) -> None:
    """A second dbt step on the same project and destination finds the manifest the first one's parse
    ahead kept: no second parse, even while the first step's dbt holds the folder."""
    import fcntl

    from datakit.transform import parse_ahead
    from datakit.transform.dbt_project import read_dbt_project, work_dir
    from datakit.transform.runner import _PARSED, LOCK_FILE

    project = load_project(root)
    folder = work_dir(project, read_dbt_project(project, DBT_DIR), "local_duckdb", None)
    try:
        assert parse_ahead(project, GOOD, destination="local_duckdb")
        kept = _PARSED[folder]
        with (folder / LOCK_FILE).open("a") as held:
            fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # the first step's dbt runs
            assert parse_ahead(project, GOOD, destination="local_duckdb")
        assert _PARSED[folder] is kept
    finally:
        _PARSED.pop(folder, None)
