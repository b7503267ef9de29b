"""A job -> a plan: the steps to run, their order, dependencies, retry policy and timeout.

A plan is plain data, decided from the configuration alone (no connection is opened), so `datakit plan
job` is instant and every executor — the local one (`executor`), Airflow's compiled DAG files
(`datakit.integrations.airflow`), Prefect next — runs the same plan without reading YAML again
(DESIGN.md 3.4). Its steps are typed (`stepkinds`) and travel in one form (`step_data`).

One step per pipeline *resource*, not per pipeline: a resource load is the loader's unit of atomicity
(one destination transaction), so it is also the natural unit to retry, time out and resume — a failed
`orders` load is retried or resumed alone while `customers`, already committed, is left in peace. (A job
may group a pipeline's small resources into one step — `group_resources` — which the local executor's
plan does after selection: `datakit.orchestrate.grouping`.)
A pipeline's `depends_on` therefore becomes "every resource of A waits for every resource of B". Each
entry of the job's `steps:` (a dbt invocation, a check suite) is one step.

Modes: `sequential` runs steps one at a time by `order` (ties: the job's pipelines before its `steps:`,
each in file order, a pipeline's resources in resource order); `parallel` runs them up to
`max_parallelism` at once, ignoring `depends_on`; `dag` honours `depends_on` (a disabled dependency is
not waited for) and runs independent steps in parallel up to the limit.

Steps writing into one DuckDB file share an `exclusive` key: DuckDB allows one writing process per file,
so the local executor never runs two of them at once (whatever the mode's parallelism), and Airflow
compilation chains them.

A plan for a warehouse (tenant) is the same plan with the warehouse's name in `Plan.warehouse` and in
every step's parameters (`params.warehouse`): a step function (in a child process, or an Airflow task
through `run_step_here`) re-derives the tenant's destination, schemas and secrets from that name and the
project (`datakit.config.tenancy`), never from anything else in the plan. dbt and checks steps name
the tenant's destination already (so `exclusive` keys and `datakit plan` show where they really run).
A warehouse may run only the jobs it lists, and a job whose configs read warehouse variables
(`${var.NAME}`) runs only for a warehouse.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from datakit.config.models.jobs import JobPipeline, JobStep
from datakit.config.references import dbt_destinations
from datakit.config.tenancy import Tenant, tenant_context, tenants_running, warehouse_variables_used
from datakit.errors import DatakitError
from datakit.orchestrate.stepkinds import (
    ChecksParams,
    ChecksStep,
    DbtParams,
    DbtStep,
    LoadParams,
    LoadStep,
    RetryPolicy,
    Step,
    step_data,
    step_from_data,
)
from datakit.utils.dag import DAG

if TYPE_CHECKING:
    from datakit.config.models.jobs import Job
    from datakit.config.project import Project

Mode = Literal["sequential", "parallel", "dag"]


@dataclass(frozen=True)
class Selection:
    """What `--select`/`--exclude` kept of a job's plan, and why (`datakit.orchestrate.selection`).

    Kept with the plan in run history: `state:failed` reads which dbt nodes a selected run ran, and a
    resumed run re-runs the same selection.
    """

    select: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    steps: Mapping[str, str] = field(default_factory=dict)
    """Step id -> why it is in the plan."""
    nodes: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """dbt step id -> {unique id of each node it runs: why}, for the dbt steps narrowed to part of theirs."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """dbt unique id -> how it is shown (`silver.customer`)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "select": list(self.select),
            "exclude": list(self.exclude),
            "steps": dict(self.steps),
            "nodes": {step: dict(nodes) for step, nodes in self.nodes.items()},
            "labels": dict(self.labels),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Selection:
        return cls(
            select=tuple(data.get("select", ())),
            exclude=tuple(data.get("exclude", ())),
            steps=dict(data.get("steps", {})),
            nodes={step: dict(nodes) for step, nodes in (data.get("nodes") or {}).items()},
            labels=dict(data.get("labels", {})),
        )


@dataclass(frozen=True)
class Backfill:
    """What a backfill plan re-reads (`datakit.orchestrate.backfill`): kept with it in run history."""

    kind: Literal["pipeline", "job"]
    name: str
    start: str
    end: str
    chunk: str
    chunks: int
    """How many windows each resource is cut into."""
    skipped: Mapping[str, str] = field(default_factory=dict)
    """Loads not backfilled (no cursor, a source that cannot filter by one) -> why."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "start": self.start,
            "end": self.end,
            "chunk": self.chunk,
            "chunks": self.chunks,
            "skipped": dict(self.skipped),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Backfill:
        return cls(
            kind=data["kind"],
            name=data["name"],
            start=data["start"],
            end=data["end"],
            chunk=data["chunk"],
            chunks=int(data["chunks"]),
            skipped=dict(data.get("skipped") or {}),
        )


BACKFILL_PREFIX = "backfill:"
"""Run history records a backfill as job `backfill:<pipeline|job>:<name>`: its own one-active-run rule
and its own last run (`state:failed` of the job is about the job's own runs)."""


def backfill_job(kind: str, name: str) -> str:
    """The job name a backfill's runs are recorded under."""
    return f"{BACKFILL_PREFIX}{kind}:{name}"


def resume_command(job: str, warehouse: str | None, run_id: int | str) -> str:
    """The command that re-runs only what a run of `job` did not finish (a job's, or a backfill's)."""
    tenant = f" --warehouse {warehouse}" if warehouse else ""
    if job.startswith(BACKFILL_PREFIX):
        kind, _, name = job.removeprefix(BACKFILL_PREFIX).partition(":")
        return f"datakit backfill {kind} {name}{tenant} --resume {run_id}"
    return f"datakit run job {job}{tenant} --resume {run_id}"


@dataclass(frozen=True)
class Plan:
    """The steps of one job, in priority order (the order sequential mode runs them in)."""

    job: str
    mode: Mode
    max_parallelism: int
    continue_on_failure: bool
    steps: tuple[Step, ...]
    sla: float | None = None
    """Seconds a run may take before `sla_missed` fires (the job's `sla.duration`); None: no SLA."""
    warehouse: str | None = None
    """The tenant the plan runs for (None: the project itself); also in each step's params."""
    selection: Selection | None = None
    """What `--select`/`--exclude` kept (None: the whole job)."""
    backfill: Backfill | None = None
    """What a backfill re-reads (None: not a backfill)."""

    def __post_init__(self) -> None:
        ids = [step.id for step in self.steps]
        if len(set(ids)) != len(ids):
            raise ValueError(f"plan {self.job!r} has duplicate step ids")
        self.dag.order()  # raises CycleFound with the cycle's path

    @property
    def dag(self) -> DAG[str]:
        return DAG({step.id: step.depends_on for step in self.steps})

    @property
    def parallelism(self) -> int:
        return 1 if self.mode == "sequential" else self.max_parallelism

    def step(self, step_id: str) -> Step:
        return next(step for step in self.steps if step.id == step_id)

    def as_dict(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "mode": self.mode,
            "max_parallelism": self.parallelism,
            "continue_on_failure": self.continue_on_failure,
            "steps": [step_data(step) for step in self.steps],
            "sla": self.sla,
            "warehouse": self.warehouse,
            "selection": self.selection.as_dict() if self.selection is not None else None,
            "backfill": self.backfill.as_dict() if self.backfill is not None else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        """The plan `as_dict` wrote (run history keeps it): what a resumed selection runs again."""
        selection, backfill = data.get("selection"), data.get("backfill")
        return cls(
            job=data["job"],
            mode=data["mode"],
            max_parallelism=int(data["max_parallelism"]),
            continue_on_failure=bool(data["continue_on_failure"]),
            steps=tuple(step_from_data(step) for step in data["steps"]),
            sla=data.get("sla"),
            warehouse=data.get("warehouse"),
            selection=Selection.from_dict(selection) if selection else None,
            backfill=Backfill.from_dict(backfill) if backfill else None,
        )


def _refuse_tenant_only(project: Project, job: str) -> None:
    """A job whose configs read warehouse variables runs only for a warehouse."""
    variables = warehouse_variables_used(project, job)
    if not variables:
        return
    names = ", ".join(f"${{var.{v}}}" for v in variables)
    tenants = tenants_running(project, job)
    raise DatakitError(
        f"job {job!r} reads {names}, which only a warehouse defines: it cannot run as the project itself",
        hint=f"run it with --warehouse ({' | '.join([*tenants, 'all'])})"
        if tenants
        else "list it in a warehouse's `jobs:`, or give the variables a default (${var.NAME:-value})",
    )


def compile_job(project: Project, job_name: str, warehouse: str | None = None) -> Plan:
    """The plan of job `job_name` (a name or a `x.yaml` reference); a NotFoundError when unknown.

    With `warehouse`, the plan of that tenant (which must list the job; see the module docstring).
    """
    tenant = tenant_context(project, warehouse)
    job = project.job(tenant.require_job(job_name))
    if tenant.name is None:
        _refuse_tenant_only(project, job.name)
    entries: list[JobPipeline | JobStep] = [*job.enabled_pipelines, *job.enabled_steps]
    ordered = [e for _, e in sorted(enumerate(entries), key=lambda item: (item[1].order, item[0]))]
    ids = {_entry_name(project, e): _step_ids(project, e) for e in ordered}
    retry = RetryPolicy.from_config(job.retries)
    steps: list[Step] = []
    for entry in ordered:
        upstream: list[str] = []
        if job.execution.mode == "dag":
            for dep in entry.depends_on:
                # a disabled dependency is not waited for
                upstream.extend(ids.get(project.resolve_name("pipeline", dep) or dep, []))
        timeout = getattr(entry, "timeout", None) or job.timeout
        common: dict[str, Any] = {
            "depends_on": tuple(upstream),
            "retry": retry,
            "timeout": timeout.total_seconds() if timeout is not None else None,
        }
        if isinstance(entry, JobStep):
            steps.append(_extra_step(project, job, entry, common, tenant))
            continue
        name = _entry_name(project, entry)
        exclusive = _exclusive(project, tenant.destination_for(project.pipeline(name).destination.ref))
        for resource, step_id in zip(_resource_names(project, name), ids[name], strict=True):
            params = LoadParams(pipeline=name, resource=resource, warehouse=tenant.name)
            steps.append(LoadStep(id=step_id, params=params, exclusive=exclusive, **common))
    return _plan(job, steps, tenant.name)


def _entry_name(project: Project, entry: JobPipeline | JobStep) -> str:
    if isinstance(entry, JobStep):
        return entry.step_name
    return project.resolve_name("pipeline", entry.name) or entry.name


def _step_ids(project: Project, entry: JobPipeline | JobStep) -> list[str]:
    """The plan steps an entry becomes: one per resource for a pipeline, one for a dbt or checks step."""
    name = _entry_name(project, entry)
    if isinstance(entry, JobStep):
        return [name]
    return [_step_id(name, r) for r in _resource_names(project, name)]


def _extra_step(project: Project, job: Job, entry: JobStep, common: dict[str, Any], tenant: Tenant) -> Step:
    """A `dbt:` or `checks:` step; its destination decides its exclusive key (DuckDB: one writer)."""
    if entry.dbt is not None:
        dbt = entry.dbt
        destination = dbt.destination or _only(dbt_destinations(project, job), entry.step_name)
        destination = tenant.destination_for(destination)
        params = DbtParams(
            project_dir=dbt.project,
            command=dbt.command,
            destination=destination,
            select=dbt.select,
            exclude=dbt.exclude,
            indirect_selection=dbt.indirect_selection,
            full_refresh=dbt.full_refresh,
            vars=dict(dbt.vars),
            warehouse=tenant.name,
        )
        exclusive = _exclusive(project, destination)
        return DbtStep(id=entry.step_name, params=params, exclusive=exclusive, **common)
    assert entry.checks is not None
    suite = project.resolve_name("checks", entry.checks) or entry.checks
    destination = tenant.destination_for(project.get("checks", suite).destination)
    checks = ChecksParams(suite=suite, destination=destination, warehouse=tenant.name)
    return ChecksStep(id=entry.step_name, params=checks, exclusive=_exclusive(project, destination), **common)


def _only(candidates: list[str], step: str) -> str:
    if len(candidates) != 1:
        raise DatakitError(
            f"step {step!r}: cannot tell which destination dbt builds in ({', '.join(candidates) or 'none'})",
            hint="add `destination: <name>` to the dbt step",
        )
    return candidates[0]


def _plan(job: Job, steps: list[Step], warehouse: str | None) -> Plan:
    return Plan(
        warehouse=warehouse,
        job=job.name,
        mode=job.execution.mode,
        max_parallelism=job.execution.max_parallelism,
        continue_on_failure=job.execution.continue_on_failure,
        steps=tuple(steps),
        sla=job.sla.duration.total_seconds() if job.sla is not None else None,
    )


def _step_id(pipeline: str, resource: str) -> str:
    return f"{pipeline}.{resource}"


def resource_names(project: Project, pipeline_name: str) -> list[str]:
    """The resources a pipeline loads: its own list, else every resource of its source."""
    pipeline = project.pipeline(pipeline_name)
    if pipeline.source.resources:
        return list(dict.fromkeys(pipeline.source.resources))
    source = project.source(pipeline.source.ref)
    return [resource.name for resource in source.resources]


_resource_names = resource_names  # the name other modules of the package import


def _exclusive(project: Project, destination_ref: str) -> tuple[str, ...]:
    """What only one process may write at a time (a DuckDB file: `duckdb:<file>`); nothing otherwise."""
    exclusive = project.destination(destination_ref).exclusive(project.path)
    return (exclusive,) if exclusive else ()
