"""Secrets from Airflow, outside a task and inside one, in the interpreter that has Airflow.

`python secrets_runner.py PROJECT DAGS_FOLDER OUT`: creates the metadata database, an Airflow Variable
and Connection in it (as `airflow variables set` / `airflow connections add` would), resolves the
project's secrets outside any task (the core models read the metadata database), then runs the DAG
`datakit_secrets_probe` of DAGS_FOLDER with `dag.test()`, whose task resolves them again (through the
task SDK) into OUT. Prints, as its last line, a JSON object with both results.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

KEYS = ("api_token", "wh_password", "wh_user", "wh_sslmode", "env_password", "env_token")


def resolve_all(root: str) -> dict[str, object]:
    from datakit.config import load_project
    from datakit.connectors.from_config import project_secrets
    from datakit.errors import SecretError
    from datakit.log import redact

    secrets = project_secrets(load_project(Path(root), environment="dev"))
    found: dict[str, object] = {}
    for key in KEYS:
        value = secrets.resolve(key)
        found[key] = None if value is None else value.get_secret_value()
    try:
        secrets.resolve("missing")
    except SecretError as exc:
        found["missing"] = {"message": exc.message, "hint": exc.hint}
    found["masked"] = redact(f"login failed: {found['wh_password']} / {found['env_password']}")
    found["check"] = secrets.missing("missing")
    return found


def main() -> None:
    root, dags, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    assert os.environ.get("AIRFLOW_HOME"), "set AIRFLOW_HOME: Airflow would create ~/airflow otherwise"
    from airflow.models import Connection, Variable
    from airflow.utils import db
    from airflow.utils.session import create_session

    db.initdb()
    Variable.set("api_token", "var-from-metadata-db-4411")
    with create_session() as session:
        session.add(
            Connection(
                conn_id="wh_db",
                conn_type="postgres",
                host="db.internal",
                login="warehouse_loader",
                password="conn-pw-from-db-8c21",
                extra=json.dumps({"sslmode": "verify-full"}),
            )
        )
    outside = resolve_all(root)

    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(dags))
    assert not bag.import_errors, bag.import_errors
    run = bag.dags["datakit_secrets_probe"].test()
    inside = json.loads(out.read_text()) if out.exists() else None
    print(json.dumps({"outside": outside, "inside": inside, "state": str(run.state)}))


if __name__ == "__main__":
    main()
