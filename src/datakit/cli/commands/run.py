"""`datakit run pipeline` and `datakit run job`: run now, with progress or step results and a summary.

`run pipeline` loads in this process (progress bars); `run job` runs the job's plan through the local
executor (`datakit.orchestrate.run.run_job`): steps in child processes, recorded in the run history.
`run job J --warehouse acme` runs it as that tenant; `--warehouse all` runs it for every tenant that
lists it, `--max-parallelism` at once (`run_job_for_warehouses`), and prints one summary table.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
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
from datakit.errors import ExitCode

if TYPE_CHECKING:
    from datakit.config.project import Project
    from datakit.connectors import Destination
    from datakit.load.plan import LoadResult, Progress, ProgressCallback, ResourcePlan
    from datakit.orchestrate.executor import RunResult
    from datakit.orchestrate.run import TenantRun

app = typer.Typer(help="Run a pipeline or a job now.", no_args_is_help=True)


@app.command("pipeline")
def run_pipeline(
    name: Annotated[str, typer.Argument(help="Pipeline to run.")],
    resource: Annotated[
        list[str] | None, typer.Option("--resource", "-r", help="Only this resource (repeatable).")
    ] = None,
    full_refresh: Annotated[
        bool,
        typer.Option("--full-refresh", help="Drop and reload the targets, their cursors reset."),
    ] = False,
    warehouse: Annotated[
        str | None, typer.Option("--warehouse", "-w", help="Load as this warehouse (tenant).")
    ] = None,
    yes: YesOption = False,
    project: ProjectOption = None,
    environment: EnvironmentOption = None,
    as_json: JsonOption = False,
) -> None:
    """Load every resource of a pipeline (or the --resource ones); exit 1 if any of them failed."""
    from datakit.config import load_project
    from datakit.config.tenancy import tenant_context
    from datakit.load.resolve import plans_for
    from datakit.orchestrate.run import refuse_full_refresh

    loaded = load_project(state.project_dir(project), environment=environment)
    if full_refresh:
        refuse_full_refresh(loaded, yes)
    tenant = tenant_context(loaded, warehouse) if warehouse is not None else None
    destination, plans = plans_for(loaded, name, resources=resource or None, tenant=tenant)
    with destination.held():  # one connection for the pipeline's loads (each its own transaction)
        results = [_run_one(plan, destination, full_refresh, quiet=as_json) for plan in plans]
    if as_json:
        from datakit.cli.output import print_json

        print_json({"pipeline": name, "ok": _ok(results), "resources": [_as_dict(r) for r in results]})
    else:
        _print_summary(name, results)
    if not _ok(results):
        raise typer.Exit(int(ExitCode.INVALID))


@app.command("job")
def run_job(
    name: Annotated[str, typer.Argument(help="Job to run.")],
    resume: Annotated[
        int | None,
        typer.Option("--resume", help="Re-run only the failed and skipped steps of this run.", min=1),
    ] = None,
    retry_step: Annotated[
        str | None,
        typer.Option("--retry-step", help="With --resume: retry only this failed step of the run."),
    ] = None,
    allow_concurrent: Annotated[
        bool, typer.Option("--allow-concurrent", help="Start even if the job is already running.")
    ] = False,
    select: SelectOption = None,
    exclude: ExcludeOption = None,
    full_refresh: Annotated[
        bool,
        typer.Option(
            "--full-refresh",
            help="Drop and reload the (selected) bronze tables, reset their cursors, and rebuild the "
            "(selected) dbt models from scratch.",
        ),
    ] = False,
    yes: YesOption = False,
    warehouse: Annotated[
        str | None,
        typer.Option(
            "--warehouse",
            "-w",
            help="Run as this warehouse (tenant), or `all` for every one listing the job.",
        ),
    ] = None,
    max_parallelism: Annotated[
        int, typer.Option("--max-parallelism", min=1, help="With --warehouse all: warehouses at once.")
    ] = 2,
    project: ProjectOption = None,
    environment: EnvironmentOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run a job's plan now (execution mode, retries, timeouts); exit 1 if the run failed."""
    from datakit.config import load_project
    from datakit.config.tenancy import ALL
    from datakit.orchestrate.run import run_job as run

    loaded = load_project(state.project_dir(project), environment=environment)
    if retry_step is not None and resume is None:
        from datakit.errors import UsageError

        raise UsageError("--retry-step retries a step of a run", hint="give the run with --resume RUN")
    if warehouse == ALL:
        if resume is not None:
            from datakit.errors import UsageError

            raise UsageError("--resume resumes one run", hint="give the run's --warehouse instead of `all`")
        _run_everywhere(
            loaded,
            name,
            max_parallelism,
            allow_concurrent,
            full_refresh,
            as_json,
            select=select or [],
            exclude=exclude or [],
            confirmed=yes,
        )
        return
    result = run(
        loaded,
        name,
        warehouse=warehouse,
        allow_concurrent=allow_concurrent,
        resume=resume,
        full_refresh=full_refresh,
        only=retry_step,
        select=select or [],
        exclude=exclude or [],
        confirmed=yes,
    )
    if as_json:
        from datakit.cli.output import print_json

        print_json(_run_dict(result))
    else:
        _print_run(result)
    if not result.ok:
        raise typer.Exit(int(ExitCode.INVALID))


def _run_dict(result: RunResult) -> dict[str, object]:
    return {
        "run_id": result.run_id,
        "job": result.job,
        "warehouse": result.warehouse,
        "status": result.status.value,
        "steps": {step: status.value for step, status in result.steps.items()},
        "errors": result.errors,
        "resume": result.resume_command,
    }


def _run_everywhere(
    project: Project,
    job: str,
    max_parallelism: int,
    allow_concurrent: bool,
    full_refresh: bool,
    as_json: bool,
    *,
    select: list[str],
    exclude: list[str],
    confirmed: bool,
) -> None:
    """`--warehouse all`: every tenant's run, then one summary; exit 1 if any of them failed."""
    from datakit.orchestrate.run import run_job_for_warehouses

    runs = run_job_for_warehouses(
        project,
        job,
        max_parallelism=max_parallelism,
        allow_concurrent=allow_concurrent,
        full_refresh=full_refresh,
        select=select,
        exclude=exclude,
        confirmed=confirmed,
    )
    if as_json:
        from datakit.cli.output import print_json

        print_json(
            {
                "job": job,
                "ok": all(r.ok for r in runs),
                "runs": [
                    {
                        "warehouse": r.warehouse,
                        "seconds": round(r.seconds, 3),
                        "failed_steps": r.failed_steps,
                        "error": r.error,
                        **({"run": _run_dict(r.result)} if r.result is not None else {}),
                    }
                    for r in runs
                ],
            }
        )
    else:
        _print_tenant_runs(job, runs)
    if not all(r.ok for r in runs):
        raise typer.Exit(int(ExitCode.INVALID))


def _print_tenant_runs(job: str, runs: list[TenantRun]) -> None:
    from rich.markup import escape
    from rich.table import Table

    from datakit.cli.output import console, error, say

    table = Table(title=f"job {job} in {len(runs)} warehouses")
    for column, justify in (
        ("warehouse", "left"),
        ("run", "right"),
        ("status", "left"),
        ("seconds", "right"),
        ("failed steps", "left"),
    ):
        table.add_column(column, justify=justify, no_wrap=column != "failed steps")  # type: ignore[arg-type]
    for r in runs:
        status = r.result.status.value if r.result is not None else "not started"
        table.add_row(
            escape(r.warehouse),
            str(r.result.run_id) if r.result is not None else "-",
            f"[green]{status}[/green]" if r.ok else f"[red]{status}[/red]",
            f"{r.seconds:.2f}",
            escape(", ".join(r.failed_steps)) or "-",
        )
    console.print(table)
    for r in runs:
        if r.error:
            error(f"{r.warehouse}: {r.error}")
        elif r.result is not None and not r.result.ok:
            for step, message in r.result.errors.items():
                error(f"{r.warehouse}: {step}: {message}")
            say(f"resume {r.warehouse} with: {r.result.resume_command}")
    failed = [r for r in runs if not r.ok]
    if failed:
        say(f"✗ {len(failed)} of {len(runs)} warehouses failed", "red")
    else:
        say(f"✓ job {job} succeeded in {len(runs)} warehouses", "green")


def _print_run(result: RunResult) -> None:
    from datakit.cli.output import error, say

    for step, status in result.steps.items():
        mark = {"succeeded": "✓", "reused": "=", "failed": "✗", "skipped": "-"}.get(status.value, "?")
        say(f"{mark} {step}: {status.value}", "red" if status.value == "failed" else None)
    for step, message in result.errors.items():
        error(f"{step}: {message}")
    where = f" in warehouse {result.warehouse}" if result.warehouse else ""
    if result.ok:
        say(f"✓ run {result.run_id} of job {result.job}{where} succeeded", "green")
    else:
        say(f"✗ run {result.run_id} of job {result.job}{where} failed", "red")
        say(f"resume with: {result.resume_command}")
        say(f"details: datakit runs show {result.run_id}")


def _ok(results: list[LoadResult]) -> bool:
    return all(result.status == "succeeded" for result in results)


def _run_one(plan: ResourcePlan, destination: Destination, full_refresh: bool, *, quiet: bool) -> LoadResult:
    from datakit.errors import DatakitError
    from datakit.load.loader import load_resource
    from datakit.load.plan import LoadResult, RunOptions

    started = datetime.now(UTC)
    with _progress(plan, quiet=quiet) as report:
        try:
            return load_resource(
                plan,
                destination,
                RunOptions(full_refresh=full_refresh, progress=report),
            )
        except DatakitError as exc:
            return LoadResult(
                load_id="",
                pipeline=plan.pipeline,
                resource=plan.resource,
                target=str(plan.target),
                status="failed",
                rows_read=0,
                rows_loaded=0,
                rows_rejected=0,
                started_at=started,
                finished_at=datetime.now(UTC),
                error=str(exc),
            )


@contextmanager
def _progress(plan: ResourcePlan, *, quiet: bool) -> Iterator[ProgressCallback | None]:
    """A live bar (rows, rows/s) on a terminal; one line at start and end otherwise; nothing for --json."""
    from datakit.cli.output import err_console

    if quiet:
        yield None
        return
    label = f"{plan.resource} → {plan.target}"
    if not err_console.is_terminal:
        err_console.print(f"loading {label} ...", markup=False, highlight=False)
        yield None
        return
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    started = time.monotonic()
    bar = Bar(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f} rows"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    task = bar.add_task(label, total=None, rate="")

    def report(progress: Progress) -> None:
        elapsed = max(time.monotonic() - started, 1e-6)
        bar.update(
            task,
            completed=progress.rows_read,
            total=progress.total,
            rate=f"{progress.rows_read / elapsed:,.0f} rows/s",
        )

    with bar:
        yield report


def _as_dict(result: LoadResult) -> dict[str, object]:
    return {
        "resource": result.resource,
        "target": result.target,
        "status": result.status,
        "load_id": result.load_id,
        "rows_read": result.rows_read,
        "rows_loaded": result.rows_loaded,
        "rows_rejected": result.rows_rejected,
        "seconds": round((result.finished_at - result.started_at).total_seconds(), 3),
        "cursor": result.cursor,
        "schema_changes": list(result.schema_changes),
        "error": result.error,
    }


def _print_summary(pipeline: str, results: list[LoadResult]) -> None:
    from rich.table import Table

    from datakit.cli.output import console, error, say
    from datakit.log import redact

    schemas = sorted({r.target.rpartition(".")[0] for r in results if "." in r.target})
    table = Table(title=f"pipeline {pipeline}" + (f" → {', '.join(schemas)}" if schemas else ""))
    for column, justify in (
        ("table", "left"),
        ("read", "right"),
        ("loaded", "right"),
        ("rejected", "right"),
        ("seconds", "right"),
        ("schema changes", "left"),
        ("status", "left"),
    ):
        table.add_column(column, justify=justify, no_wrap=column != "schema changes")  # type: ignore[arg-type]
    for result in results:
        seconds = (result.finished_at - result.started_at).total_seconds()
        table.add_row(
            result.target.rpartition(".")[2],
            f"{result.rows_read:,}",
            f"{result.rows_loaded:,}",
            f"{result.rows_rejected:,}",
            f"{seconds:.2f}",
            "\n".join(result.schema_changes),
            "[green]ok[/green]" if result.status == "succeeded" else "[red]failed[/red]",
        )
    console.print(table)
    for result in results:
        if result.error:
            error(f"{result.resource}: {redact(result.error)}")
    failed = [r for r in results if r.status != "succeeded"]
    if failed:
        say(f"✗ {len(failed)} of {len(results)} resources failed", "red")
    else:
        say(f"✓ {len(results)} resources loaded", "green")
