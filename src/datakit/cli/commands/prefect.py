"""`datakit prefect deploy|serve|run job`: the project's jobs as Prefect 3 flows and deployments.

They talk to the Prefect API that `PREFECT_API_URL` names (a `prefect server start`, Prefect Cloud);
`run job` without one uses Prefect's temporary local server. Prefect is imported inside the commands
(the `prefect` extra), so `datakit --help` stays fast without it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from datakit.cli.state import (
    EnvironmentOption,
    ExcludeOption,
    JsonOption,
    ProjectOption,
    SelectOption,
    YesOption,
    state,
)
from datakit.config.tenancy import ALL
from datakit.errors import ExitCode

if TYPE_CHECKING:
    from datakit.integrations.prefect.deployments import DeploymentSpec

app = typer.Typer(
    help="Prefect 3: deploy the jobs as flows with their schedules, serve them, or run one now.",
    no_args_is_help=True,
)
run_app = typer.Typer(help="Run one job's flow now.", no_args_is_help=True)
app.add_typer(run_app, name="run")

WarehouseOption = Annotated[
    str,
    typer.Option("--warehouse", "-w", help="One warehouse, or `all` (every warehouse + untenanted jobs)."),
]
JobOption = Annotated[str | None, typer.Option("--job", "-j", help="Only this job.")]
RootOption = Annotated[
    Path | None,
    typer.Option(
        "--project-root",
        help="The project's path as the Prefect runner sees it (default: this project's absolute path).",
        show_default=False,
    ),
]


def _specs(
    project: Path | None,
    environment: str | None,
    warehouse: str,
    job: str | None,
    root: Path | None,
    select: list[str] | None = None,
    exclude: list[str] | None = None,
) -> tuple[list[DeploymentSpec], tuple[str, ...] | None]:
    from datakit.config import load_project
    from datakit.integrations.prefect.deployments import deployment_specs, ownership_tags
    from datakit.integrations.prefect.plans import check_plans, options

    loaded = load_project(state.project_dir(project), environment=environment)
    chosen = options(select, exclude)
    specs = deployment_specs(loaded, warehouse=warehouse, job=job, project_root=root, chosen=chosen)
    check_plans(loaded, [(spec.warehouse, spec.job) for spec in specs], chosen)
    whole = warehouse == ALL and job is None  # only then is a deployment missing from specs stale
    return specs, ownership_tags(loaded) if whole else None


@app.command("deploy")
def deploy_command(
    warehouse: WarehouseOption = ALL,
    job: JobOption = None,
    project_root: RootOption = None,
    select: SelectOption = None,
    exclude: ExcludeOption = None,
    project: ProjectOption = None,
    environment: EnvironmentOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create or update one deployment per (warehouse, job); remove the ones this project made that
    the YAML no longer has (with --warehouse all and no --job). With --select/--exclude, each
    deployment runs that part of its job (its default parameters)."""
    from datakit.cli.output import print_json, say
    from datakit.integrations.prefect.deploy import apply

    specs, prune = _specs(project, environment, warehouse, job, project_root, select, exclude)
    applied = apply(specs, prune_tags=prune)
    warnings = [w for spec in specs for w in spec.warnings]
    if as_json:
        print_json({"deployments": applied.ids, "removed": list(applied.removed), "warnings": warnings})
        return
    for warning in warnings:
        say(f"warning: {warning}", style="yellow")
    for name in applied.removed:
        say(f"removed {name}")
    count = len(applied.ids)
    say(f"{count} deployment{'s' if count != 1 else ''} up to date; run them with `datakit prefect serve`")


@app.command("serve")
def serve_command(
    warehouse: WarehouseOption = ALL,
    job: JobOption = None,
    project_root: RootOption = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Most flow runs at once (default: no limit).")
    ] = None,
    select: SelectOption = None,
    exclude: ExcludeOption = None,
    project: ProjectOption = None,
    environment: EnvironmentOption = None,
) -> None:
    """Deploy, then run the deployments' scheduled, triggered and manual runs from this process."""
    from datakit.cli.output import say
    from datakit.integrations.prefect.deploy import serve

    specs, prune = _specs(project, environment, warehouse, job, project_root, select, exclude)
    for warning in (w for spec in specs for w in spec.warnings):
        say(f"warning: {warning}", style="yellow")
    serve(specs, prune_tags=prune, limit=limit)


@run_app.command("job")
def run_job_command(
    job: Annotated[str, typer.Argument(help="The job (a name or a x.yaml reference).")],
    warehouse: Annotated[
        str | None, typer.Option("--warehouse", "-w", help="Run it for this warehouse.")
    ] = None,
    full_refresh: Annotated[bool, typer.Option("--full-refresh", help="Reload everything.")] = False,
    resume: Annotated[
        int | None, typer.Option("--resume", help="Re-run only the failed and skipped steps of this run.")
    ] = None,
    select: SelectOption = None,
    exclude: ExcludeOption = None,
    start: Annotated[
        str | None,
        typer.Option("--start", help="Backfill: first cursor value re-read (as `datakit backfill job`)."),
    ] = None,
    end: Annotated[
        str | None, typer.Option("--end", help="Backfill: cursor value where the window ends (excluded).")
    ] = None,
    chunk: Annotated[
        str | None, typer.Option("--chunk", help="Backfill: size of each chunk (1d, 6h, a number).")
    ] = None,
    max_parallelism: Annotated[
        int, typer.Option("--max-parallelism", min=1, help="Backfill: chunks loading at once.")
    ] = 1,
    yes: YesOption = False,
    project: ProjectOption = None,
    environment: EnvironmentOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run the job's flow now (against PREFECT_API_URL, else Prefect's temporary local server); with
    --select/--exclude only that part of it, with --start/--end a backfill of it over that window.
    A full refresh in prod needs --yes."""
    from datakit.cli.output import error, print_json, say
    from datakit.config import load_project
    from datakit.integrations.prefect.plans import options
    from datakit.integrations.prefect.run import run_now

    loaded = load_project(state.project_dir(project), environment=environment)
    chosen = options(select, exclude, None, start, end, chunk, max_parallelism)
    outcome = run_now(
        loaded,
        job,
        warehouse=warehouse,
        full_refresh=full_refresh,
        resume=resume,
        chosen=chosen,
        confirmed=yes,
    )
    if as_json:
        print_json(outcome.as_dict())
    else:
        say(f"flow run {outcome.flow_run_name} ({outcome.flow_run_id}): {outcome.state}")
        if outcome.run_id is not None:
            say(f"datakit run {outcome.run_id}: {outcome.status} (datakit runs show {outcome.run_id})")
        if outcome.error:
            error(outcome.error)
    if not outcome.ok:
        raise typer.Exit(int(ExitCode.INVALID))
