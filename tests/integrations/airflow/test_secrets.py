"""The `airflow` secrets provider against real Airflow: Connections from `AIRFLOW_CONN_*` and from the
metadata database, Variables from both, outside a task and inside one (`dag.test()`), masked."""

from __future__ import annotations

from pathlib import Path

from datakit.config.scaffold import init_project
from tests.config.helpers import write
from tests.integrations.airflow.conftest import HERE, AirflowEnv

MAPPING = """\
secrets:
  api_token: {}                                # the project's default provider: Variable `api_token`
  wh_password:
    provider: airflow
    airflow: {connection: wh_db}               # field: password (the default)
  wh_user:
    provider: airflow
    airflow: {connection: wh_db, field: login}
  wh_sslmode:
    provider: airflow
    airflow: {connection: wh_db, field: extra, extra_key: sslmode}
  env_password:
    provider: airflow
    airflow: {connection: wh_env}              # AIRFLOW_CONN_WH_ENV
  env_token:
    airflow: {variable: from_env}              # AIRFLOW_VAR_FROM_ENV
  missing:
    airflow: {variable: nowhere}
  plain:
    env_var: PLAIN_TOKEN
    provider: env                              # not every secret lives in Airflow
    required: false
"""
PROBE = """\
import json
from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG, task

ROOT = {root!r}
OUT = {out!r}


@task
def probe() -> None:
    from datakit.config import load_project
    from datakit.connectors.from_config import project_secrets
    from datakit.integrations.airflow.secrets import _in_task

    secrets = project_secrets(load_project(Path(ROOT), environment="dev"))
    keys = ("api_token", "wh_password", "wh_user", "wh_sslmode", "env_password", "env_token")
    found = {{key: secrets.resolve(key).get_secret_value() for key in keys}}
    found["in_task"] = _in_task()
    Path(OUT).write_text(json.dumps(found))


with DAG(dag_id="datakit_secrets_probe", schedule=None, start_date=datetime(2026, 1, 1)):
    probe()
"""
EXPECTED = {
    "api_token": "var-from-metadata-db-4411",
    "wh_password": "conn-pw-from-db-8c21",
    "wh_user": "warehouse_loader",
    "wh_sslmode": "verify-full",
    "env_password": "p@ss-from-env-77",
    "env_token": "var-from-env-5d0e",
}


def test_secrets_come_from_airflow_connections_and_variables(tmp_path: Path, airflow_env: AirflowEnv) -> None:
    root = tmp_path / "shop"
    init_project(root, name="shop")
    write(root, "datakit.yaml", (root / "datakit.yaml").read_text() + "secrets: {provider: airflow}\n")
    write(root, "config/secrets_mapping.yaml", MAPPING)
    dags, out = tmp_path / "dags", tmp_path / "probe.json"
    write(dags, "probe.py", PROBE.format(root=str(root), out=str(out)))
    env = {
        "AIRFLOW_CONN_WH_ENV": "postgres://loader:p%40ss-from-env-77@db.internal:5432/warehouse",
        "AIRFLOW_VAR_FROM_ENV": "var-from-env-5d0e",
    }
    result = airflow_env.run([str(HERE / "secrets_runner.py"), str(root), str(dags), str(out)], dags, env)

    outside = result["outside"]
    assert {key: outside[key] for key in EXPECTED} == EXPECTED
    assert outside["missing"] == {
        "message": "secret 'missing' is not set for environment 'dev'",
        "hint": "set the Airflow variable 'nowhere' (airflow variables set, or AIRFLOW_VAR_NOWHERE)",
    }
    assert outside["check"] == (
        "airflow has no value for it: set the Airflow variable 'nowhere' (airflow variables set, or "
        "AIRFLOW_VAR_NOWHERE)"
    )
    # resolved values are masked in everything datakit prints from then on
    assert outside["masked"] == "login failed: *** / ***"

    assert result["state"] == "success"
    inside = result["inside"]
    assert inside["in_task"] is True  # read through the task SDK, as Airflow 3 tasks must
    assert {key: inside[key] for key in EXPECTED} == EXPECTED
