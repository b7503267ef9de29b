"""`datakit run pipeline` and `datakit run job`: run now, with progress or step results and a summary.

`run pipeline` loads in this process (progress bars); `run job` runs the job's plan through the local
executor (`datakit.orchestrate.run.run_job`): steps in child processes, recorded in the run history.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from datakit.cli.state import EnvironmentOption, JsonOption, ProjectOption, state
from datakit.errors import ExitCode

if TYPE_CHECKING:
    from datakit.connectors import Destination
    from datakit.load.plan import LoadResult, Progress, ProgressCallback, ResourcePlan
    from datakit.orchestrate.executor import RunResult

app = typer.Typer(help="Run a pipeline or a job now.", no_args_is_help=True)


@app.command("pipeline")
def run_pipeline(
    name: Annotated[str, typer.Argument(help="Pipeline to run.")],
    resource: Annotated[
        list[str] | None, typer.Option("--resource", "-r", help="Only this resource (repeatable).")
    ] = None,
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="Ignore saved cursors and replace the targets.")
    ] = False,
    project: ProjectOption = None,
    environment: EnvironmentOption = None,
    as_json: JsonOption = False,
) -> None:
    """Load every resource of a pipeline (or the --resource ones); exit 1 if any of them failed."""
    from datakit.config import load_project
    from datakit.load.resolve import plans_for

    loaded = load_project(state.project_dir(project), environment=environment)
    destination, plans = plans_for(loaded, name, resources=resource or None)
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
    allow_concurrent: Annotated[
        bool, typer.Option("--allow-concurrent", help="Start even if the job is already running.")
    ] = False,
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="Ignore saved cursors and replace the targets.")
    ] = False,
    project: ProjectOption = None,
    environment: EnvironmentOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run a job's plan now (execution mode, retries, timeouts); exit 1 if the run failed."""
    from datakit.config import load_project
    from datakit.orchestrate.run import run_job as run

    loaded = load_project(state.project_dir(project), environment=environment)
    result = run(loaded, name, allow_concurrent=allow_concurrent, resume=resume, full_refresh=full_refresh)
    if as_json:
        from datakit.cli.output import print_json

        print_json(
            {
                "run_id": result.run_id,
                "job": result.job,
                "status": result.status.value,
                "steps": {step: status.value for step, status in result.steps.items()},
                "errors": result.errors,
                "resume": result.resume_command,
            }
        )
    else:
        _print_run(result)
    if not result.ok:
        raise typer.Exit(int(ExitCode.INVALID))


def _print_run(result: RunResult) -> None:
    from datakit.cli.output import error, say

    for step, status in result.steps.items():
        mark = {"succeeded": "✓", "reused": "=", "failed": "✗", "skipped": "-"}.get(status.value, "?")
        say(f"{mark} {step}: {status.value}", "red" if status.value == "failed" else None)
    for step, message in result.errors.items():
        error(f"{step}: {message}")
    if result.ok:
        say(f"✓ run {result.run_id} of job {result.job} succeeded", "green")
    else:
        say(f"✗ run {result.run_id} of job {result.job} failed", "red")
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
