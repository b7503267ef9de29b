"""`datakit runs`: the run history — recent runs, and one run's steps, attempts and logs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from datakit.cli.commands.prune import prune_runs
from datakit.cli.state import EnvironmentOption, JsonOption, ProjectOption, state

if TYPE_CHECKING:
    from datakit.config.project import Project
    from datakit.orchestrate.store import RunRecord, StepRecord

app = typer.Typer(help="Run history.", invoke_without_command=True)
app.command("prune")(prune_runs)


@app.callback()
def list_runs(
    ctx: typer.Context,
    job: Annotated[str | None, typer.Option("--job", "-j", help="Only runs of this job.")] = None,
    status: Annotated[
        str | None,
        typer.Option("--status", "-s", help="queued, running, succeeded, failed, abandoned or cancelled."),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option("--engine", "-e", help="Only runs one engine executed: local, airflow, prefect."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many runs (latest first).")] = 20,
    project: ProjectOption = None,
    environment: EnvironmentOption = None,
    as_json: JsonOption = False,
) -> None:
    """List recent runs (latest first); `datakit runs show <id>` for one run's steps and logs."""
    if ctx.invoked_subcommand is not None:
        return
    from datakit.errors import UsageError
    from datakit.orchestrate.store import RunStatus, open_store

    if status is not None and status not in {s.value for s in RunStatus}:
        raise UsageError(
            f"unknown status {status!r}", hint=f"one of: {', '.join(s.value for s in RunStatus)}"
        )
    store = open_store(_project(project, environment))
    try:
        runs = store.list_runs(job=job, status=status, engine=engine, limit=limit)
    finally:
        store.close()
    if as_json:
        from datakit.cli.output import print_json

        print_json([_as_dict(run) for run in runs])
        return
    _print_runs(runs)


@app.command("show")
def show_run(
    run_id: Annotated[int, typer.Argument(help="Run id (from `datakit runs`).")],
    logs: Annotated[
        bool, typer.Option("--logs", help="Print each attempt's whole log (with --json: include them).")
    ] = False,
    project: ProjectOption = None,
    environment: EnvironmentOption = None,
    as_json: JsonOption = False,
) -> None:
    """One run: its steps with rows, durations, attempts and errors."""
    from datakit.orchestrate.store import open_store

    store = open_store(_project(project, environment))
    try:
        run = store.get_run(run_id, full_logs=logs)
    finally:
        store.close()
    if as_json:
        from datakit.cli.output import print_json

        print_json(_as_dict(run))
        return
    _print_run(run, logs=logs)


@app.command("cancel")
def cancel(
    run_id: Annotated[int, typer.Argument(help="Run id (from `datakit runs`).")],
    project: ProjectOption = None,
    environment: EnvironmentOption = None,
) -> None:
    """Cancel a running run: its executor, in whichever process runs it, kills its steps within a second
    or so and records it `cancelled`. A Prefect flow run is cancelled through Prefect's API; an Airflow
    DAG run is refused with how to stop it in Airflow. Written to the audit log."""
    from datakit.cli.output import say
    from datakit.integrations.cancel import cancel_in_engine
    from datakit.orchestrate.actions import cancel_run, cli_actor
    from datakit.orchestrate.store import open_store

    store = open_store(_project(project, environment))
    try:
        cancel_run(store, run_id, cli_actor(), engine_cancel=cancel_in_engine)
    finally:
        store.close()
    say(f"✓ run {run_id}: cancel requested (its steps stop within a few seconds)", "green")


def _project(project: ProjectOption, environment: EnvironmentOption) -> Project:
    from datakit.config import load_project

    return load_project(state.project_dir(project), environment=environment)


def _as_dict(run: RunRecord) -> dict[str, Any]:
    """The run as JSON, with the SLA it was held to (from its plan) next to `sla_missed_at`."""
    return {**run.as_dict(), "sla_seconds": _sla(run)}


def _sla(run: RunRecord) -> float | None:
    """The SLA (seconds) of the run's plan; None for no SLA, or a plan recorded before SLAs existed."""
    try:
        plan = json.loads(run.plan)
    except ValueError:
        return None
    sla = plan.get("sla") if isinstance(plan, dict) else None
    return float(sla) if isinstance(sla, int | float) else None


def _sla_mark(run: RunRecord) -> str:
    """`missed`, `met` (finished within its SLA), or `-` (no SLA, or still within it)."""
    if run.sla_missed_at is not None:
        return "[red]missed[/red]"
    return "met" if run.finished_at is not None and _sla(run) is not None else "-"


def _when(epoch: float | None) -> str:
    return "-" if epoch is None else datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


_STYLE = {
    "succeeded": "green",
    "failed": "red",
    "abandoned": "red",
    "cancelled": "red",
    "running": "yellow",
    "skipped": "yellow",
}


def _styled(status: str) -> str:
    style = _STYLE.get(status)
    return f"[{style}]{status}[/{style}]" if style else status


def _print_runs(runs: list[RunRecord]) -> None:
    from rich.table import Table

    from datakit.cli.output import console, say

    if not runs:
        say("no runs recorded")
        return
    table = Table()
    for column in (
        "run",
        "job",
        "warehouse",
        "engine",
        "status",
        "started (UTC)",
        "seconds",
        "sla",
        "resumed from",
    ):
        table.add_column(column, no_wrap=True)
    for run in runs:
        table.add_row(
            str(run.id),
            run.job,
            run.warehouse or "-",
            run.engine,
            _styled(run.status),
            _when(run.started_at),
            _seconds(run.duration),
            _sla_mark(run),
            str(run.resumed_from or "-"),
        )
    console.print(table)


def _print_run(run: RunRecord, *, logs: bool) -> None:
    from rich.table import Table
    from rich.text import Text

    from datakit.cli.output import console, error, say

    where = f" in warehouse {run.warehouse}" if run.warehouse else ""
    process = f"host {run.host}" + ("" if run.detached else f", pid {run.pid}")
    say(
        f"run {run.id} of job {run.job}{where}: {run.status} (started {_when(run.started_at)} UTC, "
        f"{_seconds(run.duration)} s, {process})"
    )
    if run.external_id is not None:
        link = f" — {run.external_url}" if run.external_url else ""
        say(f"executed by {run.engine}: {run.external_id}{link}")
    if run.sla_missed_at is not None:
        from datakit.orchestrate.notify import sla_text

        sla = _sla(run)
        held_to = "" if sla is None else f" (sla {sla_text(sla)})"
        say(f"SLA missed at {_when(run.sla_missed_at)} UTC{held_to}", style="red")
    table = Table()
    for column, justify in (
        ("step", "left"),
        ("status", "left"),
        ("attempts", "right"),
        ("read", "right"),
        ("loaded", "right"),
        ("rejected", "right"),
        ("seconds", "right"),
    ):
        table.add_column(column, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for step in run.steps:
        table.add_row(
            step.step_id,
            _styled(step.status),
            str(step.attempts),
            *("-" if n is None else f"{n:,}" for n in (step.rows_read, step.rows_loaded, step.rows_rejected)),
            _seconds(step.duration),
        )
    console.print(table)
    for step in run.steps:
        for line, style in _details_lines(step):
            say(line, style=style)
    for step in run.steps:
        for attempt in step.attempt_records:
            if attempt.error:
                retry = f" (retry in {attempt.retry_in:.1f}s)" if attempt.retry_in is not None else ""
                error(f"{step.step_id} attempt {attempt.attempt}: {attempt.error}{retry}")
            if logs and attempt.log:
                say(f"--- log of {step.step_id} attempt {attempt.attempt} ---")
                console.print(Text(attempt.log.rstrip()))
    if run.error:
        error(run.error)
    if run.status in {"failed", "abandoned", "cancelled"}:
        tenant = f" --warehouse {run.warehouse}" if run.warehouse else ""
        say(f"resume with: datakit run job {run.job}{tenant} --resume {run.id}")


def _details_lines(step: StepRecord) -> list[tuple[str, str | None]]:
    """What a dbt or checks step found, in a few lines: counts by status, then each failure."""
    details = step.details or {}
    lines: list[tuple[str, str | None]] = []
    if isinstance(details.get("nodes"), list):
        nodes = details["nodes"]
        counts: dict[str, int] = {}
        for node in nodes:
            counts[str(node.get("status"))] = counts.get(str(node.get("status")), 0) + 1
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        lines.append((f"{step.step_id}: dbt, {len(nodes)} nodes ({summary})", None))
        for node in nodes:
            if node.get("status") in ("error", "fail", "runtime error"):
                lines.append(
                    (f"  ✗ {node.get('unique_id')}: {node.get('message') or node.get('status')}", "red")
                )
    if isinstance(details.get("checks"), list):
        checks = details["checks"]
        passed = sum(1 for c in checks if c.get("status") == "passed")
        lines.append((f"{step.step_id}: {passed} of {len(checks)} checks passed", None))
        for check in checks:
            if check.get("status") != "passed":
                style = "red" if check.get("severity") == "error" else "yellow"
                lines.append(
                    (f"  ✗ {check.get('summary') or check.get('name')} [{check.get('severity')}]", style)
                )
    return lines
