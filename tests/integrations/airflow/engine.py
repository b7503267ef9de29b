"""A real Airflow 3 deployment for the tests: api-server, scheduler and dag-processor, LocalExecutor, on
a PostgreSQL metadata database (`datakit_airflow_test`, created when missing).

`dag.test()` runs tasks in the test's process; this runs them as operators do: the dag-processor parses
the files and serializes the DAGs, the scheduler queues the runs, the LocalExecutor's workers start a
supervised task process per task, and the tasks talk to the api-server's execution API. A run is
started with `airflow dags trigger` and watched by polling its state in the metadata database.

Every process gets the test's own AIRFLOW_HOME (Airflow would create ~/airflow otherwise) and runs in a
process group of its own, which `stop()` ends — only what it started. Also usable by hand (see
`python -m tests.integrations.airflow.engine --help`).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

METADATA_DB = "datakit_airflow_test"
FINISHED = frozenset({"success", "failed"})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def metadata_dsn(server_dsn: str, database: str = METADATA_DB) -> str:
    """The DSN of Airflow's metadata database: `$DATAKIT_TEST_AIRFLOW_DSN`, else `database` on the server
    of `server_dsn`, created (empty) when it does not exist and the test role may create it."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from tests.services import unavailable

    if os.environ.get("DATAKIT_TEST_AIRFLOW_DSN"):
        return os.environ["DATAKIT_TEST_AIRFLOW_DSN"]
    params = conninfo_to_dict(server_dsn)
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        if conn.execute("select 1 from pg_database where datname = %s", (database,)).fetchone() is None:
            try:
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(database)))
            except psycopg.errors.InsufficientPrivilege:
                unavailable(
                    f"Airflow's metadata database {database}",
                    f"it does not exist and the test role may not create it: CREATE DATABASE {database}, "
                    "or set DATAKIT_TEST_AIRFLOW_DSN",
                )
    return make_conninfo("", **{**params, "dbname": database})


def sqlalchemy_url(dsn: str, driver: str = "psycopg") -> str:
    """SQLAlchemy's URL of `dsn` with psycopg 3 (`psycopg_async` for Airflow's async engine: no asyncpg)."""
    from psycopg.conninfo import conninfo_to_dict

    p = conninfo_to_dict(dsn)
    return (
        f"postgresql+{driver}://{p.get('user', 'postgres')}:{p.get('password', '')}@"
        f"{p.get('host', '127.0.0.1')}:{p.get('port', 5432)}/{p['dbname']}"
    )


@dataclass
class Engine:
    """An Airflow deployment on this machine: its settings, and the processes once started."""

    python: str
    home: Path
    dags: Path
    dsn: str
    """libpq DSN of the metadata database (the tests poll run states there)."""
    executor: str = "LocalExecutor"
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def airflow(self) -> str:
        return str(Path(self.python).with_name("airflow"))

    def env(self) -> dict[str, str]:
        self.home.mkdir(parents=True, exist_ok=True)
        base = f"http://127.0.0.1:{self.port}"
        return {
            **os.environ,
            **self.extra_env,
            "AIRFLOW_HOME": str(self.home),
            "DATAKIT_HOME": str(self.home / "datakit-home"),  # never the user's cache
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags),
            "AIRFLOW__CORE__EXECUTOR": self.executor,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sqlalchemy_url(self.dsn),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": sqlalchemy_url(self.dsn, "psycopg_async"),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": base,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": "datakit-tests-only-not-a-secret",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "600",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "2",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs"),
        }

    def cli(self, *args: str, timeout: float = 300) -> str:
        """`airflow ARGS...` with this deployment's settings; its stdout (fails with its output)."""
        done = subprocess.run(
            [self.airflow, *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise AssertionError(f"airflow {' '.join(args)} exited {done.returncode}:\n{done.stderr[-4000:]}")
        return done.stdout

    def start(self, *components: str) -> None:
        """Migrate the metadata database, then start `components` (e.g. api-server, scheduler)."""
        self.cli("db", "migrate")
        logs = self.home / "process-logs"
        logs.mkdir(parents=True, exist_ok=True)
        for name in components:
            args = [self.airflow, *name.split()]
            with (logs / f"{name.replace(' ', '_')}.log").open("ab") as out:
                self.processes[name] = subprocess.Popen(
                    args, env=self.env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                )

    def stop(self) -> None:
        """End the process groups this engine started (SIGTERM, then SIGKILL after a grace period)."""
        for proc in self.processes.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.processes.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.processes.clear()

    def alive(self) -> None:
        """Fail, with the tail of its log, if a started component has exited."""
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                log = (self.home / "process-logs" / f"{name.replace(' ', '_')}.log").read_text(
                    errors="replace"
                )
                raise AssertionError(f"airflow {name} exited {proc.returncode}:\n{log[-4000:]}")

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.dsn) as conn:
            return conn.execute(sql, params).fetchall()

    def api_ready(self) -> bool:
        """The api-server answers (tasks call its execution API: a task started before fails)."""
        import httpx

        self.alive()
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/api/v2/monitor/health", timeout=2).is_success
        except httpx.TransportError:
            return False

    def ready(self, dag_id: str) -> bool:
        """`dag_id` can be triggered and its tasks can run: serialized, and the api-server up."""
        return self.dag_is_known(dag_id) and self.api_ready()

    def dag_is_known(self, dag_id: str) -> bool:
        """The dag-processor has parsed and serialized `dag_id` (so it can be triggered)."""
        self.alive()
        rows = self.query(
            "select 1 from dag d join serialized_dag s on s.dag_id = d.dag_id "
            "where d.dag_id = %s and not d.is_stale",
            dag_id,
        )
        return bool(rows)

    def trigger(self, dag_id: str, run_id: str, conf: str | None = None) -> None:
        args = ["dags", "trigger", dag_id, "--run-id", run_id]
        if conf is not None:
            args += ["--conf", conf]
        self.cli(*args)

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        self.alive()
        rows = self.query("select state from dag_run where dag_id = %s and run_id = %s", dag_id, run_id)
        return str(rows[0][0]) if rows else None

    def task_states(self, dag_id: str, run_id: str) -> dict[str, tuple[str, int]]:
        rows = self.query(
            "select task_id, state, try_number from task_instance where dag_id = %s and run_id = %s",
            dag_id,
            run_id,
        )
        return {task: (str(state), int(tries)) for task, state, tries in rows}

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> list[dict[str, Any]]:
        """The task's log as Airflow stored it: one JSON object per line (level, event, logger...)."""
        import json

        folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        path = folder / f"attempt={try_number}.log"
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@contextmanager
def running(engine: Engine, *components: str) -> Iterator[Engine]:
    """`engine` with `components` started, stopped on the way out whatever happens."""
    try:
        engine.start(*components)
        yield engine
    finally:
        engine.stop()
