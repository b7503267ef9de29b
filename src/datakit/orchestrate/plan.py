"""A job -> a plan: the steps to run, their order, dependencies, retry policy and timeout.

A plan is plain data, decided from the configuration alone (no connection is opened), so `datakit plan
job` is instant and every executor (this package's local one, Airflow later) runs the same plan without
reading YAML again (DESIGN.md 3.4).

One step per pipeline *resource*, not per pipeline: a resource load is the loader's unit of atomicity
(one destination transaction), so it is also the natural unit to retry, time out and resume — a failed
`orders` load is retried or resumed alone while `customers`, already committed, is left in peace.
A pipeline's `depends_on` therefore becomes "every resource of A waits for every resource of B".

Modes: `sequential` runs steps one at a time in `order` (then file order, then resource order);
`parallel` runs them up to `max_parallelism` at once, ignoring `depends_on`; `dag` honours `depends_on`
and runs independent steps in parallel up to the limit.

Steps writing into one DuckDB file share an `exclusive` key: DuckDB allows one writing process per file,
so the executor never runs two of them at once (whatever the mode's parallelism).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from datakit.utils.dag import DAG

if TYPE_CHECKING:
    from datakit.config.models.jobs import Job, Retries
    from datakit.config.project import Project

Mode = Literal["sequential", "parallel", "dag"]
StepKind = Literal["load"]


@dataclass(frozen=True)
class RetryPolicy:
    """How often a step is tried and how long to wait between tries (seconds)."""

    max_attempts: int = 1
    retry_delay: float = 60.0
    exponential_backoff: bool = False
    max_retry_delay: float = 3600.0

    @classmethod
    def from_config(cls, retries: Retries) -> RetryPolicy:
        return cls(
            max_attempts=retries.max_attempts,
            retry_delay=retries.retry_delay.total_seconds(),
            exponential_backoff=retries.exponential_backoff,
            max_retry_delay=retries.max_retry_delay.total_seconds(),
        )


@dataclass(frozen=True)
class Step:
    """One node of a plan. `id` is unique in the plan and stable across runs (resume matches by it)."""

    id: str
    kind: StepKind
    params: dict[str, str]
    depends_on: tuple[str, ...] = ()
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float | None = None
    exclusive: tuple[str, ...] = ()
    """Keys of resources only one step at a time may use (e.g. a DuckDB file)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "params": dict(self.params),
            "depends_on": list(self.depends_on),
            "retry": {
                "max_attempts": self.retry.max_attempts,
                "retry_delay": self.retry.retry_delay,
                "exponential_backoff": self.retry.exponential_backoff,
                "max_retry_delay": self.retry.max_retry_delay,
            },
            "timeout": self.timeout,
            "exclusive": list(self.exclusive),
        }


@dataclass(frozen=True)
class Plan:
    """The steps of one job, in priority order (the order sequential mode runs them in)."""

    job: str
    mode: Mode
    max_parallelism: int
    continue_on_failure: bool
    steps: tuple[Step, ...]

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
            "steps": [step.as_dict() for step in self.steps],
        }


def compile_job(project: Project, job_name: str) -> Plan:
    """The plan of job `job_name` (a name or a `x.yaml` reference); a NotFoundError when unknown."""
    job = project.job(job_name)
    entries = sorted(enumerate(job.enabled_pipelines), key=lambda item: (item[1].order, item[0]))
    enabled = {project.resolve_name("pipeline", p.name) or p.name for _, p in entries}
    resources: dict[str, list[str]] = {}
    for _, entry in entries:
        name = project.resolve_name("pipeline", entry.name) or entry.name
        resources[name] = _resource_names(project, name)
    retry = RetryPolicy.from_config(job.retries)
    timeout = job.timeout.total_seconds() if job.timeout is not None else None
    steps: list[Step] = []
    for _, entry in entries:
        name = project.resolve_name("pipeline", entry.name) or entry.name
        upstream: list[str] = []
        if job.execution.mode == "dag":
            for dep in entry.depends_on:
                dep_name = project.resolve_name("pipeline", dep) or dep
                if dep_name in enabled:  # a disabled dependency is not waited for
                    upstream.extend(_step_id(dep_name, r) for r in resources[dep_name])
        for resource in resources[name]:
            steps.append(
                Step(
                    id=_step_id(name, resource),
                    kind="load",
                    params={"pipeline": name, "resource": resource},
                    depends_on=tuple(upstream),
                    retry=retry,
                    timeout=timeout,
                    exclusive=_exclusive(project, name),
                )
            )
    return _plan(job, steps)


def _plan(job: Job, steps: list[Step]) -> Plan:
    return Plan(
        job=job.name,
        mode=job.execution.mode,
        max_parallelism=job.execution.max_parallelism,
        continue_on_failure=job.execution.continue_on_failure,
        steps=tuple(steps),
    )


def _step_id(pipeline: str, resource: str) -> str:
    return f"{pipeline}.{resource}"


def _resource_names(project: Project, pipeline_name: str) -> list[str]:
    """The resources a pipeline loads: its own list, else every resource of its source."""
    pipeline = project.pipeline(pipeline_name)
    if pipeline.source.resources:
        return list(dict.fromkeys(pipeline.source.resources))
    source = project.source(pipeline.source.ref)
    return [resource.name for resource in source.resources]


def _exclusive(project: Project, pipeline_name: str) -> tuple[str, ...]:
    """`duckdb:<file>` for a DuckDB destination (one writer process per file); nothing otherwise."""
    from datakit.config.models.destinations import DuckDBDestination

    pipeline = project.pipeline(pipeline_name)
    destination = project.destination(pipeline.destination.ref)
    if isinstance(destination, DuckDBDestination) and destination.connection.database != ":memory:":
        return (f"duckdb:{project.path(destination.connection.database).resolve()}",)
    return ()
