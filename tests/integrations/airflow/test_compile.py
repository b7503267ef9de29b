"""`datakit airflow compile|check` without Airflow: what the generated files say, and staleness for CI.

The files are read back as data (`ast.literal_eval` of their literal assignments and of the DAG
call's keywords), so these tests need no Airflow; `test_airflow_dags.py` loads the same files in
Airflow itself.
"""

from __future__ import annotations

import ast
import itertools
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from datakit.cli.app import main
from datakit.config import load_project
from datakit.integrations.airflow.compile import (
    check_dags,
    compile_dags,
    file_digest,
    file_owner,
    write_dags,
)
from datakit.orchestrate.plan import compile_job
from datakit.orchestrate.stepkinds import step_from_data
from tests.integrations.airflow.projects import add_acme, copy_jaffle_project, rich_project, shop_project
from tests.pagila_project import copy_pagila_project


def literals(source: str) -> dict[str, Any]:
    """The module-level literal assignments (STEPS, EXTRA_EDGES...) and the DAG(...) keywords as source."""
    tree = ast.parse(source)
    found: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                found[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                found[node.targets[0].id] = ast.unparse(node.value)
        if isinstance(node, ast.With):
            call = node.items[0].context_expr
            assert isinstance(call, ast.Call)
            found["DAG"] = {k.arg: ast.unparse(k.value) for k in call.keywords}
    return found


def cli(args: list[str]) -> int:
    """Run the CLI in-process; its exit code."""
    try:
        main(args)
    except SystemExit as exited:
        return int(exited.code or 0)
    return 0


def deps(data: dict[str, Any]) -> dict[str, set[str]]:
    """Each task's upstream tasks: the steps' dependencies plus the extra (one-writer) edges."""
    out = {s["id"]: set(s["depends_on"]) for s in data["STEPS"]}
    for upstream, downstream in data["EXTRA_EDGES"]:
        out[downstream].add(upstream)
    return out


def test_example_project_one_file_per_warehouse_and_job(tmp_path: Path) -> None:
    project = load_project(copy_pagila_project(tmp_path), environment="dev")
    files = {f.dag_id: f for f in compile_dags(project)}
    assert sorted(files) == [
        "datakit__acme__pagila_warehouse",
        "datakit__globex__pagila_warehouse",
        "datakit__pagila_daily",
        "datakit__pagila_hourly",
        "datakit__pagila_warehouse",
    ]

    acme = literals(files["datakit__acme__pagila_warehouse"].source)
    assert acme["WAREHOUSE"] == "acme"
    assert acme["ENVIRONMENT"] == "dev"
    steps = acme["STEPS"]
    assert len(steps) == 15  # one task per Pagila table (resource)
    assert all(s["params"]["warehouse"] == "acme" for s in steps)
    # sequential: a chain in plan order
    assert [s["depends_on"] for s in steps] == [[]] + [[prev["id"]] for prev in steps[:-1]]
    assert {(s["retry"]["max_attempts"], s["retry"]["retry_delay"]) for s in steps} == {(2, 30.0)}
    dag = acme["DAG"]
    assert dag["schedule"] == "None"  # pagila_warehouse has no trigger: manual only
    assert dag["max_active_tasks"] == "1"
    assert dag["max_active_runs"] == "1"
    assert acme["LAST"] == steps[-1]["id"]
    assert acme["DONE"] == "Asset(uri='datakit://acme/pagila_warehouse')"

    daily = literals(files["datakit__pagila_daily"].source)
    assert daily["DAG"]["schedule"] == "CronTriggerTimetable('0 2 * * *', timezone='Europe/Paris')"
    assert daily["DAG"]["catchup"] == "False"
    assert daily["DAG"]["max_active_tasks"] == "2"
    by_id = deps(daily)
    assert by_id["silver_checks"] == {"silver"}
    assert by_id["gold"] == {"silver_checks"}
    loads = [s["id"] for s in daily["STEPS"] if s["kind"] == "load"]
    assert by_id["silver"] >= set(loads)
    # the loads all write one DuckDB file: chained so Airflow never runs two writers at once
    assert all(by_id[b] >= {a} for a, b in itertools.pairwise(loads))
    retry = daily["STEPS"][0]["retry"]
    assert retry == {
        "max_attempts": 3,
        "retry_delay": 60.0,
        "exponential_backoff": True,
        "max_retry_delay": 900.0,
    }


def test_each_file_embeds_its_steps_in_their_one_serialization(tmp_path: Path) -> None:
    """A task reads back exactly the planned step (typed parameters included): the dependencies and
    `exclusive` keys the file compiles into edges aside, nothing is rewritten, defaulted or stringified."""
    project = load_project(copy_pagila_project(tmp_path), environment="dev")
    for dag_file in compile_dags(project):
        plan = compile_job(project, dag_file.job, warehouse=dag_file.warehouse)
        embedded = literals(dag_file.source)["STEPS"]
        assert [s["id"] for s in embedded] == [s.id for s in plan.steps]
        for data, step in zip(embedded, plan.steps, strict=True):
            read = step_from_data(data)
            assert read == replace(step, depends_on=read.depends_on, exclusive=())
    daily = literals(next(f for f in compile_dags(project) if f.dag_id == "datakit__pagila_daily").source)
    gold = next(s for s in daily["STEPS"] if s["kind"] == "dbt" and s["id"] == "gold")
    assert gold["params"]["full_refresh"] is False and isinstance(gold["params"]["vars"], dict)


def test_parallel_mode_on_postgres_has_no_dependencies(tmp_path: Path) -> None:
    root = copy_pagila_project(tmp_path)
    job = root / "config/jobs/pagila_warehouse.yaml"
    job.write_text(job.read_text().replace("mode: sequential", "mode: parallel\n    max_parallelism: 4"))
    files = compile_dags(load_project(root, environment="dev"), warehouse="acme")
    data = literals(files[0].source)
    assert all(s["depends_on"] == [] for s in data["STEPS"])
    assert data["EXTRA_EDGES"] == []  # PostgreSQL takes concurrent writers
    assert data["DAG"]["max_active_tasks"] == "4"
    assert data["LAST"] is None  # several last tasks: a final `datakit_done` task emits the asset


def test_triggers_become_schedule_assets_and_warnings(tmp_path: Path) -> None:
    project = load_project(rich_project(tmp_path / "shop"), environment="dev")
    files = {f.dag_id: f for f in compile_dags(project)}
    report = files["datakit__report"]
    data = literals(report.source)
    assert data["DAG"]["schedule"] == (
        "AssetOrTimeSchedule(timetable=DeltaTriggerTimetable(timedelta(seconds=21600.0)), "
        "assets=[Asset(uri='datakit://shop/daily')])"
    )
    # the upstream DAG emits exactly that asset
    assert literals(files["datakit__daily"].source)["DONE"] == "Asset(uri='datakit://shop/daily')"
    assert len(report.warnings) == 2
    assert any("'report_hook' (webhook) is not supported" in w for w in report.warnings)
    assert any("'report_files' (file_arrived) is not supported" in w for w in report.warnings)
    assert report.source.count("# NOT COMPILED:") == 2
    step = data["STEPS"][0]
    assert step["timeout"] == 300.0
    assert step["retry"] == {
        "max_attempts": 4,
        "retry_delay": 2.0,
        "exponential_backoff": True,
        "max_retry_delay": 10.0,
    }
    assert data["DAG"]["max_active_tasks"] == "3"


def test_warehouse_schedule_override(tmp_path: Path) -> None:
    root = shop_project(tmp_path / "shop")
    add_acme(root)
    acme, plain = compile_dags(load_project(root, environment="dev"))
    assert (acme.dag_id, plain.dag_id) == ("datakit__acme__daily", "datakit__daily")  # both still run it
    data = literals(acme.source)
    assert data["DAG"]["schedule"] == "CronTriggerTimetable('30 3 * * *', timezone='Europe/Berlin')"
    assert data["DONE"] == "Asset(uri='datakit://acme/daily')"


def test_a_job_reading_warehouse_variables_compiles_only_for_warehouses(tmp_path: Path) -> None:
    """`${var.NAME}` exists only for a warehouse: run as the project itself, the job would use the
    literal text, so there is no such DAG and `run job` without --warehouse refuses."""
    from datakit.errors import DatakitError

    root = shop_project(tmp_path / "shop")
    add_acme(root)
    source = next((root / "config" / "sources").glob("*.yaml"))
    text = source.read_text()
    assert "database: data/shop.sqlite" in text
    source.write_text(text.replace("database: data/shop.sqlite", "database: data/${var.tenant}.sqlite"))
    project = load_project(root, environment="dev")
    assert [f.dag_id for f in compile_dags(project)] == ["datakit__acme__daily"]
    with pytest.raises(DatakitError, match=r"job 'daily' reads \$\{var.tenant\}, which only a warehouse"):
        compile_job(project, "daily")


def test_check_finds_stale_missing_and_extra_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = rich_project(tmp_path / "shop")
    out = tmp_path / "dags"
    compile_args = ["airflow", "compile", "--project", str(root), "--out", str(out)]
    check = ["airflow", "check", "--project", str(root), "--out", str(out)]
    assert cli(compile_args) == 0
    assert sorted(p.name for p in out.iterdir()) == ["datakit__daily.py", "datakit__report.py"]
    assert "warning: datakit__report: trigger 'report_hook'" in capsys.readouterr().out
    assert cli(check) == 0
    before = file_digest(out / "datakit__daily.py")

    job = root / "config/jobs/daily.yaml"
    job.write_text(job.read_text().replace("max_attempts: 3", "max_attempts: 5"))
    assert cli(check) == 1
    assert f"stale: {out / 'datakit__daily.py'}" in capsys.readouterr().err

    assert cli(compile_args) == 0
    assert file_digest(out / "datakit__daily.py") != before
    assert cli(check) == 0

    (out / "datakit__report.py").unlink()
    (root / "config/triggers/after_daily.yaml").unlink()
    (root / "config/jobs/report.yaml").rename(root / "config/jobs/report.yaml.off")
    for name in ("every_6h", "report_hook", "report_files"):
        (root / f"config/triggers/{name}.yaml").unlink()
    (out / "datakit__gone.py").write_text((out / "datakit__daily.py").read_text())  # generated, now orphaned
    (out / "my_own_dag.py").write_text("# not generated by datakit\n")
    project = load_project(root, environment="dev")
    result = check_dags(compile_dags(project, out=out), out, project="shop")
    assert (result.stale, result.missing, result.extra) == ((), (), ("datakit__gone.py",))
    write_dags(compile_dags(project, out=out), out, project="shop", prune=True)
    assert sorted(p.name for p in out.iterdir()) == ["datakit__daily.py", "my_own_dag.py"]


def test_projects_sharing_a_dags_folder_prune_and_check_only_their_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """jaffle_shop and Pagila compile into one folder: `compile --warehouse all` of one never deletes
    the other's files, `check` of one lists the other's as foreign (and passes), and a project whose
    file name clashes with another project's file is refused before anything is written."""
    jaffle = copy_jaffle_project(tmp_path / "jaffle")
    pagila = copy_pagila_project(tmp_path / "pagila")
    out = tmp_path / "dags"
    for root in (jaffle, pagila):
        assert cli(["airflow", "compile", "--project", str(root), "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert "datakit__acme__jaffle_daily.py" in names and "datakit__pagila_daily.py" in names
    assert file_owner(out / "datakit__acme__jaffle_daily.py") == "jaffle_shop"
    assert file_owner(out / "datakit__pagila_daily.py") == "pagila"
    # a hand-written DAG and a file of an older datakit (no project line) are nobody's to prune
    (out / "my_own_dag.py").write_text("# not generated by datakit\n")
    legacy = (out / "datakit__pagila_daily.py").read_text().replace("# datakit-project: pagila\n", "")
    (out / "datakit__old_job.py").write_text(legacy)
    assert file_owner(out / "datakit__old_job.py") == "?"

    capsys.readouterr()
    assert cli(["airflow", "compile", "--project", str(jaffle), "--out", str(out)]) == 0  # prunes
    assert sorted(p.name for p in out.iterdir()) == sorted([*names, "my_own_dag.py", "datakit__old_job.py"])
    assert cli(["airflow", "check", "--project", str(jaffle), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert f"foreign: {out / 'datakit__pagila_daily.py'} is project 'pagila': left alone" in said
    assert "datakit__old_job.py is an older datakit's (no project named)" in said
    assert "my_own_dag.py" not in said
    assert cli(["airflow", "check", "--project", str(jaffle), "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and report["extra"] == [] and report["stale"] == []
    assert report["foreign"]["datakit__pagila_warehouse.py"] == "pagila"

    # pagila drops a job: its own orphan goes, jaffle's files stay
    (pagila / "config/triggers/pagila_hourly.yaml").unlink(missing_ok=True)
    for trigger in (pagila / "config/triggers").glob("*.yaml"):
        if "pagila_hourly" in trigger.read_text():
            trigger.unlink()
    (pagila / "config/jobs/pagila_hourly.yaml").unlink()
    assert cli(["airflow", "compile", "--project", str(pagila), "--out", str(out)]) == 0
    after = sorted(p.name for p in out.iterdir())
    assert "datakit__pagila_hourly.py" not in after
    assert {"datakit__jaffle_daily.py", "datakit__acme__jaffle_daily.py", "datakit__old_job.py"} <= set(after)

    # a second project with a job of the same name would overwrite jaffle's file: refused, nothing written
    other = copy_jaffle_project(tmp_path / "other")
    (other / "datakit.yaml").write_text(
        (other / "datakit.yaml").read_text().replace("name: jaffle_shop", "name: other")
    )
    before = {p.name: p.read_text() for p in out.iterdir()}
    assert cli(["airflow", "compile", "--project", str(other), "--out", str(out)]) != 0
    error = capsys.readouterr().err
    assert "datakit__acme__jaffle_daily.py belongs to project 'jaffle_shop'" in " ".join(error.split())
    assert {p.name: p.read_text() for p in out.iterdir()} == before


def test_check_reports_a_hand_edit_and_a_missing_file(tmp_path: Path) -> None:
    project = load_project(shop_project(tmp_path / "shop"), environment="dev")
    out = tmp_path / "dags"
    files = compile_dags(project)
    assert check_dags(files, out, project="shop").missing == ("datakit__daily.py",)
    write_dags(files, out, project="shop")
    path = out / "datakit__daily.py"
    path.write_text(path.read_text().replace("max_active_runs=1", "max_active_runs=3"))
    assert check_dags(files, out, project="shop").stale == ("datakit__daily.py",)


def test_compile_is_deterministic_and_does_not_import_airflow(tmp_path: Path) -> None:
    root = rich_project(tmp_path / "shop")
    out = tmp_path / "dags"
    code = (
        "import sys; from pathlib import Path; from datakit.cli.app import main\n"
        f"try: main(['airflow', 'compile', '--project', {str(root)!r}, '--out', {str(out)!r}])\n"
        "except SystemExit as e: assert not e.code\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'airflow'], 'airflow imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    first = {p.name: p.read_text() for p in out.iterdir()}
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    assert {p.name: p.read_text() for p in out.iterdir()} == first


def test_project_root_relative_to_the_dags_folder_or_given(tmp_path: Path) -> None:
    project = load_project(shop_project(tmp_path / "repo" / "shop"), environment="dev")
    (relative,) = compile_dags(project, out=tmp_path / "repo" / "dags")
    # a checkout elsewhere (or a DAG bundle of the repo) compiles to the same file
    moved = load_project(shop_project(tmp_path / "elsewhere" / "shop"), environment="dev")
    assert compile_dags(moved, out=tmp_path / "elsewhere" / "dags")[0].source == relative.source
    namespace: dict[str, Any] = {"__file__": str(tmp_path / "repo" / "dags" / relative.filename)}
    line = next(x for x in relative.source.splitlines() if x.startswith("PROJECT_ROOT ="))
    exec("import os\n" + line, namespace)
    assert namespace["PROJECT_ROOT"] == str(tmp_path / "repo" / "shop")

    (given,) = compile_dags(project, out=tmp_path / "dags", project_root=Path("/srv/shop"))
    assert "PROJECT_ROOT = os.environ.get('DATAKIT_PROJECT') or '/srv/shop'" in given.source
