"""The real-engine run of test_engine.py on CeleryExecutor: Redis as the broker, two Celery workers.

Not part of the test suite (it needs the Celery provider, which datakit's `airflow` extra does not pin):

    .venv/bin/pip install 'apache-airflow-providers-celery==3.26.0' 'celery<5.7'
    .venv/bin/python -m tests.integrations.airflow.celery_run [--keep]

It compiles examples/jaffle_shop (a copy) for the tenant acme with `--executor CeleryExecutor`, starts
Airflow's api-server, scheduler and dag-processor with a PostgreSQL metadata database
(`datakit_airflow_test`, created when missing) and two Celery workers on Redis (127.0.0.1:6379, database
`DATAKIT_CELERY_REDIS_DB`, default 5), imports the pools, triggers the DAG with `airflow dags trigger`,
waits for the run by polling its state, and prints each task's state and the worker that ran it; then a
local `datakit run job` of the same project and the comparison of the two warehouses. Exit 0 when the
run succeeded, both workers took tasks and the warehouses are equal. Every process it starts is
stopped at the end (only those: by process group); `--keep` keeps the temporary folder.

The warehouse is DuckDB (the example's dev environment): both workers are on this host, so they share
the file; compile warns about it, as it should for workers on several hosts.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.conftest import EXAMPLES
from tests.integrations.airflow.conftest import duckdb_fingerprint
from tests.integrations.airflow.engine import FINISHED, Engine, metadata_dsn, running
from tests.services import PG_DSN_DEFAULT
from tests.waits import wait_until

DAG = "datakit__acme__jaffle_daily"
TOKENS = {"default": "tok-Default-1", "acme": "tok-Acme-2", "globex": "tok-Globex-3"}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    try:
        import airflow.providers.celery  # noqa: F401
    except ImportError:
        print("no Celery provider: pip install 'apache-airflow-providers-celery==3.26.0' 'celery<5.7'")
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="datakit-celery-"))
    try:
        return run(tmp)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}")


def run(tmp: Path) -> int:
    from datakit.cli.app import main as datakit

    env = {f"JAFFLE_API_TOKEN_{k.upper()}": v for k, v in TOKENS.items()}
    api = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "jaffle_shop" / "api.py"), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ | env,
    )
    assert api.stdout is not None
    env["JAFFLE_API_URL"] = api.stdout.readline().split()[-1]
    try:
        roots = {}
        for name in ("airflow", "local"):
            roots[name] = tmp / name / "jaffle_shop"
            shutil.copytree(
                EXAMPLES / "jaffle_shop", roots[name], ignore=shutil.ignore_patterns("*.duckdb", ".datakit")
            )
        dags, pools = tmp / "dags", tmp / "pools.json"
        for command in (
            [
                "airflow",
                "compile",
                "-p",
                str(roots["airflow"]),
                "-w",
                "acme",
                "-o",
                str(dags),
                "--executor",
                "CeleryExecutor",
            ],
            ["airflow", "pools", "-p", str(roots["airflow"]), "-w", "acme", "-o", str(pools)],
        ):
            try:
                datakit(command)
            except SystemExit as exited:
                if exited.code:
                    return int(exited.code)
        dsn = metadata_dsn(os.environ.get("DATAKIT_TEST_PG_DSN", PG_DSN_DEFAULT))
        redis = f"redis://127.0.0.1:6379/{os.environ.get('DATAKIT_CELERY_REDIS_DB', '5')}"
        engine = Engine(
            python=sys.executable, home=tmp / "airflow-home", dags=dags, dsn=dsn, executor="CeleryExecutor"
        )
        engine.extra_env = {
            **env,
            "AIRFLOW__CELERY__BROKER_URL": redis,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + engine.env()["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"],
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
        }
        workers = ["celery worker --celery-hostname w1@%h", "celery worker --celery-hostname w2@%h"]
        run_id = f"celery_{time.time_ns()}"
        started = time.monotonic()
        with running(engine, "api-server", "scheduler", "dag-processor", *workers):
            engine.cli("pools", "import", str(pools))
            wait_until(lambda: engine.ready(DAG), f"{DAG} serialized and the api-server up", guard=300)
            engine.trigger(DAG, run_id)
            wait_until(lambda: engine.run_state(DAG, run_id) in FINISHED, f"run {run_id}", guard=900)
            state = engine.run_state(DAG, run_id)
            rows = engine.query(
                "select task_id, state, hostname, try_number from task_instance where run_id = %s "
                "order by task_id",
                run_id,
            )
        print(f"run {run_id}: {state} in {time.monotonic() - started:.0f} s")
        for task, task_state, host, tries in rows:
            print(f"  {task}: {task_state} (try {tries}) on {host}")
        log_folder = tmp / "airflow-home" / "process-logs"
        took = {
            w.split()[-1].split("@")[0]: "Task " in (log_folder / f"{w.replace(' ', '_')}.log").read_text()
            for w in workers
        }
        print(f"workers that received tasks: {json.dumps(took)}")

        previous = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            from datakit.config import load_project
            from datakit.orchestrate.run import run_job

            local_ok = run_job(
                load_project(roots["local"], environment="dev"), "jaffle_daily", warehouse="acme"
            ).ok
        finally:
            for key, value in previous.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        same = duckdb_fingerprint(roots["airflow"] / "acme.duckdb", roots["airflow"]) == duckdb_fingerprint(
            roots["local"] / "acme.duckdb", roots["local"]
        )
        print(f"local run ok: {local_ok}; warehouses equal: {same}")
        return 0 if state == "success" and local_ok and same else 1
    finally:
        api.terminate()
        api.wait()


if __name__ == "__main__":
    sys.exit(main())
