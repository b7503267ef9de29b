"""`datakit airflow compile --select`: the DAG of a part of a job is the selected plan, step for step."""

from __future__ import annotations

from pathlib import Path

import pytest

from datakit.config import load_project
from datakit.integrations.airflow.compile import compile_dags
from tests.integrations.airflow.test_compile import cli, deps, literals
from tests.pagila_project import copy_pagila_project


def test_a_selected_dag_runs_the_selected_steps_and_nodes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ENVIRONMENT", raising=False)
    root = copy_pagila_project(tmp_path)
    project = load_project(root, environment="dev")
    dags = compile_dags(project, job="pagila_daily", select=["+silver.customer"])
    data = literals(next(d for d in dags if d.dag_id == "datakit__pagila_daily").source)
    assert [s["id"] for s in data["STEPS"]] == ["pagila_bronze.customer", "silver"]
    silver = data["STEPS"][1]["params"]
    assert "fqn:pagila.silver.customer" in silver["select"].split()
    assert silver["exclude"] is None and silver["indirect_selection"] == "empty"
    assert deps(data)["silver"] == {"pagila_bronze.customer"}

    out = tmp_path / "dags"
    args = ["-p", str(root), "airflow", "compile", "--out", str(out), "--job", "pagila_daily"]
    assert cli([*args, "--warehouse", "all", "--select", "+silver.customer"]) == 0
    check = ["-p", str(root), "airflow", "check", "--out", str(out), "--job", "pagila_daily"]
    assert cli([*check, "--select", "+silver.customer"]) == 0  # current for that selection
    assert cli(check) == 1  # the whole job's DAG would differ
