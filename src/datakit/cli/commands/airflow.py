"""`datakit airflow compile|check`: static Airflow 3 DAG files from the project, and a staleness check for CI.

Neither command imports Airflow (compilation is datakit-only), so both work without the `airflow`
extra and take well under a second per hundred DAGs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from datakit.cli.state import EnvironmentOption, ExcludeOption, JsonOption, ProjectOption, SelectOption, state
from datakit.config.tenancy import ALL

if TYPE_CHECKING:
    from datakit.integrations.airflow.compile import DagFile

app = typer.Typer(help="Airflow 3: compile jobs to DAG files, check they are current.", no_args_is_help=True)

OutOption = Annotated[
    Path, typer.Option("--out", "-o", help="Folder of the DAG files (Airflow's dags folder).")
]
WarehouseOption = Annotated[
    str,
    typer.Option("--warehouse", "-w", help="One warehouse, or `all` (every warehouse + untenanted jobs)."),
]
JobOption = Annotated[str | None, typer.Option("--job", "-j", help="Only this job.")]
RootOption = Annotated[
    Path | None,
    typer.Option(
        "--project-root",
        help="Project path written into the files, as Airflow's workers see it (default: the project's "
        "path relative to --out). DATAKIT_PROJECT overrides it at run time.",
        show_default=False,
    ),
]


def _compile(
    project: Path | None,
    environment: str | None,
    warehouse: str,
    job: str | None,
    out: Path,
    root: Path | None,
    select: list[str] | None = None,
    exclude: list[str] | None = None,
) -> list[DagFile]:
    from datakit.config import load_project
    from datakit.integrations.airflow.compile import compile_dags

    loaded = load_project(state.project_dir(project), environment=environment)
    return compile_dags(
        loaded,
        warehouse=warehouse,
        job=job,
        out=out,
        project_root=root,
        select=select or [],
        exclude=exclude or [],
    )


@app.command("compile")
def compile_command(
    out: OutOption = Path("dags"),
    warehouse: WarehouseOption = "all",
    job: JobOption = None,
    project_root: RootOption = None,
    select: SelectOption = None,
    exclude: ExcludeOption = None,
    project: ProjectOption = None,
    environment: EnvironmentOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write one DAG file per (warehouse, job) into --out; files that did not change are not rewritten.
    With --select/--exclude, each DAG runs that part of its job."""
    from datakit.cli.output import print_json, say
    from datakit.integrations.airflow.compile import write_dags

    files = _compile(project, environment, warehouse, job, out, project_root, select, exclude)
    selected = bool(select or exclude)
    paths = write_dags(files, out, prune=warehouse == ALL and job is None and not selected)
    warnings = [w for f in files for w in f.warnings]
    if as_json:
        print_json(
            {"files": [str(p) for p in paths], "dag_ids": [f.dag_id for f in files], "warnings": warnings}
        )
        return
    for warning in warnings:
        say(f"warning: {warning}", style="yellow")
    say(f"wrote {len(paths)} DAG file{'s' if len(paths) != 1 else ''} to {out}")


@app.command("check")
def check_command(
    out: OutOption = Path("dags"),
    warehouse: WarehouseOption = "all",
    job: JobOption = None,
    project_root: RootOption = None,
    select: SelectOption = None,
    exclude: ExcludeOption = None,
    project: ProjectOption = None,
    environment: EnvironmentOption = None,
    as_json: JsonOption = False,
) -> None:
    """Exit 1 when the DAG files in --out are stale, missing or left over (for CI). Give the
    --select/--exclude they were compiled with."""
    from datakit.cli.output import error, print_json, say
    from datakit.integrations.airflow.compile import check_dags

    files = _compile(project, environment, warehouse, job, out, project_root, select, exclude)
    selected = bool(select or exclude)
    result = check_dags(files, out, complete=warehouse == ALL and job is None and not selected)
    if as_json:
        print_json({"ok": result.ok, "stale": result.stale, "missing": result.missing, "extra": result.extra})
    else:
        for label, names in (("stale", result.stale), ("missing", result.missing), ("extra", result.extra)):
            for name in names:
                error(f"{label}: {out / name}")
        if result.ok:
            say(f"DAG files in {out} are up to date")
        else:
            error(f"run `datakit airflow compile --out {out}` to update them")
    if not result.ok:
        raise typer.Exit(1)
