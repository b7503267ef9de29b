"""The Pagila warehouse on a real Spark cluster (issue 18, item 5): a standalone master and two workers
on 127.0.0.1, started with Spark's own launcher classes from the pyspark wheel. Bronze (`datakit run
pipeline`) and the dbt models run against `spark://127.0.0.1:<port>`; Spark's event log shows their
tasks ran on both workers' executors, and the gold tables equal those of the same project on
`local[2]` (row counts and checksums).

Slow (a cluster and two warehouses on two cores): `pytest -m "spark and slow" tests/warehouse`.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.matrix import DuckDBTarget
from tests.pagila_project import copy_pagila_project, pagila_env
from tests.waits import wait_until
from tests.warehouse.conftest import DBT_PROJECT, load_bronze, run_dbt_step
from tests.warehouse.test_spark_parity import _Engine, _facts, with_spark

pytestmark = [pytest.mark.spark, pytest.mark.slow]
WORKERS = 2


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Cluster:
    url: str
    ui: str
    processes: list[subprocess.Popen[bytes]]

    def state(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.ui}/json/", timeout=10) as answer:
            state: dict[str, Any] = json.loads(answer.read())
        return state


def _launch(main: str, *args: str, log: Path) -> subprocess.Popen[bytes]:
    import pyspark

    jars = Path(pyspark.__file__).parent / "jars"
    java = shutil.which("java")
    assert java is not None
    # A worker builds its executors' command line with Spark's launcher, which finds the jars by the
    # Scala version: a distribution's build folders say it, the pyspark wheel has none.
    (core,) = jars.glob("spark-core_*.jar")
    scala = core.name.removeprefix("spark-core_").split("-")[0]
    env = os.environ | {
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_HOME": str(jars.parent),
        "SPARK_SCALA_VERSION": scala,
    }
    command = [java, "-Xmx512m", "-cp", f"{jars}/*", main, *args]
    with log.open("wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A standalone master and `WORKERS` workers (one core, 1 GB each), stopped afterwards."""
    port, ui = _port(), _port()
    master = _launch(
        "org.apache.spark.deploy.master.Master",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--webui-port",
        str(ui),
        log=tmp_path / "master.log",
    )
    running = Cluster(f"spark://127.0.0.1:{port}", f"http://127.0.0.1:{ui}", [master])
    try:
        wait_until(lambda: _answers(running), "the Spark master's web UI", guard=300)
        for n in range(WORKERS):
            running.processes.append(
                _launch(
                    "org.apache.spark.deploy.worker.Worker",
                    running.url,
                    "--host",
                    "127.0.0.1",
                    "--cores",
                    "1",
                    "--memory",
                    "1g",
                    "--webui-port",
                    str(_port()),
                    "--work-dir",
                    str(tmp_path / f"work{n}"),
                    log=tmp_path / f"worker{n}.log",
                )
            )
        wait_until(
            lambda: len([w for w in running.state()["workers"] if w["state"] == "ALIVE"]) == WORKERS,
            "both workers to register",
            guard=300,
        )
        yield running
    finally:
        for process in reversed(running.processes):
            process.terminate()
        for process in running.processes:
            process.wait(timeout=60)


def _answers(cluster: Cluster) -> bool:
    try:
        cluster.state()
    except OSError:
        return False
    return True


def _executors(event_logs: Path) -> dict[str, int]:
    """Tasks per executor id, over every application's event log."""
    tasks: dict[str, int] = {}
    for log in event_logs.iterdir():
        for line in log.read_text(encoding="utf-8").splitlines():
            event = json.loads(line)
            if event.get("Event") == "SparkListenerTaskEnd":
                executor = str(event["Task Info"]["Executor ID"])
                tasks[executor] = tasks.get(executor, 0) + 1
    return tasks


def test_pagila_on_a_standalone_cluster_equals_local(
    cluster: Cluster, tmp_path: Path, pagila_dsn: str
) -> None:
    facts = {}
    logs = tmp_path / "events"
    logs.mkdir()
    for name, master in (("cluster", cluster.url), ("local", "local[2]")):
        project = with_spark(copy_pagila_project(tmp_path / name))
        shutil.rmtree(project / DBT_PROJECT / "target", ignore_errors=True)
        env = pagila_env(pagila_dsn) | {
            "SPARK_MASTER": master,
            "SPARK_WAREHOUSE": str(project / "spark-warehouse"),
            "SPARK_LOCAL_IP": "127.0.0.1",  # the driver where the executors on 127.0.0.1 reach it
        }
        if name == "cluster":
            env["PYSPARK_SUBMIT_ARGS"] = (
                f"--conf spark.eventLog.enabled=true --conf spark.eventLog.dir={logs.as_uri()} "
                # one plain JSON file per application (Spark 4 rolls and compresses them by default)
                "--conf spark.eventLog.rolling.enabled=false --conf spark.eventLog.compress=false "
                "--conf spark.executor.memory=512m --conf spark.cores.max=2 pyspark-shell"
            )
        warehouse = _Engine(project, env, DuckDBTarget(project / "unused.duckdb"), "spark")
        load_bronze(warehouse)
        run_dbt_step(warehouse)
        facts[name] = _facts(warehouse, warehouse.destination)
    tasks = _executors(logs)
    workers = {executor for executor in tasks if executor != "driver"}
    assert len(workers) == WORKERS, tasks  # both workers' executors ran tasks of the loads and dbt
    assert all(tasks[w] > 0 for w in workers)
    apps = cluster.state()["completedapps"] + cluster.state()["activeapps"]
    assert apps, "the runs were applications of the cluster"
    assert facts["cluster"]["gold"] == facts["local"]["gold"] and facts["local"]["gold"]
    assert all(status == "passed" for _, status, _ in facts["cluster"]["checks"])
