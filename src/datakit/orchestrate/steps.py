"""What each kind of step does, and the runner that carries steps out in child processes.

A step runner is any callable `Step -> StepOutput` that raises on failure; the executor does not care
how a step runs. Tests plug in cheap in-process runners; `LocalRunner` — the default — runs every step
in a child process (`subproc`), so a step's timeout kills it for real and a crash in a driver cannot
take the executor down with it. The child loads the project itself (the plan carries names, never
open connections), which also keeps one resource's connections out of another's process.

A step reaches its step process in one form (`stepkinds.step_data`), spawned or forked from a step
server alike, and an Airflow task rebuilds it from the same form; from there the same functions do the
work under every executor. A step of a warehouse's plan carries `params.warehouse`; each step function
turns it into the tenant's context (`datakit.config.tenancy`) once, and hands that to the loader, dbt
or the checks, so the tenant's destination, schemas and secrets are applied in one place whichever
executor runs it.

A load step knows its run (`for_run`, `run_step_here(runs=...)`): the run's key and the keys of the runs
it resumes. It loads with the run's key and its step id, recorded with the data; and first it asks the
destination whether one of those runs committed this step already — a run killed between the commit
and its own record of it, an Airflow task whose try failed after the commit — and if so, reports that
load's rows instead of loading again.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from datakit.log import get_logger
from datakit.orchestrate.livelog import live_log_path, live_run_dir, remove_live_logs
from datakit.orchestrate.stepkinds import ChecksStep, DbtStep, LoadStep, Step, step_data, step_from_data
from datakit.orchestrate.stepserver import WarmServer
from datakit.orchestrate.subproc import LOG_LIMIT, StepProcesses, run_in_child

if TYPE_CHECKING:
    from datakit.config.project import Project
    from datakit.config.tenancy import Tenant
    from datakit.transform import DbtInvocation

log = get_logger("datakit.step")


@dataclass(frozen=True)
class StepOutput:
    """What a finished step reports: row counts (loads), its log, structured results."""

    rows: dict[str, int] = field(default_factory=dict)
    log: str = ""
    """The step's output, capped (`step_logs.max_bytes`)."""
    details: dict[str, Any] | None = None
    """JSON-able results kept in run history: dbt's per-node results, check results."""


StepRunner = Callable[[Step], StepOutput]


@dataclass(frozen=True)
class LocalRunner:
    """Runs each step of a project's plan in a child process, with the step's timeout."""

    project_root: Path
    environment: str
    full_refresh: bool = False
    server: WarmServer | None = None
    """A warm step server to fork steps from (`stepserver`); without one, each step is spawned."""
    runs: tuple[str, ...] = ()
    """The keys of the run and of the runs it resumes, newest first (`for_run`)."""
    processes: StepProcesses = dataclasses.field(default_factory=StepProcesses)
    """The step processes of this runner's run: `cancel` kills them (and only them)."""
    live_logs: bool = True
    """Write each step's log where the status pages stream it from while it runs (`livelog`)."""
    log_limit: int = LOG_LIMIT
    """Bytes of a step's log kept (`step_logs.max_bytes`)."""

    @classmethod
    def for_project(cls, project: Project, **options: Any) -> LocalRunner:
        """The runner of `project`'s steps (its root, environment and log cap)."""
        limit = int(project.config.step_logs.max_bytes)
        return cls(project.root, project.environment, log_limit=limit, **options)

    def for_run(self, runs: tuple[str, ...]) -> LocalRunner:
        """This runner for the run keyed `runs[0]`, which resumes `runs[1:]`."""
        return dataclasses.replace(self, runs=runs)

    def __call__(self, step: Step) -> StepOutput:
        kwargs = {
            "project_root": str(self.project_root),
            "environment": self.environment,
            "step": step_data(step),
            "full_refresh": self.full_refresh,
            "runs": list(self.runs),
        }
        live = None
        if self.live_logs and self.runs:
            live = live_log_path(self.project_root, self.runs[0], step.id)
        result, log = run_in_child(
            _TARGET,
            kwargs,
            timeout=step.timeout,
            cwd=self.project_root,
            server=self.server,
            processes=self.processes,
            log_path=live,
            log_limit=self.log_limit,
        )
        return _output(result, log)

    def end_run(self) -> None:
        """Remove the run's live-log folder once its last step ended (the executor calls this): never
        earlier, a step of the run starting meanwhile would find its folder gone."""
        if self.live_logs and self.runs:
            remove_live_logs(live_run_dir(self.project_root, self.runs[0]))

    def cancel(self) -> None:
        """Kill the running steps' processes (the executor calls this when the run is interrupted)."""
        self.processes.kill_all()


_TARGET = "datakit.orchestrate.steps:run_step_data"
"""What a step process is asked to call: the step as `step_data`, the one form steps travel in."""


def run_step_here(
    project_root: Path,
    environment: str,
    step: Step,
    *,
    full_refresh: bool = False,
    runs: tuple[str, ...] = (),
) -> StepOutput:
    """Run one plan step in this process — an Airflow task does — with the functions `LocalRunner` runs
    in its child processes, so both executors do exactly the same work for a step. `runs` as in
    `LocalRunner.runs`: an Airflow task passes its DAG run, so a retry does not load twice."""
    return _output(_run(str(project_root), environment, step, full_refresh, runs))


def run_step_data(
    project_root: str, environment: str, step: dict[str, Any], full_refresh: bool, runs: list[str]
) -> dict[str, Any]:
    """(In the child process.) `run_step_here` of a step sent as `step_data`; a JSON-able result."""
    return _run(project_root, environment, step_from_data(step), full_refresh, tuple(runs))


def _run(
    project_root: str, environment: str, step: Step, full_refresh: bool, runs: tuple[str, ...]
) -> dict[str, Any]:
    if isinstance(step, LoadStep):
        return load_step(project_root, environment, step, full_refresh, runs)
    if isinstance(step, DbtStep):
        return dbt_step(project_root, environment, step, full_refresh)
    return checks_step(project_root, environment, step)


def _output(result: dict[str, Any], log: str = "") -> StepOutput:
    rows = {k: int(v) for k, v in result.get("rows", {}).items()}
    return StepOutput(rows=rows, log=log, details=result.get("details"))


def _child_project(project_root: str, environment: str, warehouse: str | None = None) -> Project:
    """(In the child process.) Logging to the step's log, and the project as the step's warehouse sees
    it (its `${var.NAME}` variables): loaded afresh, or kept by a process that preloaded it and forked
    this one, when none of its files changed since (`datakit.config.cache`)."""
    from datakit import log as datakit_log
    from datakit.config.cache import load_project_cached

    if not datakit_log.hosted():  # an Airflow task logs through Airflow's logging (`datakit.log.host`)
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        datakit_log.configure(logging.INFO, handler)
    return load_project_cached(Path(project_root), environment=environment, warehouse=warehouse)


def _tenant(project: Project, warehouse: str | None) -> Tenant:
    """The step's tenant (its `warehouse` parameter), or the project itself."""
    from datakit.config.tenancy import tenant_context

    return tenant_context(project, warehouse)


def _say(message: str) -> None:
    """A step's progress: INFO on datakit's logger (the step log, or the Airflow task's log)."""
    log.info("%s", message)


def load_step(
    project_root: str, environment: str, step: LoadStep, full_refresh: bool, runs: tuple[str, ...]
) -> dict[str, Any]:
    """(In the step process.) Load one resource of one pipeline (or, a grouped step, several:
    `loadgroup`); the row counts of the load.

    With `runs` (the run's key and the keys of the runs it resumes, newest first), the load is recorded
    as this run's step, and is not made again if one of those runs committed it already.
    """
    from datakit.load.loader import load_resource
    from datakit.load.plan import RunOptions, Window
    from datakit.load.resolve import plans_for
    from datakit.load.state import committed_load

    params = step.params
    project = _child_project(project_root, environment, params.warehouse)
    if params.also:
        from datakit.orchestrate.loadgroup import load_group

        return load_group(project, step, _tenant(project, params.warehouse), full_refresh, runs, _say)
    pipeline, resource = params.pipeline, params.resource
    tenant = _tenant(project, params.warehouse)
    destination, plans = plans_for(project, pipeline, resources=[resource], tenant=tenant)
    (plan,) = plans
    window = Window(params.window.start, params.window.end) if params.window is not None else None
    if window is not None:
        full_refresh = False  # a chunk re-reads its window; the run's refresh is for the job's loads
    options = RunOptions(full_refresh=full_refresh, window=window)
    if runs:
        done = committed_load(destination, step.id, runs, state_schema=plan.state_schema)
        if done is not None:
            _say(
                f"{pipeline}.{resource} -> {plan.target} was loaded by run {done.run_id} already "
                f"(load {done.load_id}): not loaded again"
            )
            rows = {
                "rows_read": done.rows_read,
                "rows_loaded": done.rows_loaded,
                "rows_rejected": done.rows_rejected,
            }
            return {"rows": rows, "details": {"loaded_by_run": done.run_id, "load_id": done.load_id}}
        options = RunOptions(full_refresh=full_refresh, run_id=runs[0], step_id=step.id, window=window)
    what = f" [{window.start}, {window.end})" if window is not None else ""
    _say(f"loading {pipeline}.{resource}{what} -> {plan.target}")
    result = load_resource(plan, destination, options)
    _say(
        f"loaded {result.target}: read {result.rows_read}, loaded {result.rows_loaded}, "
        f"rejected {result.rows_rejected}"
    )
    rows = {
        "rows_read": result.rows_read,
        "rows_loaded": result.rows_loaded,
        "rows_rejected": result.rows_rejected,
    }
    return {"rows": rows}


def parse_dbt_ahead(project_root: str, environment: str, step: dict[str, Any]) -> bool:
    """(In the step server, in idle time.) Parse a dbt step's project ahead of it (`parse_ahead`)."""
    from datakit.config import load_project
    from datakit.transform import parse_ahead

    dbt = step_from_data(step)
    assert isinstance(dbt, DbtStep)
    params = dbt.params
    project = load_project(Path(project_root), environment=environment, warehouse=params.warehouse)
    return parse_ahead(
        project,
        _invocation(dbt),
        destination=params.destination,
        vars=dict(params.vars),
        tenant=_tenant(project, params.warehouse),
    )


def _invocation(step: DbtStep) -> DbtInvocation:
    from datakit.transform import DbtInvocation

    params = step.params
    return DbtInvocation(
        project_dir=params.project_dir,
        command=params.command,
        select=params.select,
        exclude=params.exclude,
        indirect_selection=params.indirect_selection,
    )


def dbt_step(project_root: str, environment: str, step: DbtStep, full_refresh: bool) -> dict[str, Any]:
    """(In the step process.) One dbt invocation; dbt's per-node results become the step's details."""
    from datakit.transform import run_dbt

    params = step.params
    project = _child_project(project_root, environment, params.warehouse)
    invocation = _invocation(step)
    _say(f"dbt {invocation.command} {invocation.select or ''} in {params.destination}")
    result = run_dbt(
        project,
        invocation,
        destination=params.destination,
        full_refresh=full_refresh or params.full_refresh,
        vars=dict(params.vars),
        tenant=_tenant(project, params.warehouse),
    )
    return {"rows": result.rows, "details": result.details()}


def checks_step(project_root: str, environment: str, step: ChecksStep) -> dict[str, Any]:
    """(In the step process.) A check suite; an `error` check failing fails the step (ChecksFailed).
    Checks read: a full refresh changes nothing for them."""
    from datakit.quality import ChecksFailed, run_check_suite

    params = step.params
    project = _child_project(project_root, environment, params.warehouse)
    result = run_check_suite(
        project, params.suite, destination=params.destination, tenant=_tenant(project, params.warehouse)
    )
    for line in result.summary_lines():
        _say(line)
    if result.errors:
        raise ChecksFailed.from_result(result)
    return {"details": result.details()}
