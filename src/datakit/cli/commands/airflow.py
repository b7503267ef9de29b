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
ExecutorOption = Annotated[
    str | None,
    typer.Option(
        "--executor",
        help="Airflow executor the DAGs run on (default: airflow.executor in datakit.yaml, else "
        "$AIRFLOW__CORE__EXECUTOR); a multi-host one (CeleryExecutor...) warns about DuckDB destinations.",
        show_default=False,
    ),
]
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
    executor: str | None = None,
) -> tuple[str, list[DagFile]]:
    """The project's name (the owner of its files) and its DAG files."""
    from datakit.config import load_project
    from datakit.integrations.airflow.compile import compile_dags

    loaded = load_project(state.project_dir(project), environment=environment)
    files = compile_dags(
        loaded,
        warehouse=warehouse,
        job=job,
        out=out,
        project_root=root,
        select=select or [],
        exclude=exclude or [],
        executor=executor,
    )
    return loaded.config.name, files


@app.command("compile")
def compile_command(
    out: OutOption = Path("dags"),
    warehouse: WarehouseOption = "all",
    job: JobOption = None,
    project_root: RootOption = None,
    select: SelectOption = None,
    exclude: ExcludeOption = None,
    executor: ExecutorOption = None,
    project: ProjectOption = None,
    environment: EnvironmentOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write one DAG file per (warehouse, job) into --out; files that did not change are not rewritten.
    With --select/--exclude, each DAG runs that part of its job."""
    from datakit.cli.output import print_json, say
    from datakit.integrations.airflow.compile import pools, write_dags

    owner, files = _compile(
        project, environment, warehouse, job, out, project_root, select, exclude, executor
    )
    selected = bool(select or exclude)
    paths = write_dags(files, out, project=owner, prune=warehouse == ALL and job is None and not selected)
    warnings = [w for f in files for w in f.warnings]
    if as_json:
        print_json(
            {
                "files": [str(p) for p in paths],
                "dag_ids": [f.dag_id for f in files],
                "warnings": warnings,
                "pools": sorted(pools(files)[0]),
            }
        )
        return
    for warning in warnings:
        say(f"warning: {warning}", style="yellow")
    say(f"wrote {len(paths)} DAG file{'s' if len(paths) != 1 else ''} to {out}")
    used, _ = pools(files)
    if used:
        say(
            f"the tasks run in {len(used)} Airflow pool{'s' if len(used) != 1 else ''} "
            f"({', '.join(sorted(used))}): create them with `datakit airflow pools -o pools.json && "
            "airflow pools import pools.json` (Airflow does not schedule a task whose pool is missing)"
        )


@app.command("check")
def check_command(
    out: OutOption = Path("dags"),
    warehouse: WarehouseOption = "all",
    job: JobOption = None,
    project_root: RootOption = None,
    select: SelectOption = None,
    exclude: ExcludeOption = None,
    executor: ExecutorOption = None,
    project: ProjectOption = None,
    environment: EnvironmentOption = None,
    as_json: JsonOption = False,
) -> None:
    """Exit 1 when this project's DAG files in --out are stale, missing or left over (for CI); other
    projects' files are listed as foreign and do not fail the check. Give the --select/--exclude they
    were compiled with."""
    from datakit.cli.output import error, print_json, say
    from datakit.integrations.airflow.compile import UNKNOWN, check_dags

    owner, files = _compile(
        project, environment, warehouse, job, out, project_root, select, exclude, executor
    )
    selected = bool(select or exclude)
    result = check_dags(files, out, project=owner, complete=warehouse == ALL and job is None and not selected)
    if as_json:
        print_json(
            {
                "ok": result.ok,
                "stale": result.stale,
                "missing": result.missing,
                "extra": result.extra,
                "foreign": dict(result.foreign),
            }
        )
    else:
        for label, names in (("stale", result.stale), ("missing", result.missing), ("extra", result.extra)):
            for name in names:
                error(f"{label}: {out / name}")
        for name, other in result.foreign:
            whose = "an older datakit's (no project named)" if other == UNKNOWN else f"project {other!r}"
            say(f"foreign: {out / name} is {whose}: left alone")
        if result.ok:
            say(f"DAG files in {out} are up to date")
        else:
            error(f"run `datakit airflow compile --out {out}` to update them")
    if not result.ok:
        raise typer.Exit(1)


PoolsOutOption = Annotated[
    Path | None,
    typer.Option(
        "--out", "-o", help="Write the pools to this file (default: print them).", show_default=False
    ),
]


@app.command("pools")
def pools_command(
    out: PoolsOutOption = None,
    warehouse: WarehouseOption = "all",
    job: JobOption = None,
    project: ProjectOption = None,
    environment: EnvironmentOption = None,
) -> None:
    """The Airflow pools the compiled DAGs use, as `airflow pools import` reads them (JSON)."""
    import json

    from datakit.cli.output import error, say
    from datakit.integrations.airflow.compile import pools

    owner, files = _compile(project, environment, warehouse, job, Path("dags"), None)
    used, warnings = pools(files)
    for warning in warnings:
        error(f"warning: {warning}")  # on stderr: stdout is the JSON
    data = {
        name: {
            "slots": pool.slots,
            "description": f"datakit project {owner}: tasks working in destination {pool.destination}",
            "include_deferred": False,
        }
        for name, pool in sorted(used.items())
    }
    text = json.dumps(data, indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        say(f"wrote {len(data)} pool{'s' if len(data) != 1 else ''} to {out}: `airflow pools import {out}`")
