"""Loading projects: the seed as written, the example, environments, interpolation, references."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from datakit.config import load_project, validate_project
from datakit.config.models.destinations import DuckDBDestination, PostgresDestination
from datakit.config.models.project import PostgresState, SqliteState
from datakit.config.models.sources import RestApiSource
from datakit.errors import ConfigError, UsageError
from tests.config.helpers import PAGILA, SEED, copy_project, write

SEED_ENV = {"MY_API_TOKEN_DEV": "t0ken-value"}


def test_seed_002_files_load_as_written() -> None:
    project = load_project(SEED, environ=SEED_ENV)
    source = project.source("my_api")
    assert isinstance(source, RestApiSource)
    assert source.connection.timeout == timedelta(seconds=30)
    assert source.resources[0].incremental is not None
    assert source.resources[0].incremental.cursor_field == "updated_at"
    assert source.resources[0].write_disposition == "merge"
    pipeline = project.pipeline("my_pipeline")
    assert project.resolve_name("source", pipeline.source.ref) == "my_api"
    assert project.resolve_name("destination", pipeline.destination.ref) == "my_warehouse"
    assert pipeline.retry is not None and pipeline.retry.initial_delay == timedelta(seconds=60)
    job = project.job("daily_ingestion")
    assert job.execution.mode == "sequential" and job.execution.max_parallelism == 3
    assert job.retries.retry_delay == timedelta(seconds=300) and job.retries.exponential_backoff
    assert job.sla is not None and job.sla.duration == timedelta(hours=1)
    trigger = project.trigger("daily_schedule")
    assert project.resolve_name("job", trigger.job) == "daily_ingestion"
    assert trigger.tags == ["daily", "production"]
    assert project.secrets["my_api_token"].env_var_for("prod") == "MY_API_TOKEN_PROD"
    # The project name falls back to the folder when there is no datakit.yaml.
    assert project.config.name == "seed002"


def test_seed_secret_suffix_rule_resolves_and_check_secrets_reports_unset() -> None:
    ok = validate_project(SEED, environ=SEED_ENV, check_secrets=True)
    assert ok.ok, [p.render() for p in ok.errors]
    missing = validate_project(SEED, environ={}, check_secrets=True)
    assert [p.message for p in missing.errors] == [
        "required secret is not set: environment variable MY_API_TOKEN_DEV is not set (ENVIRONMENT=dev)"
    ]
    assert missing.errors[0].file is not None and missing.errors[0].file.name == "secrets_mapping.yaml"
    assert (missing.errors[0].line, missing.errors[0].column) == (2, 3)


def test_seed_bare_email_channel_is_a_warning_not_silence() -> None:
    result = validate_project(SEED, environ=SEED_ENV)
    assert result.ok
    assert [p.severity for p in result.problems] == ["warning"]
    assert "notification channel 'email' has no settings" in result.problems[0].message


def test_example_project_is_valid_in_every_environment() -> None:
    for env in ("dev", "stage", "prod"):
        result = validate_project(PAGILA, environment=env, environ={}, check_secrets=True)
        assert result.ok, (env, [p.render() for p in result.problems])
        assert result.problems == []


def test_example_project_contents() -> None:
    project = load_project(PAGILA, environ={})
    assert sorted(project.sources["pagila"].resources[i].name for i in range(15)) == sorted(
        [
            "actor", "address", "category", "city", "country", "customer", "film", "film_actor",
            "film_category", "inventory", "language", "payment", "rental", "staff", "store",
        ]
    )  # fmt: skip
    assert {d.type for d in project.destinations.values()} == {"duckdb", "postgres"}
    assert set(project.warehouses) == {"acme", "globex"}
    assert any(t.type == "cron" for t in project.triggers.values())


def test_environment_overlay_replaces_and_merges(tmp_path: Path) -> None:
    root = copy_project(PAGILA, tmp_path / "p")
    dev = load_project(root, environ={})
    prod = load_project(root, environment="prod", environ={"STATE_DB_HOST": "db.internal"})
    assert isinstance(dev.config.state, SqliteState)
    # A `type:` change replaces the whole mapping instead of merging sqlite keys into postgres.
    assert isinstance(prod.config.state, PostgresState)
    assert prod.config.state.connection.host == "db.internal"
    warehouse = prod.destination("warehouse_pg")
    assert isinstance(warehouse, PostgresDestination)
    assert warehouse.connection.sslmode == "require"  # from the overlay
    assert warehouse.connection.database == "pagila_warehouse"  # merged from the base
    stage = load_project(root, environment="stage", environ={"WAREHOUSE_DUCKDB": "/data/stage.duckdb"})
    local = stage.destination("local_duckdb")
    assert isinstance(local, DuckDBDestination) and local.connection.database == "/data/stage.duckdb"


def test_environment_comes_from_variable_and_rejects_unknown(tmp_path: Path) -> None:
    assert load_project(PAGILA, environ={"ENVIRONMENT": "stage"}).environment == "stage"
    with pytest.raises(UsageError, match="unknown environment 'qa'"):
        load_project(PAGILA, environ={"ENVIRONMENT": "qa"})
    with pytest.raises(UsageError, match="did you mean 'prod'"):
        load_project(PAGILA, environment="prd", environ={})


def test_default_environment_from_datakit_yaml(tmp_path: Path) -> None:
    root = copy_project(PAGILA, tmp_path / "p")
    text = (
        (root / "datakit.yaml").read_text().replace("default_environment: dev", "default_environment: stage")
    )
    (root / "datakit.yaml").write_text(text)
    assert load_project(root, environ={}).environment == "stage"
    assert load_project(root, environ={"ENVIRONMENT": "dev"}).environment == "dev"


def test_interpolation_defaults_escapes_and_values(tmp_path: Path) -> None:
    root = copy_project(SEED, tmp_path / "p")
    write(
        root,
        "config/destinations/my_warehouse.yaml",
        """
        destination:
          name: my_warehouse
          type: duckdb
          connection:
            database: "${DATA_DIR:-/var/data}/wh-${ENVIRONMENT:-dev}.duckdb"
          settings:
            schema: "$${literal}"
        """,
    )
    project = load_project(root, environ={**SEED_ENV, "DATA_DIR": "/srv"})
    dest = project.destination("my_warehouse")
    assert dest.connection.database == "/srv/wh-dev.duckdb"
    assert dest.settings.schema_ == "${literal}"
    defaulted = load_project(root, environ=SEED_ENV).destination("my_warehouse")
    assert defaulted.connection.database == "/var/data/wh-dev.duckdb"


def test_references_by_name_or_file_and_suggestions(tmp_path: Path) -> None:
    root = copy_project(SEED, tmp_path / "p")
    text = (root / "config/pipelines/my_pipeline.yaml").read_text()
    (root / "config/pipelines/my_pipeline.yaml").write_text(
        text.replace('config_file: "my_api.yaml"', "name: my_api").replace(
            'config_file: "my_warehouse.yaml"', "name: my_warehous"
        )
    )
    result = validate_project(root, environ=SEED_ENV)
    assert [p.render() for p in result.errors] == [
        f"{root}/config/pipelines/my_pipeline.yaml:11:11: pipeline.destination.name: "
        "unknown destination 'my_warehous' — did you mean 'my_warehouse'?"
    ]


def test_all_problems_reported_in_one_run(tmp_path: Path) -> None:
    root = copy_project(SEED, tmp_path / "p")
    for relative, old, new in [
        ("config/sources/my_api.yaml", "timeout: 30", "timeout: never"),
        ("config/jobs/daily_ingestion.yaml", "mode: sequential", "mode: sequentail"),
        ("config/triggers/daily_schedule.yaml", '"UTC"', '"Mars/Olympus"'),
    ]:
        path = root / relative
        path.write_text(path.read_text().replace(old, new))
    with pytest.raises(ConfigError) as caught:
        load_project(root, environ=SEED_ENV)
    fields = [
        (p.file.name if p.file else None, p.field) for p in caught.value.problems if p.severity == "error"
    ]
    assert fields == [
        ("daily_ingestion.yaml", "execution.mode"),
        ("my_api.yaml", "connection.timeout"),
        ("daily_schedule.yaml", "schedule.timezone"),
    ]
    assert str(caught.value).endswith("3 problems found")


def test_project_root_found_by_walking_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = copy_project(PAGILA, tmp_path / "p")
    nested = root / "config" / "jobs"
    monkeypatch.chdir(nested)
    assert load_project(environ={}).root == root.resolve()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match=r"no datakit\.yaml found"):
        load_project(environ={})


def test_every_yaml_file_is_discovered_in_nested_folders(tmp_path: Path) -> None:
    root = copy_project(SEED, tmp_path / "p")
    write(
        root,
        "config/triggers/team_a/adhoc.yml",
        """
        trigger:
          name: adhoc
          type: manual
          job: daily_ingestion
        """,
    )
    write(root, "config/.drafts/ignored.yaml", "not: [valid")
    project = load_project(root, environ=SEED_ENV)
    assert set(project.triggers) == {"daily_schedule", "adhoc"}


def test_kind_is_read_from_the_key_and_a_misplaced_file_warns(tmp_path: Path) -> None:
    root = copy_project(SEED, tmp_path / "p")
    (root / "config/triggers/daily_schedule.yaml").rename(root / "config/jobs/daily_schedule.yaml")
    result = validate_project(root, environ=SEED_ENV)
    assert result.ok
    assert "daily_schedule" in result.project.triggers if result.project else False
    assert any(p.message == "a trigger in config/jobs/" for p in result.problems)


def test_dag_cycle_reports_its_path(tmp_path: Path) -> None:
    root = copy_project(SEED, tmp_path / "p")
    for name in ("b", "c"):
        write(
            root,
            f"config/pipelines/{name}.yaml",
            f"""
            pipeline:
              name: {name}
              source: {{name: my_api}}
              destination: {{name: my_warehouse}}
            """,
        )
    write(
        root,
        "config/jobs/daily_ingestion.yaml",
        """
        job:
          name: daily_ingestion
          execution: {mode: dag}
          pipelines:
            - name: my_pipeline
              depends_on: [c]
            - name: b
              depends_on: [my_pipeline]
            - name: c
              depends_on: [b]
        """,
    )
    result = validate_project(root, environ=SEED_ENV)
    assert [p.message for p in result.errors] == ["dependency cycle: my_pipeline -> c -> b -> my_pipeline"]
    assert (result.errors[0].line, result.errors[0].field) == (6, "pipelines[0].depends_on")
