"""`datakit plan job <name>`: the steps a job would run, without running anything.

With `--select`/`--exclude`, the part of the job they choose: each step with why it was chosen, and
for a dbt step narrowed to part of its nodes, those nodes (with why).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from datakit.cli.state import EnvironmentOption, ExcludeOption, JsonOption, ProjectOption, SelectOption, state

if TYPE_CHECKING:
    from datakit.orchestrate.plan import Plan

app = typer.Typer(help="Show what would run.", no_args_is_help=True)


@app.command("job")
def plan_job(
    name: Annotated[str, typer.Argument(help="Job to plan.")],
    warehouse: Annotated[
        str | None, typer.Option("--warehouse", "-w", help="Plan it as this warehouse (tenant).")
    ] = None,
    select: SelectOption = None,
    exclude: ExcludeOption = None,
    project: ProjectOption = None,
    environment: EnvironmentOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print the plan of a job: its steps, their dependencies, retry policy and timeout (and, with
    --select/--exclude, why each step is in it)."""
    from datakit.config import load_project
    from datakit.orchestrate.grouping import group_loads
    from datakit.orchestrate.plan import compile_job

    loaded = load_project(state.project_dir(project), environment=environment)
    if select or exclude:
        from datakit.orchestrate.selection import selected_job

        plan = selected_job(loaded, name, warehouse, select or [], exclude or [])
    else:
        plan = compile_job(loaded, name, warehouse)
    plan = group_loads(loaded, plan)  # as `datakit run job` runs it
    if as_json:
        from datakit.cli.output import print_json

        print_json(plan.as_dict())
    else:
        _print(plan)


def _print(plan: Plan) -> None:
    from rich.markup import escape
    from rich.table import Table

    from datakit.cli.output import console

    mode = f"{plan.mode}, up to {plan.parallelism} at once"
    failure = "continue on failure" if plan.continue_on_failure else "stop at first failure"
    where = f" in warehouse {plan.warehouse}" if plan.warehouse else ""
    selection = plan.selection
    chosen = f"; --select {' '.join(selection.select) or '(all)'}" if selection is not None else ""
    if selection is not None and selection.exclude:
        chosen += f" --exclude {' '.join(selection.exclude)}"
    table = Table(title=escape(f"job {plan.job}{where} ({mode}; {failure}{chosen})"))
    columns = ["#", "step", "kind", "depends on", "tries", "retry", "timeout"]
    if selection is not None:
        columns.append("why")
    for column in columns:
        wraps = column in ("depends on", "why")
        table.add_column(column, no_wrap=not wraps, overflow="fold", min_width=15 if wraps else None)
    for position, step in enumerate(plan.steps, start=1):
        retry = step.retry
        delay = f"{retry.retry_delay:g}s" + (" exp." if retry.exponential_backoff else "")
        row = [
            str(position),
            escape(step.id),
            step.kind,
            escape(", ".join(_compact(plan, step.depends_on))) or "-",
            str(retry.max_attempts),
            delay if retry.max_attempts > 1 else "-",
            f"{step.timeout:g}s" if step.timeout is not None else "-",
        ]
        if selection is not None:
            row.append(escape(selection.steps.get(step.id, "")))
        table.add_row(*row)
    console.print(table)
    if selection is not None:
        for step_id, nodes in selection.nodes.items():
            console.print(f"dbt step {escape(step_id)} runs {len(nodes)} node(s):", highlight=False)
            for unique_id, why in sorted(nodes.items(), key=lambda item: selection.labels.get(item[0], "")):
                label = selection.labels.get(unique_id, unique_id)
                console.print(f"  {escape(label)}  [dim]{escape(why)}[/dim]", highlight=False)


def _compact(plan: Plan, depends_on: tuple[str, ...]) -> list[str]:
    """`pagila_bronze.*` for "every resource of pipeline pagila_bronze", so wide fan-ins stay readable."""
    from datakit.orchestrate.stepkinds import LoadStep

    by_pipeline: dict[str, set[str]] = {}
    for step in plan.steps:
        if isinstance(step, LoadStep):
            by_pipeline.setdefault(step.params.pipeline, set()).add(step.id)
    wanted = set(depends_on)
    shown: list[str] = []
    for pipeline, ids in by_pipeline.items():
        if len(ids) > 1 and ids <= wanted:
            shown.append(f"{pipeline}.*")
            wanted -= ids
    return shown + [d for d in depends_on if d in wanted]
