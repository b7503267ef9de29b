"""What datakit writes for dbt: profiles without secrets, and sources that match the loader's tables."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from datakit.config import load_project
from datakit.contracts.audit import AUDIT_COLUMN_NAMES
from datakit.errors import DatakitError
from datakit.load.resolve import plans_for
from datakit.transform import (
    PASSWORD_ENV,
    SOURCES_FILE,
    bronze_tables,
    generated_dir,
    prepare_workspace,
    read_dbt_project,
    work_dir,
    write_profile,
    write_sources,
)
from datakit.transform.dbt_project import DbtProject
from tests.pagila_project import copy_pagila_project
from tests.transform.helpers import DBT_DIR, write_dbt_project

SECRET = "s3cret-Dbt-Pa55word"


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("ENVIRONMENT", raising=False)
    monkeypatch.setenv("WAREHOUSE_PASSWORD_DEV", SECRET)
    root = copy_pagila_project(tmp_path)
    write_dbt_project(root)
    return root


def test_duckdb_profile_points_at_the_warehouse_file(root: Path) -> None:
    project = load_project(root)
    dbt = read_dbt_project(project, DBT_DIR)
    folder = work_dir(project, dbt, "local_duckdb", None)
    profile = write_profile(project, dbt, "local_duckdb", folder)
    assert folder == root / ".datakit" / "dbt" / "tiny" / "_default" / "local_duckdb"
    data = yaml.safe_load((folder / "profiles.yml").read_text())
    assert data == {
        "tiny": {
            "target": "local_duckdb",
            "outputs": {
                "local_duckdb": {
                    "type": "duckdb",
                    "path": str(root / "warehouse.duckdb"),
                    "schema": "main",
                    "threads": 4,
                }
            },
        }
    }
    assert profile.env == {}


def test_postgres_profile_keeps_the_password_out_of_the_file(root: Path) -> None:
    project = load_project(root)
    dbt = read_dbt_project(project, DBT_DIR)
    folder = work_dir(project, dbt, "warehouse_pg", None)
    profile = write_profile(project, dbt, "warehouse_pg", folder)
    text = (folder / "profiles.yml").read_text()
    assert SECRET not in text
    output = yaml.safe_load(text)["tiny"]["outputs"]["warehouse_pg"]
    assert output["password"] == "{{ env_var('" + PASSWORD_ENV + "', '') }}"
    assert output["type"] == "postgres"
    assert output["dbname"] == "pagila_warehouse"
    assert output["schema"] == "public"
    assert profile.env == {PASSWORD_ENV: SECRET}
    assert SECRET not in repr(profile)
    assert PASSWORD_ENV not in os.environ  # only run_dbt puts it there, for the invocation


def test_profile_is_rewritten_only_when_it_changes(root: Path) -> None:
    project = load_project(root)
    dbt = read_dbt_project(project, DBT_DIR)
    folder = work_dir(project, dbt, "local_duckdb", None)
    write_profile(project, dbt, "local_duckdb", folder)
    file = folder / "profiles.yml"
    os.utime(file, (1_000_000, 1_000_000))
    write_profile(project, dbt, "local_duckdb", folder)
    assert file.stat().st_mtime == 1_000_000


def test_vars_and_warehouses_get_a_work_dir_of_their_own(root: Path) -> None:
    project = load_project(root)
    dbt = read_dbt_project(project, DBT_DIR)
    plain = work_dir(project, dbt, "warehouse_pg", None)
    with_vars = work_dir(project, dbt, "warehouse_pg", {"day": 1})
    assert with_vars != plain
    assert with_vars == work_dir(project, dbt, "warehouse_pg", {"day": 1})
    assert with_vars != work_dir(project, dbt, "warehouse_pg", {"day": 2})
    acme = work_dir(project, dbt, "warehouse_pg", None, "acme")
    globex = work_dir(project, dbt, "warehouse_pg", None, "globex")
    assert len({plain, acme, globex}) == 3
    assert acme == root / ".datakit" / "dbt" / "tiny" / "acme" / "warehouse_pg"


def test_bronze_tables_are_the_loaders_targets(root: Path) -> None:
    """The rules restated in transform.bronze agree with load.resolve on every example pipeline."""
    project = load_project(root)
    for destination, pipelines in (
        ("local_duckdb", ["pagila_bronze", "pagila_rentals"]),
        ("warehouse_pg", ["pagila_bronze_pg"]),
    ):
        expected = {}
        for pipeline in pipelines:
            for plan in plans_for(project, pipeline)[1]:
                expected[(plan.target.schema, plan.target.name)] = plan.contract
        tables = bronze_tables(project, destination)
        assert {(t.schema, t.name): t.contract for t in tables} == expected
    rental = next(t for t in bronze_tables(project, "local_duckdb") if t.name == "rental")
    assert rental.pipelines == ("pagila_bronze", "pagila_rentals")


def _sources(project_root: Path, destination: str = "local_duckdb", tenant: str | None = None) -> Path:
    """Write the generated sources as `run_dbt` does, into the workspace of the tiny dbt project."""
    from datakit.config.tenancy import tenant_context

    project = load_project(project_root)
    dbt = read_dbt_project(project, DBT_DIR)
    context = tenant_context(project, tenant) if tenant else None
    folder = work_dir(project, dbt, destination, None, tenant)
    workspace = prepare_workspace(dbt, folder)
    return write_sources(project, generated_dir(workspace), destination, tenant=context)


def _ask_source_tests(root: Path, which: str) -> None:
    with (root / "datakit.yaml").open("a") as config:
        config.write(f"dbt:\n  source_tests: {which}\n")


def test_sources_describe_the_bronze_contracts(root: Path) -> None:
    _ask_source_tests(root, "all")
    project = load_project(root)
    path = _sources(root)
    workspace = root / ".datakit" / "dbt" / "tiny" / "_default" / "local_duckdb" / "project"
    assert path == workspace / "_datakit" / SOURCES_FILE
    assert not (root / DBT_DIR / "models" / SOURCES_FILE).exists()  # nothing written into the user's project
    text = path.read_text()
    assert text.startswith("# generated by datakit from the bronze contracts; do not edit")
    (source,) = yaml.safe_load(text)["sources"]
    assert source["name"] == source["schema"] == "br__pagila__public"
    assert "loaded_at_field" not in source  # bronze rows carry no load time: the load records have it
    tables = {table["name"]: table for table in source["tables"]}
    assert len(tables) == 15
    customer = {column["name"]: column for column in tables["customer"]["columns"]}
    contract = next(t.contract for t in bronze_tables(project, "local_duckdb") if t.name == "customer")
    assert contract is not None
    assert list(customer) == [*contract.column_names, *AUDIT_COLUMN_NAMES]
    assert customer["customer_id"]["data_tests"] == ["not_null", "unique"]
    assert customer["email"].get("data_tests") is None  # nullable in the contract
    assert customer["first_name"]["data_tests"] == ["not_null"]
    assert "data_tests" not in customer["_dk_load_id"]
    assert customer["_dk_load_id"]["description"].startswith("The load that wrote this row: `id` of")
    assert tables["customer"]["config"]["loaded_at_query"] == (
        "select max(started_at) from _datakit.loads where target = 'br__pagila__public.customer' "
        "and status = 'succeeded'"
    )
    described = [c for c in contract.columns if c.description]
    assert all(customer[c.name]["description"] == c.description for c in described)
    if contract.description:
        assert tables["customer"]["description"] == contract.description
    film_actor = {column["name"]: column for column in tables["film_actor"]["columns"]}
    assert film_actor["actor_id"]["data_tests"] == ["not_null"]  # a composite key: no single unique


def test_append_resources_get_no_unique_test(root: Path) -> None:
    source_file = root / "config" / "sources" / "pagila.yaml"
    text = source_file.read_text()
    old = "    - name: category\n      primary_key: [category_id]\n      write_disposition: merge\n"
    assert old in text
    source_file.write_text(text.replace(old, old.replace("merge", "append")))
    _ask_source_tests(root, "all")
    (source,) = yaml.safe_load(_sources(root).read_text())["sources"]
    category = next(t for t in source["tables"] if t["name"] == "category")
    assert category["columns"][0]["name"] == "category_id"
    assert category["columns"][0]["data_tests"] == ["not_null"]  # appended rows repeat the key


def test_sources_are_rewritten_only_when_they_change(root: Path) -> None:
    path = _sources(root)
    os.utime(path, (1_000_000, 1_000_000))
    _sources(root)
    assert path.stat().st_mtime == 1_000_000


def test_a_tenant_source_keeps_its_name_and_reads_the_tenant_schema(root: Path) -> None:
    """`source('br__pagila__public', ...)` as written; acme reads acme_br__pagila__public."""
    (acme,) = yaml.safe_load(_sources(root, "warehouse_pg", "acme").read_text())["sources"]
    assert acme["name"] == "br__pagila__public"
    assert acme["schema"] == "acme_br__pagila__public"
    (plain,) = yaml.safe_load(_sources(root, "warehouse_pg").read_text())["sources"]
    assert plain["name"] == plain["schema"] == "br__pagila__public"
    files = {_sources(root, "warehouse_pg", name) for name in ("acme", "globex")} | {
        _sources(root, "warehouse_pg")
    }
    assert len(files) == 3  # no two warehouses ever write the same generated file


def test_a_tenant_sources_only_the_pipelines_of_its_jobs(root: Path) -> None:
    """acme runs pagila_warehouse (pagila_bronze_pg); a second pipeline into warehouse_pg that no
    job of acme runs is not acme's: its tables are neither sources nor tested in acme's dbt build."""
    (root / "config" / "pipelines" / "other_pg.yaml").write_text(
        "pipeline:\n  name: other_pg\n  source:\n    name: pagila\n    resources: [actor]\n"
        "  destination:\n    name: warehouse_pg\n    layer: bronze\n    dataset_name: br__other\n"
        "  datakit: pagila\n"
    )
    plain = yaml.safe_load(_sources(root, "warehouse_pg").read_text())["sources"]
    assert [s["name"] for s in plain] == ["br__other", "br__pagila__public"]
    acme = yaml.safe_load(_sources(root, "warehouse_pg", "acme").read_text())["sources"]
    assert [s["name"] for s in acme] == ["br__pagila__public"]


def test_the_workspace_links_the_users_project_and_adds_the_generated_path(root: Path) -> None:
    project = load_project(root)
    dbt = read_dbt_project(project, DBT_DIR)
    (dbt.path / "macros").mkdir()
    (dbt.path / "target").mkdir()  # the user's own dbt runs: not linked (datakit passes its own)
    legacy = dbt.path / "models" / SOURCES_FILE
    legacy.write_text("# generated by datakit from the bronze contracts; do not edit.\nversion: 2\n")
    workspace = prepare_workspace(dbt, tmp := root / "work")
    assert workspace == tmp / "project"
    assert (workspace / "models").resolve() == dbt.path / "models"
    assert (workspace / "macros").is_symlink()
    assert not (workspace / "target").exists()
    config = yaml.safe_load((workspace / "dbt_project.yml").read_text())
    assert config["model-paths"] == ["models", "_datakit"]
    assert config["name"] == "tiny"
    assert not legacy.exists()  # an earlier datakit's generated file would define every source twice
    (dbt.path / "macros").rmdir()
    prepare_workspace(dbt, tmp)
    assert not (workspace / "macros").is_symlink()  # gone from the project, gone from the workspace


def test_paths_outside_the_dbt_project_become_absolute(tmp_path: Path) -> None:
    user = tmp_path / "user"
    user.mkdir()
    config = {"name": "x", "model-paths": ["models", "../shared/models"], "macro-paths": ["../macros"]}
    dbt = DbtProject(user, "x", "x", ("models", "../shared/models"), config)
    workspace = prepare_workspace(dbt, tmp_path / "work")
    written = yaml.safe_load((workspace / "dbt_project.yml").read_text())
    assert written["model-paths"] == ["models", str(tmp_path / "shared" / "models"), "_datakit"]
    assert written["macro-paths"] == [str(tmp_path / "macros")]


def test_a_missing_dbt_project_is_named(root: Path) -> None:
    project = load_project(root)
    with pytest.raises(DatakitError, match="no dbt project at 'transform/nope'"):
        read_dbt_project(project, "transform/nope")


def test_a_pipeline_without_a_datakit_lists_its_tables_by_name(root: Path) -> None:
    """A reflected source has no contract until load time: the source lists the table, no columns."""
    import sqlite3

    with sqlite3.connect(root / "legacy.sqlite") as connection:
        connection.execute("create table things (id integer primary key, label text)")
    (root / "config" / "sources" / "legacy.yaml").write_text(
        "source:\n  name: legacy\n  type: sqlite\n  connection:\n    database: legacy.sqlite\n"
        "  resources:\n    - name: things\n"
    )
    (root / "config" / "pipelines" / "legacy_bronze.yaml").write_text(
        "pipeline:\n  name: legacy_bronze\n  source:\n    name: legacy\n"
        "  destination:\n    name: local_duckdb\n    layer: bronze\n"
    )
    project = load_project(root)
    (plan,) = plans_for(project, "legacy_bronze")[1]
    things = next(t for t in bronze_tables(project, "local_duckdb") if t.name == "things")
    assert (
        (things.schema, things.name)
        == (plan.target.schema, plan.target.name)
        == ("br__legacy__main", "things")
    )
    assert things.contract is None
    sources = yaml.safe_load(_sources(root).read_text())["sources"]
    legacy = next(s for s in sources if s["name"] == "br__legacy__main")
    assert [t["name"] for t in legacy["tables"]] == ["things"]
    assert "columns" not in legacy["tables"][0]


def test_sources_list_only_the_tables_the_dbt_project_reads(root: Path) -> None:
    """A table no model reads is not declared, so its generated tests never run (it may not exist)."""
    from datakit.transform.references import referenced_sources

    project = load_project(root)
    dbt = read_dbt_project(project, DBT_DIR)
    referenced = referenced_sources(dbt)
    assert referenced == {("br__pagila__public", "category"), ("br__pagila__public", "language")}
    folder = generated_dir(prepare_workspace(dbt, work_dir(project, dbt, "local_duckdb", None)))
    path = write_sources(project, folder, "local_duckdb", referenced=referenced)
    (source,) = yaml.safe_load(path.read_text())["sources"]
    assert [t["name"] for t in source["tables"]] == ["category", "language"]


def test_a_source_named_in_jinja_makes_every_table_a_source(root: Path) -> None:
    from datakit.transform.references import referenced_sources

    (root / DBT_DIR / "macros").mkdir()
    (root / DBT_DIR / "macros" / "bronze.sql").write_text(
        "{% macro bronze(t) %}{{ source(var('bronze'), t) }}{% endmacro %}\n"
    )
    project = load_project(root)
    assert referenced_sources(read_dbt_project(project, DBT_DIR)) is None


def test_sources_carry_the_tests_the_project_asks_for(root: Path) -> None:
    """None by default (the loader enforced the contract on every row); keys: the single-column keys."""

    def tests_of(table: str) -> dict[str, list[str]]:
        (source,) = yaml.safe_load(_sources(root).read_text())["sources"]
        columns = next(t for t in source["tables"] if t["name"] == table)["columns"]
        return {c["name"]: c["data_tests"] for c in columns if "data_tests" in c}

    assert tests_of("customer") == {}
    _ask_source_tests(root, "keys")
    assert tests_of("customer") == {"customer_id": ["not_null", "unique"]}
    assert tests_of("film_actor") == {}  # a composite key: no single-column test
