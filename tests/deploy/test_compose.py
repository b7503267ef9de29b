"""deploy/compose.yaml, read by a real Compose parser (`docker-compose config`), and what it would run.

No Docker engine here: the file is parsed, interpolated and validated against the Compose schema, never
started. The tests then check the platform it describes on the parsed result, and run the `dags` service's
own command line with this checkout's datakit.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import EXAMPLES
from tests.deploy.tools import DEPLOY, datakit_command, run, tool

COMPOSE = DEPLOY / "compose.yaml"
ENV_EXAMPLE = DEPLOY / ".env.example"
AIRFLOW = {
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-worker",
}
DATAKIT = {"dags", "datakit-serve"}
PROJECT = "/opt/datakit/project"


def _clean_env() -> dict[str, str]:
    """No variable of this shell may leak into the interpolation (a CI runner's POSTGRES_PASSWORD, say)."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp")}


def _config(*options: str) -> Any:
    done = run([tool("docker-compose"), "-f", str(COMPOSE), *options, "config"], cwd=DEPLOY, env=_clean_env())
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)


@pytest.fixture(scope="module")
def config() -> Any:
    """The file as Compose reads it with the example settings, every profile included."""
    return _config("--env-file", str(ENV_EXAMPLE), "--profile", "serve")


def test_the_platform_and_its_start_order(config: Any) -> None:
    services = config["services"]
    assert set(services) == {"postgres", "redis", *AIRFLOW, *DATAKIT}
    for name in AIRFLOW | DATAKIT:  # one image for datakit and every Airflow component
        assert services[name]["image"] == "datakit:0.1.0", name
        assert services[name]["build"]["dockerfile"] == "deploy/Dockerfile", name
        assert Path(services[name]["build"]["context"]) == DEPLOY.parent, name
    commands = {name: services[name]["command"] for name in AIRFLOW}
    assert commands == {
        "airflow-init": ["datakit-airflow-init"],
        "airflow-apiserver": ["airflow", "api-server"],
        "airflow-scheduler": ["airflow", "scheduler"],
        "airflow-dag-processor": ["airflow", "dag-processor"],
        "airflow-worker": ["airflow", "celery", "worker"],
    }
    for name in AIRFLOW - {"airflow-init"}:
        needs = services[name]["depends_on"]
        assert needs["airflow-init"] == {"condition": "service_completed_successfully"}, name
        assert needs["dags"] == {"condition": "service_completed_successfully"}, name
        assert needs["postgres"] == {"condition": "service_healthy"}, name
    assert services["airflow-worker"]["depends_on"]["airflow-apiserver"] == {"condition": "service_healthy"}
    assert services["datakit-serve"]["profiles"] == ["serve"]  # opt-in: it also fires cron triggers
    assert all("healthcheck" in services[name] for name in services if name not in {"airflow-init", "dags"})


def test_airflow_runs_celery_on_redis_with_its_metadata_in_postgres(config: Any) -> None:
    envs = {name: config["services"][name]["environment"] for name in AIRFLOW}
    shared = [
        "AIRFLOW__CORE__EXECUTOR",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__CORE__FERNET_KEY",
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    ]
    for key in shared:  # every component agrees on these, or tasks cannot authenticate or decrypt
        assert len({env[key] for env in envs.values()}) == 1, key
    worker = envs["airflow-worker"]
    assert worker["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert worker["AIRFLOW__CELERY__BROKER_URL"] == "redis://redis:6379/0"
    assert worker["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@postgres:5432/airflow")
    assert worker["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    # the postgres service's init script creates exactly the databases the others connect to
    pg = config["services"]["postgres"]["environment"]
    assert (pg["AIRFLOW_DB"], pg["DATAKIT_STATE_DB"], pg["WAREHOUSE_DB"]) == (
        "airflow",
        "datakit_state",
        "warehouse",
    )
    assert worker["WAREHOUSE_DATABASE"] == pg["WAREHOUSE_DB"]
    assert pg["AIRFLOW_DB_PASSWORD"] in worker["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]


def test_the_project_is_read_only_and_only_loopback_is_published(config: Any) -> None:
    services = config["services"]
    for name in ("dags", "airflow-worker", "datakit-serve"):
        mounts = [v for v in services[name]["volumes"] if v.split(":")[1] == PROJECT]
        assert mounts == [f"{EXAMPLES / 'pagila'}:{PROJECT}:ro"], name
        assert services[name]["environment"]["DATAKIT_PROJECT"] == PROJECT
    for name in AIRFLOW - {"airflow-init"}:
        assert "dags:/opt/airflow/dags:ro" in services[name]["volumes"], name
    assert "dags:/opt/airflow/dags:rw" in services["dags"]["volumes"]
    published = {name: s["ports"] for name, s in services.items() if "ports" in s}
    assert published == {
        "airflow-apiserver": ["127.0.0.1:8080:8080/tcp"],
        "datakit-serve": ["127.0.0.1:8321:8321/tcp"],
    }
    init = [v for v in services["postgres"]["volumes"] if "docker-entrypoint-initdb.d" in v]
    assert init == [
        f"{DEPLOY / 'bin' / 'create-databases'}:/docker-entrypoint-initdb.d/10-create-databases.sh:ro"
    ]


def test_images_are_pinned(config: Any) -> None:
    for name in ("postgres", "redis"):
        image = config["services"][name]["image"]
        assert re.fullmatch(r"[a-z]+:\d+\.\d+(\.\d+)?-bookworm", image), image


def test_compose_refuses_to_start_without_the_secrets() -> None:
    done = run([tool("docker-compose"), "-f", str(COMPOSE), "config"], cwd=DEPLOY, env=_clean_env())
    assert done.returncode != 0
    assert "in deploy/.env (see .env.example)" in done.stderr


def test_env_example_names_every_variable_and_holds_no_secret() -> None:
    settings = dict(
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
        if re.match(r"[A-Z]", line)
    )
    # ${NAME...} is read from the environment; $${NAME} is the container's own variable
    read = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", COMPOSE.read_text(encoding="utf-8")))
    assert read == set(settings)
    secrets = {key: value for key, value in settings.items() if re.search(r"PASSWORD|SECRET|KEY", key)}
    assert len(secrets) >= 7
    assert all(value == "" or value.startswith("change-me") for value in secrets.values()), secrets
    ignored = (DEPLOY / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert ".env" in ignored and ".state/" in ignored


def test_the_dags_service_compiles_the_example_project(config: Any, tmp_path: Path) -> None:
    """The `dags` service's own command line, run with this checkout's datakit: the project and the dags
    folder are where the container would mount them, the project root written into the files is the
    container's."""
    service = config["services"]["dags"]
    project = tmp_path / "project"
    shutil.copytree(EXAMPLES / "pagila", project, ignore=shutil.ignore_patterns("*.duckdb*", ".datakit"))
    dags = tmp_path / "dags"
    mounted = {PROJECT: str(project), "/opt/airflow/dags": str(dags)}
    command = list(service["command"])
    root = command.index("--project-root") + 1  # stays the container's path: the workers read it there
    command = [mounted.get(arg, arg) if i != root else arg for i, arg in enumerate(command)]
    assert command[0] == "datakit"
    command[0] = datakit_command()
    done = run(command, env={**os.environ, **service["environment"]})
    assert done.returncode == 0, done.stdout + done.stderr

    files = sorted(path.name for path in dags.glob("*.py"))
    assert files == [
        "datakit__acme__pagila_warehouse.py",
        "datakit__globex__pagila_warehouse.py",
        "datakit__pagila_daily.py",
        "datakit__pagila_hourly.py",
        "datakit__pagila_warehouse.py",
    ]
    for name in files:
        text = (dags / name).read_text(encoding="utf-8")
        assert f"PROJECT_ROOT = os.environ.get('DATAKIT_PROJECT') or '{PROJECT}'" in text, name
        assert "ENVIRONMENT = 'prod'" in text, name
