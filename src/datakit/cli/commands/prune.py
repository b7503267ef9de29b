"""`datakit runs prune`: the run history's retention applied by hand — what it removed, in a table."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer

from datakit.cli.state import EnvironmentOption, JsonOption, ProjectOption, state

if TYPE_CHECKING:
    from datakit.config.project import Project
    from datakit.orchestrate.retention import PruneReport
    from datakit.orchestrate.store import StateStore


def prune_runs(
    older_than: Annotated[
        str | None,
        typer.Option("--older-than", help="Remove runs that started longer ago than this (e.g. 7d, 12h)."),
    ] = None,
    keep: Annotated[
        int | None, typer.Option("--keep", min=1, help="Keep the newest N runs of each job (and warehouse).")
    ] = None,
    job: Annotated[list[str] | None, typer.Option("--job", "-j", help="Only runs of this job.")] = None,
    audit_older_than: Annotated[
        str | None,
        typer.Option(
            "--audit-older-than",
            help="Remove audit log entries older than this (default: retention.audit_max_age, 365d).",
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would go; remove nothing.")] = False,
    project: ProjectOption = None,
    environment: EnvironmentOption = None,
    as_json: JsonOption = False,
) -> None:
    """Remove old runs (with their steps, attempts and logs), spent trigger ticks, expired webhook ids
    and old audit log entries.

    Without --older-than/--keep, the retention of datakit.yaml (and of each job) applies; with either,
    exactly the limits given apply to every job. The newest run of each job, active runs and the runs
    that a kept run resumes always stay. The audit log keeps its own limit (retention.audit_max_age,
    or --audit-older-than).
    """
    from datakit.orchestrate.retention import given_policy, project_policy, prune
    from datakit.orchestrate.store import open_store

    loaded = _project(project, environment)
    age = _duration("--older-than", older_than)
    declared = project_policy(loaded)
    audit_age = _duration("--audit-older-than", audit_older_than)
    audit = declared.audit_max_age if audit_age is None else audit_age.total_seconds()
    if age is None and keep is None:
        policy = replace(declared, audit_max_age=audit)
    else:
        policy = given_policy(age, keep, audit)
    store = open_store(loaded)
    try:
        jobs = [_job_name(loaded, store, ref) for ref in job] if job else None
        report = prune(store, policy, root=loaded.root, jobs=jobs, dry_run=dry_run)
    finally:
        store.close()
    if as_json:
        from datakit.cli.output import print_json

        print_json(_report_dict(report))
        return
    _print_report(report)


def _duration(option: str, value: str | None) -> timedelta | None:
    from datakit.config.models.common import parse_duration
    from datakit.errors import UsageError

    if value is None:
        return None
    try:
        parsed = parse_duration(value)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}", hint="e.g. 90m, 12h, 7d, 2w") from None
    if not isinstance(parsed, timedelta) or parsed.total_seconds() <= 0:
        raise UsageError(f"{option}: {value!r} is not a positive duration", hint="e.g. 90m, 12h, 7d, 2w")
    return parsed


def _job_name(project: Project, store: StateStore, ref: str) -> str:
    """A job of the project, or one that only the history still knows (its file was deleted)."""
    name = project.resolve_name("job", ref)
    if name is not None or store.list_runs(job=ref, limit=1):
        return name or ref
    project.job(ref)  # raises: unknown job, with a did-you-mean
    return ref


def _report_dict(report: PruneReport) -> dict[str, Any]:
    removed = report.removed
    return {
        "dry_run": report.dry_run,
        "runs": [
            {"id": r.id, "job": r.job, "warehouse": r.warehouse, "status": r.status, "reason": r.reason}
            for r in report.runs
        ],
        "removed": {
            "runs": removed.runs,
            "steps": removed.steps,
            "attempts": removed.attempts,
            "log_bytes": removed.log_bytes,
        },
        "ticks": report.ticks,
        "deliveries": report.deliveries,
        "live_log_folders": report.live_logs,
        "audit_entries": report.audit,
        "audit_max_age_s": report.audit_max_age,
        "store_bytes_before": report.size_before,
        "store_bytes_after": report.size_after,
    }


def _print_report(report: PruneReport) -> None:
    """One row per job and warehouse: how many runs went, which ids, how old; then the totals."""
    from rich.table import Table

    from datakit.cli.output import console, say
    from datakit.orchestrate.retention import summary

    if report.nothing:
        say("nothing to prune" + (" (dry run)" if report.dry_run else ""))
        return
    groups: dict[tuple[str, str | None], list[Any]] = {}
    for run in report.runs:
        groups.setdefault((run.job, run.warehouse), []).append(run)
    if groups:
        table = Table(title="would remove" if report.dry_run else "removed")
        for column in ("job", "warehouse", "runs", "ids", "started (UTC)", "why"):
            table.add_column(column, no_wrap=True)
        for (name, warehouse), runs in sorted(
            groups.items(), key=lambda item: (item[0][0], item[0][1] or "")
        ):
            ids = id_ranges([run.id for run in runs])
            started = f"{_when(runs[0].started_at)} – {_when(runs[-1].started_at)}"
            why = ", ".join(sorted({run.reason for run in runs}))
            table.add_row(name, warehouse or "-", str(len(runs)), ids, started, why)
        console.print(table)
    say(("dry run: " if report.dry_run else "") + summary(report))


def id_ranges(ids: list[int], most: int = 6) -> str:
    """`1–3, 7, 9–12`: sorted ids with consecutive ones joined, at most `most` parts then `…`."""
    parts: list[str] = []
    start = previous = None
    for run_id in [*sorted(ids), None]:
        if run_id is not None and previous is not None and run_id == previous + 1:
            previous = run_id
            continue
        if start is not None:
            parts.append(str(start) if start == previous else f"{start}–{previous}")
        start = previous = run_id
    return ", ".join(parts[:most]) + (", …" if len(parts) > most else "")


def _project(project: ProjectOption, environment: EnvironmentOption) -> Project:
    from datakit.config import load_project

    return load_project(state.project_dir(project), environment=environment)


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")
