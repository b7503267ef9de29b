"""Grouped load steps (issue 21 item 2): a pipeline's small resources loaded by one step, each still its
own transaction and load record; a failure is that resource's, and a resume skips what committed.

The project is `append_project`'s (a PostgreSQL source, a DuckDB or PostgreSQL destination) with three
small tables and `group_resources: true` on the job's pipeline; runs go through the CLI, as a user's do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from datakit.config import load_project
from datakit.orchestrate.grouping import group_loads
from datakit.orchestrate.plan import compile_job
from datakit.orchestrate.selection import selected_job
from datakit.orchestrate.stepkinds import LoadStep
from tests.orchestrate.append_project import AppendProject, append_project
from tests.pagila_project import scratch_database

pytestmark = pytest.mark.postgres
KINDS = ["duckdb", "postgres"]
TABLES = ("a", "b", "c")


@pytest.fixture(scope="module")
def group_dsn(pg_dsn: str) -> Iterator[str]:
    with scratch_database(pg_dsn) as dsn:
        yield dsn


def grouped_project(root: Path, dsn: str, kind: str) -> AppendProject:
    """`append_project` whose source has three small tables `a`, `b`, `c` (2 rows each) and whose job
    groups the pipeline's resources."""
    import psycopg

    project = append_project(root, dsn, kind, rows=10)
    with psycopg.connect(dsn, autocommit=True) as conn:
        for table in TABLES:
            conn.execute(f'CREATE TABLE "{project.source_schema}".{table} (id bigint, name text)')
            conn.execute(f"INSERT INTO \"{project.source_schema}\".{table} VALUES (1, 'one'), (2, 'two')")
    source = root / "config/sources/src.yaml"
    text = source.read_text(encoding="utf-8").split("  resources:\n")[0]
    resources = "".join(f"    - {{name: {t}, write_disposition: append}}\n" for t in TABLES)
    source.write_text(text + "  resources:\n" + resources, encoding="utf-8")
    (root / "config/jobs/j.yaml").write_text(
        "job:\n  name: j\n  pipelines: [{name: kb, group_resources: true}]\n"
        "  execution: {mode: sequential}\n",
        encoding="utf-8",
    )
    return project


def datakit(project: AppendProject, *args: str, ok: bool = True) -> str:
    """`datakit ARGS` in the project; its output (the test fails if it did not end as `ok` says)."""
    env = {k: v for k, v in os.environ.items() if k != "ENVIRONMENT"} | project.env
    done = subprocess.run(
        [sys.executable, "-m", "datakit", *args],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode == 0) is ok, f"datakit {' '.join(args)} exited {done.returncode}:\n{done.stderr}"
    return done.stdout


def execute(project: AppendProject, sql: str) -> None:
    """One statement on the project's destination, committed."""
    if project.kind == "duckdb":
        import duckdb

        with duckdb.connect(str(project.root / "warehouse.duckdb")) as conn:
            conn.execute(sql)
        return
    import psycopg

    with psycopg.connect(project.dsn, autocommit=True) as conn:
        conn.execute(sql)


def records(project: AppendProject) -> list[tuple[str, str, str, int]]:
    """(run number, step id, status, rows loaded) of each load record of the project's targets."""
    rows = project.query(
        "SELECT run_id, step_id, status, rows_loaded FROM _datakit.loads "
        f"WHERE target LIKE '%{project.source_schema}%' ORDER BY started_at"
    )
    return [(str(run).split("-")[0], str(step), str(status), int(n)) for run, step, status, n in rows]


def test_the_plan_groups_the_pipeline_after_selection(tmp_path: Path, group_dsn: str) -> None:
    project = grouped_project(tmp_path / "p", group_dsn, "duckdb")
    loaded = load_project(project.root, environment="dev")

    (step,) = group_loads(loaded, compile_job(loaded, "j")).steps
    assert isinstance(step, LoadStep)
    assert (step.id, step.params.resources) == ("kb.*", TABLES)

    picked = group_loads(loaded, selected_job(loaded, "j", None, ["kb.a", "kb.c"]))
    assert [(s.id, s.params.resources) for s in picked.steps if isinstance(s, LoadStep)] == [
        ("kb.a+c", ("a", "c"))
    ]
    assert picked.selection is not None
    assert set(picked.selection.steps) == {"kb.a+c"}
    (alone,) = group_loads(loaded, selected_job(loaded, "j", None, ["kb.b"])).steps
    assert alone.id == "kb.b"  # one resource: an ordinary step


@pytest.mark.parametrize(("kind", "setting", "grouped"), [
    ("duckdb", "", True),  # unset: DuckDB's loads run one at a time anyway
    ("duckdb", ", group_resources: false", False),
    ("postgres", "", False),  # PostgreSQL takes parallel loads: a step per resource
])  # fmt: skip
def test_unset_grouping_groups_the_loads_of_a_single_writer_destination(
    tmp_path: Path, group_dsn: str, kind: str, setting: str, grouped: bool
) -> None:
    project = grouped_project(tmp_path / "p", group_dsn, kind)
    job = project.root / "config/jobs/j.yaml"
    entry = "{name: kb" + setting + "}"
    text = job.read_text(encoding="utf-8").replace("{name: kb, group_resources: true}", entry)
    job.write_text(text + "  timeout: 5m\n", encoding="utf-8")
    loaded = load_project(project.root, environment="dev")
    steps = [s for s in group_loads(loaded, compile_job(loaded, "j")).steps if isinstance(s, LoadStep)]
    if grouped:  # the members' timeouts, one after the other
        assert [(s.id, s.params.resources, s.timeout) for s in steps] == [("kb.*", TABLES, 3 * 300.0)]
    else:
        assert [s.id for s in steps] == [f"kb.{table}" for table in TABLES]
        assert {s.timeout for s in steps} == {300.0}


@pytest.mark.parametrize("kind", KINDS)
def test_a_grouped_step_records_each_resource_and_a_failure_is_that_resources(
    tmp_path: Path, group_dsn: str, kind: str
) -> None:
    project = grouped_project(tmp_path / "p", group_dsn, kind)
    target = project.target_schema
    # b's target has a NOT NULL column nobody delivers: b's load fails inside its transaction
    execute(project, f'CREATE SCHEMA IF NOT EXISTS "{target}"')
    execute(project, f'CREATE TABLE "{target}".b (id bigint, name text, x integer NOT NULL)')

    failed = json.loads(datakit(project, "run", "job", "j", "--json", ok=False))
    assert failed["steps"] == {"kb.*": "failed"}
    assert "kb.b" in failed["errors"]["kb.*"]
    shown = json.loads(datakit(project, "runs", "show", "1", "--json"))
    (step,) = shown["steps"]
    outcomes = step["details"]["resources"]
    assert {name: o["status"] for name, o in outcomes.items()} == {
        "a": "succeeded",
        "b": "failed",
        "c": "succeeded",
    }
    assert "x" in outcomes["b"]["error"]
    # a and c committed, each its own load record under its own step id; b's failure is recorded too
    assert sorted(r[:3] for r in records(project)) == [
        ("1", "kb.a", "succeeded"),
        ("1", "kb.b", "failed"),
        ("1", "kb.c", "succeeded"),
    ]
    assert project.query(f'SELECT count(*) FROM "{target}".a') == [(2,)]
    assert project.query(f'SELECT count(*) FROM "{target}".c') == [(2,)]
    assert project.query(f'SELECT count(*) FROM "{target}".b') == [(0,)]

    execute(project, f'DROP TABLE "{target}".b')
    resumed = json.loads(datakit(project, "run", "job", "j", "--resume", "1", "--json"))
    assert resumed["steps"] == {"kb.*": "succeeded"}
    shown = json.loads(datakit(project, "runs", "show", "2", "--json"))
    (step,) = shown["steps"]
    assert {name: o["status"] for name, o in step["details"]["resources"].items()} == {
        "a": "reused",
        "b": "succeeded",
        "c": "reused",
    }
    assert (step["rows_read"], step["rows_loaded"]) == (6, 6)
    # exactly once: a and c were not loaded again
    for table in TABLES:
        assert project.query(f'SELECT count(*), count(DISTINCT id) FROM "{target}".{table}') == [(2, 2)]
    assert [r for r in records(project) if r[0] == "2"] == [("2", "kb.b", "succeeded", 2)]
