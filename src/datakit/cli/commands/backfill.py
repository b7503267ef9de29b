"""`datakit backfill pipeline|job NAME --start T --end T`: re-read incremental resources over a window.

The plan (`datakit.orchestrate.backfill.compile_backfill`) runs through the local executor like a job's:
chunks in child processes, recorded in run history under `backfill:<pipeline|job>:<name>`, resumable with
`--resume RUN` (chunks that committed are not loaded again).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from datakit.cli.state import EnvironmentOption, ExcludeOption, JsonOption, ProjectOption, SelectOption, state

if TYPE_CHECKING:
    from datakit.config.project import Project
    from datakit.orchestrate.backfill import Kind
    from datakit.orchestrate.plan import Plan

app = typer.Typer(
    help="Re-read incremental resources over a window of their cursor, in chunks.", no_args_is_help=True
)

StartOption = Annotated[
    str | None,
    typer.Option(
        "--start", help="First cursor value re-read (a date, an ISO time, or a number).", show_default=False
    ),
]
EndOption = Annotated[
    str | None,
    typer.Option("--end", help="Cursor value where the window ends (excluded).", show_default=False),
]
ChunkOption = Annotated[
    str | None,
    typer.Option("--chunk", help="Size of each chunk: a duration (1d, 6h, 1w; default 1d) or a number."),
]
ParallelOption = Annotated[int, typer.Option("--max-parallelism", min=1, help="Chunks loading at once.")]
WarehouseOption = Annotated[
    str | None, typer.Option("--warehouse", "-w", help="Backfill this warehouse (tenant).")
]
ResumeOption = Annotated[
    int | None,
    typer.Option("--resume", min=1, help="Re-run the chunks (and steps) a backfill run did not finish."),
]


@app.command("pipeline")
def backfill_pipeline(
    name: Annotated[str, typer.Argument(help="Pipeline to backfill.")],
    start: StartOption = None,
    end: EndOption = None,
    chunk: ChunkOption = None,
    resource: Annotated[
        list[str] | None, typer.Option("--resource", "-r", help="Only this resource (repeatable).")
    ] = None,
    max_parallelism: ParallelOption = 1,
    warehouse: WarehouseOption = None,
    resume: ResumeOption = None,
    project: ProjectOption = None,
    environment: EnvironmentOption = None,
    as_json: JsonOption = False,
) -> None:
    """Re-read each incremental resource of a pipeline over [--start, --end), chunk by chunk; exit 1 if a
    chunk failed (resume with --resume)."""
    _backfill(
        "pipeline", name, start, end, chunk, max_parallelism, warehouse, resume, project, environment,
        as_json, resources=resource or [],
    )  # fmt: skip


@app.command("job")
def backfill_job(
    name: Annotated[str, typer.Argument(help="Job to backfill.")],
    start: StartOption = None,
    end: EndOption = None,
    chunk: ChunkOption = None,
    select: SelectOption = None,
    exclude: ExcludeOption = None,
    max_parallelism: ParallelOption = 1,
    warehouse: WarehouseOption = None,
    resume: ResumeOption = None,
    project: ProjectOption = None,
    environment: EnvironmentOption = None,
    as_json: JsonOption = False,
) -> None:
    """Re-read a job's incremental loads (of --select) over [--start, --end), chunk by chunk, then run what
    is downstream of them in the job, dbt getting the window as vars datakit_start and datakit_end."""
    _backfill(
        "job", name, start, end, chunk, max_parallelism, warehouse, resume, project, environment,
        as_json, select=select or [], exclude=exclude or [],
    )  # fmt: skip


def _backfill(
    kind: Kind,
    name: str,
    start: str | None,
    end: str | None,
    chunk: str | None,
    max_parallelism: int,
    warehouse: str | None,
    resume: int | None,
    project_dir: Path | None,
    environment: str | None,
    as_json: bool,
    *,
    resources: list[str] | None = None,
    select: list[str] | None = None,
    exclude: list[str] | None = None,
) -> None:
    from datakit.config import load_project
    from datakit.errors import ExitCode
    from datakit.orchestrate.backfill import compile_backfill
    from datakit.orchestrate.plan import backfill_job as job_name
    from datakit.orchestrate.run import run_job

    loaded = load_project(state.project_dir(project_dir), environment=environment)
    plan: Plan | None = None
    if resume is None:
        if start is None or end is None:
            from datakit.errors import UsageError

            raise UsageError("a backfill needs --start and --end (or --resume RUN to finish one)")
        plan = compile_backfill(
            loaded, kind, name, start, end, chunk,
            warehouse=warehouse, resources=resources or (), select=select or (), exclude=exclude or (),
            max_parallelism=max_parallelism,
        )  # fmt: skip
        _announce(loaded, plan, quiet=as_json)
    else:
        name = _resolved(loaded, kind, name)
    result = run_job(loaded, plan.job if plan is not None else job_name(kind, name), warehouse=warehouse,
                     resume=resume, plan=plan)  # fmt: skip
    if as_json:
        from datakit.cli.commands.run import _run_dict
        from datakit.cli.output import print_json

        print_json(_run_dict(result))
    else:
        from datakit.cli.commands.run import _print_run

        _print_run(result)
    if not result.ok:
        raise typer.Exit(int(ExitCode.INVALID))


def _resolved(project: Project, kind: Kind, name: str) -> str:
    """The pipeline's or job's name (a `x.yaml` reference resolved); an unknown one is an error."""
    return project.pipeline(name).name if kind == "pipeline" else project.job(name).name


def _announce(project: Project, plan: Plan, *, quiet: bool) -> None:
    """What will be re-read, and what will not (and why), before the run starts."""
    from datakit.cli.output import say

    del project
    backfill = plan.backfill
    if quiet or backfill is None:
        return
    say(
        f"backfill of {backfill.kind} {backfill.name}: [{backfill.start}, {backfill.end}) in "
        f"{backfill.chunks} chunk(s) of {backfill.chunk}, {len(plan.steps)} step(s)"
    )
    for step, why in backfill.skipped.items():
        say(f"  not backfilled: {step}: {why}", "yellow")
