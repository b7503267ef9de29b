"""Which plan a Prefect flow run carries out: the job's, narrowed to a selection, or a backfill of it.

The flow's parameters say it as `datakit run job` and `datakit backfill job` options do — `select` and
`exclude` (dbt's grammar), `resume` (a run's id), and a backfill window (`backfill_start`,
`backfill_end`, `backfill_chunk`, `backfill_max_parallelism`) — and the plan is made by the same
functions (`plan_for_run`, `compile_backfill`), so a selection or a window means the same under every
engine and is refused with the same message. `datakit prefect run job` and `deploy` make the plan once
before anything starts, so a bad selector is refused in the terminal, not in a flow run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from datakit.errors import UsageError

if TYPE_CHECKING:
    from datakit.config.project import Project
    from datakit.orchestrate.plan import Plan
    from datakit.orchestrate.store import StateStore


@dataclass(frozen=True)
class FlowOptions:
    """What one flow run does, besides which job for which warehouse (the flow's parameters)."""

    select: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    resume: int | None = None
    backfill_start: str | None = None
    backfill_end: str | None = None
    backfill_chunk: str | None = None
    backfill_max_parallelism: int = 1

    @property
    def backfill(self) -> bool:
        return self.backfill_start is not None or self.backfill_end is not None

    def parameters(self) -> dict[str, Any]:
        """The flow parameters that differ from the flow's defaults (a deployment's, a run's)."""
        given: dict[str, Any] = {}
        if self.select:
            given["select"] = list(self.select)
        if self.exclude:
            given["exclude"] = list(self.exclude)
        if self.backfill:
            given.update(backfill_start=self.backfill_start, backfill_end=self.backfill_end)
            if self.backfill_chunk is not None:
                given["backfill_chunk"] = self.backfill_chunk
            if self.backfill_max_parallelism != 1:
                given["backfill_max_parallelism"] = self.backfill_max_parallelism
        return given


def options(
    select: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    resume: int | None = None,
    backfill_start: str | None = None,
    backfill_end: str | None = None,
    backfill_chunk: str | None = None,
    backfill_max_parallelism: int = 1,
) -> FlowOptions:
    """`FlowOptions` from parameters as Prefect hands them over (lists, or None)."""
    return FlowOptions(
        tuple(select or ()),
        tuple(exclude or ()),
        resume,
        backfill_start,
        backfill_end,
        backfill_chunk,
        backfill_max_parallelism,
    )


def check_plans(project: Project, targets: Sequence[tuple[str | None, str]], chosen: FlowOptions) -> None:
    """Make the plan of each (warehouse, job) with `chosen` once: its UsageError before any deployment
    is made (nothing to make when nothing is chosen)."""
    if chosen == FlowOptions():
        return
    from datakit.orchestrate.store import open_store

    store = open_store(project)
    try:
        for warehouse, job in targets:
            flow_plan(project, job, warehouse, chosen, store)
    finally:
        store.close()


def flow_plan(
    project: Project, job: str, warehouse: str | None, chosen: FlowOptions, store: StateStore
) -> Plan:
    """The plan of a flow run of `job` for `warehouse` with `chosen` options; a UsageError (the CLI's
    message) for a bad selector, an empty selection or a bad window."""
    if not chosen.backfill:
        from datakit.orchestrate.run import plan_for_run

        return plan_for_run(project, job, warehouse, chosen.resume, chosen.select, chosen.exclude, store)
    if chosen.backfill_start is None or chosen.backfill_end is None:
        raise UsageError(
            "a backfill needs both --start and --end", hint="e.g. --start 2026-01-01 --end 2026-02-01"
        )
    if chosen.resume is not None:
        raise UsageError(
            "--resume resumes a backfill run as it was", hint="leave out --start/--end with --resume"
        )
    from datakit.orchestrate.backfill import compile_backfill

    return compile_backfill(
        project,
        "job",
        job,
        chosen.backfill_start,
        chosen.backfill_end,
        chosen.backfill_chunk,
        warehouse=warehouse,
        select=chosen.select,
        exclude=chosen.exclude,
        max_parallelism=chosen.backfill_max_parallelism,
    )
