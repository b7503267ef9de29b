"""What a compiled DAG tells the operator: display names, and what each step reads and writes.

Airflow's UI is where an operator looks first, so each task carries a display name saying what it does
(`load orders → acme_br__shop__main.orders`, `dbt build silver`, `checks silver_quality`) and a
`doc_md` with what it reads and writes; the DAG's `doc_md` is the whole plan as a table, with the
job's owner, triggers, SLA, notifications and whatever could not be compiled. Everything is decided from
the configuration alone (no connection opened), like the plan itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from datakit.config.models.common import format_duration
from datakit.orchestrate.stepkinds import ChecksStep, DbtStep, LoadStep

if TYPE_CHECKING:
    from datakit.config.models.jobs import Job
    from datakit.config.models.triggers import Trigger
    from datakit.config.project import Project
    from datakit.config.tenancy import Tenant
    from datakit.orchestrate.stepkinds import Step


@dataclass(frozen=True)
class StepInfo:
    """One step as the operator sees it."""

    display: str
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    destination: str
    """The destination the step works in (its Airflow pool follows from it)."""
    description: str | None = None

    def doc(self) -> str:
        """The task's `doc_md`."""
        lines = [f"**{self.display}**", ""]
        if self.description:
            lines += [self.description, ""]
        lines.append(f"- reads: {', '.join(self.reads) or 'nothing'}")
        lines.append(f"- writes: {', '.join(self.writes) or 'nothing'}")
        return "\n".join(lines)


@dataclass
class Describer:
    """Describes the steps of one project's plans; what a pipeline loads where is worked out once."""

    project: Project
    _targets: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)

    def step(self, tenant: Tenant, step: Step) -> StepInfo:
        """Display name, reads and writes of one plan step (for `tenant`'s schemas and destinations)."""
        if isinstance(step, LoadStep):
            return self._load(tenant, step)
        if isinstance(step, DbtStep):
            params = step.params
            exclude = f"--exclude {params.exclude}" if params.exclude else None
            selection = " ".join(part for part in (params.select, exclude) if part)
            display = f"dbt {params.command}{f' {selection}' if selection else ''}"
            return StepInfo(
                display=display,
                reads=(f"dbt project {params.project_dir}", f"{params.destination}: the models' sources"),
                writes=(f"{params.destination}: the models `{display}` selects",),
                destination=params.destination,
                description=self._job_step_description(tenant, step.id),
            )
        assert isinstance(step, ChecksStep)
        suite = self.project.check_suite(step.params.suite)
        return StepInfo(
            display=f"checks {suite.name}",
            reads=tuple(f"{step.params.destination}: {tenant.table(table)}" for table in suite.tables),
            writes=(),
            destination=step.params.destination,
            description=suite.description or self._job_step_description(tenant, step.id),
        )

    def _load(self, tenant: Tenant, step: LoadStep) -> StepInfo:
        project = self.project
        pipeline = project.pipeline(step.params.pipeline)
        source = project.resolve_name("source", pipeline.source.ref) or pipeline.source.ref
        destination = tenant.destination_for(pipeline.destination.ref)
        target = self._resource_tables(pipeline.name).get(step.params.resource)
        if target is not None:
            schema, table = target
            written = f"{tenant.schema(schema)}.{table}"
        else:  # not a bronze pipeline, or a query without contract: the loader names it at run time
            written = step.params.resource
        return StepInfo(
            display=f"load {step.params.resource} → {written}",
            reads=(f"source {source}: {step.params.resource}",),
            writes=(f"{destination}: {written}",),
            destination=destination,
            description=pipeline.description,
        )

    def _resource_tables(self, pipeline: str) -> dict[str, tuple[str, str]]:
        """resource -> (schema, table) the pipeline loads it into, before a tenant's prefix."""
        if pipeline not in self._targets:
            from datakit.transform.bronze import resource_tables

            self._targets[pipeline] = resource_tables(self.project, pipeline)
        return self._targets[pipeline]

    def _job_step_description(self, tenant: Tenant, step_id: str) -> str | None:
        """The `description:` of the job step named `step_id`, if one of the tenant's jobs has it."""
        jobs = tenant.jobs if tenant.name is not None else list(self.project.jobs)
        for job in jobs:
            for entry in self.project.job(job).steps:
                if entry.step_name == step_id and entry.description:
                    return entry.description
        return None


def dag_doc(spec: dict[str, Any], job: Job, infos: dict[str, StepInfo], triggers: list[Trigger]) -> str:
    """The DAG's `doc_md`: the job, who owns it, when it runs, its SLA and notifications, and the plan as
    a table of what each step reads and writes; then what could not be compiled."""
    where = f"warehouse `{spec['warehouse']}`" if spec["warehouse"] else "the project itself"
    lines = [f"### datakit job `{job.name}` for {where} ({spec['environment']})", ""]
    if job.description:
        lines += [job.description, ""]
    lines.append(f"- project: `{spec['project']}`; owner: {job.owner or 'not set (`owner:` in the job)'}")
    when = [f"`{t.name}` ({t.type}{f': {t.description}' if t.description else ''})" for t in triggers]
    lines.append(f"- triggers: {', '.join(when) or 'none (manual runs only)'}")
    if job.sla is not None:
        lines.append(
            f"- SLA: {format_duration(job.sla.duration)} from the run being queued (a deadline alert)"
        )
    notify = job.notifications
    channels = ", ".join(c if isinstance(c, str) else c.type for c in notify.channels) or "none"
    events = [e for e, on in (("failure", notify.on_failure), ("success", notify.on_success)) if on]
    lines.append(f"- notifications: {' and '.join(events) or 'none'} → {channels} (datakit's channels)")
    plan = spec["plan"]
    lines += [
        f"- plan: {len(plan['steps'])} steps, mode {plan['mode']}, at most {plan['max_parallelism']} at once",
        "",
        "| step | what | reads | writes | after |",
        "| --- | --- | --- | --- | --- |",
    ]
    for step in plan["steps"]:
        info = infos[step["id"]]
        after = ", ".join(f"`{u}`" for u in step["depends_on"]) or "—"
        reads = "<br>".join(info.reads) or "—"
        writes = "<br>".join(info.writes) or "—"
        lines.append(f"| `{step['id']}` | {info.display} | {reads} | {writes} | {after} |")
    if spec["not_compiled"]:
        lines += ["", "**Not compiled** (Airflow cannot express it; see `datakit serve`):", ""]
        lines += [f"- {message}" for message in spec["not_compiled"]]
    if spec["cautions"]:
        lines += ["", "**Warnings**:", ""]
        lines += [f"- {message}" for message in spec["cautions"]]
    lines += ["", "Generated by `datakit airflow compile`: change the YAML and compile again."]
    return "\n".join(lines)
