"""What each kind of step does, and the runner that carries steps out in child processes.

A step runner is any callable `Step -> StepOutput` that raises on failure; the executor does not care
how a step runs. Tests plug in cheap in-process runners; `LocalRunner` — the default — runs every step
in a child process (`subproc`), so a step's timeout kills it for real and a crash in a driver cannot
take the executor down with it. The child loads the project itself (the plan carries names, never
open connections), which also keeps one resource's connections out of another's process.

A step of a warehouse's plan carries `params["warehouse"]`; each step function turns it into the
tenant's context (`datakit.config.tenancy`) once, and hands that to the loader, dbt or the checks, so
the tenant's destination, schemas and secrets are applied in one place whichever executor runs it.

A load step knows its run (`for_run`, `run_step_here(runs=...)`): the run's key and the keys of the runs
it resumes. It loads with the run's key and its step id, recorded with the data; and first it asks the
destination whether one of those runs committed this step already — a run killed between the commit
and its own record of it, an Airflow task whose try failed after the commit — and if so, reports that
load's rows instead of loading again.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from datakit.errors import DatakitError
from datakit.orchestrate.plan import Step
from datakit.orchestrate.stepserver import StepServer
from datakit.orchestrate.subproc import StepProcesses, run_in_child

if TYPE_CHECKING:
    from datakit.config.project import Project
    from datakit.config.tenancy import Tenant


@dataclass(frozen=True)
class StepOutput:
    """What a finished step reports: row counts (loads), the tail of its log, structured results."""

    rows: dict[str, int] = field(default_factory=dict)
    log: str = ""
    details: dict[str, Any] | None = None
    """JSON-able results kept in run history: dbt's per-node results, check results."""


StepRunner = Callable[[Step], StepOutput]


@dataclass(frozen=True)
class LocalRunner:
    """Runs each step of a project's plan in a child process, with the step's timeout."""

    project_root: Path
    environment: str
    full_refresh: bool = False
    server: StepServer | None = None
    """A warm step server to fork steps from (`stepserver`); without one, each step is spawned."""
    runs: tuple[str, ...] = ()
    """The keys of the run and of the runs it resumes, newest first (`for_run`)."""
    processes: StepProcesses = dataclasses.field(default_factory=StepProcesses)
    """The step processes of this runner's run: `cancel` kills them (and only them)."""

    def for_run(self, runs: tuple[str, ...]) -> LocalRunner:
        """This runner for the run keyed `runs[0]`, which resumes `runs[1:]`."""
        return dataclasses.replace(self, runs=runs)

    def __call__(self, step: Step) -> StepOutput:
        target, kwargs = _request(self.project_root, self.environment, step, self.full_refresh, self.runs)
        result, log = run_in_child(
            target,
            kwargs,
            timeout=step.timeout,
            cwd=self.project_root,
            server=self.server,
            processes=self.processes,
        )
        return _output(result, log)

    def cancel(self) -> None:
        """Kill the running steps' processes (the executor calls this when the run is interrupted)."""
        self.processes.kill_all()


_TARGETS = {
    "load": "datakit.orchestrate.steps:load_step",
    "dbt": "datakit.orchestrate.steps:dbt_step",
    "checks": "datakit.orchestrate.steps:checks_step",
}


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
    import importlib

    target, kwargs = _request(project_root, environment, step, full_refresh, runs)
    module, _, name = target.partition(":")
    return _output(getattr(importlib.import_module(module), name)(**kwargs))


def _request(
    project_root: Path, environment: str, step: Step, full_refresh: bool, runs: tuple[str, ...] = ()
) -> tuple[str, dict[str, Any]]:
    """The step function (`module:name`) of a step and its keyword arguments: plain data, so it can
    cross into a child process."""
    target = _TARGETS.get(step.kind)
    if target is None:  # pragma: no cover - the plan's StepKind and _TARGETS are kept together
        raise DatakitError(f"step {step.id!r}: unknown kind {step.kind!r}")
    kwargs: dict[str, Any] = {
        "project_root": str(project_root),
        "environment": environment,
        "params": dict(step.params),
        "full_refresh": full_refresh,
    }
    if step.kind == "load" and runs:
        kwargs["run"] = {"runs": list(runs), "step": step.id}
    return target, kwargs


def _output(result: dict[str, Any], log: str = "") -> StepOutput:
    rows = {k: int(v) for k, v in result.get("rows", {}).items()}
    return StepOutput(rows=rows, log=log, details=result.get("details"))


def _child_project(project_root: str, environment: str, warehouse: str | None = None) -> Project:
    """(In the child process.) Logging to the step's log, and the project loaded afresh (as the
    step's warehouse sees it: its `${var.NAME}` variables)."""
    from datakit import log as datakit_log
    from datakit.config import load_project

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    datakit_log.configure(logging.INFO, handler)
    return load_project(Path(project_root), environment=environment, warehouse=warehouse)


def _tenant(project: Project, params: dict[str, str]) -> Tenant:
    """The step's tenant (its `warehouse` param), or the project itself."""
    from datakit.config.tenancy import tenant_context

    return tenant_context(project, params.get("warehouse") or None)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load_step(
    project_root: str,
    environment: str,
    params: dict[str, str],
    full_refresh: bool = False,
    run: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """(In the child process.) Load one resource of one pipeline; the row counts of the load.

    `run` (`{"runs": [keys, newest first], "step": id}`): the load is recorded as this run's step, and
    is not made again if one of those runs committed it already.
    """
    from datakit.load.loader import load_resource
    from datakit.load.plan import RunOptions
    from datakit.load.resolve import plans_for
    from datakit.load.state import committed_load

    project = _child_project(project_root, environment, params.get("warehouse") or None)
    pipeline, resource = params["pipeline"], params["resource"]
    tenant = _tenant(project, params)
    destination, plans = plans_for(project, pipeline, resources=[resource], tenant=tenant)
    (plan,) = plans
    options = RunOptions(full_refresh=full_refresh)
    if run is not None:
        done = committed_load(destination, run["step"], run["runs"], state_schema=plan.state_schema)
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
        options = RunOptions(full_refresh=full_refresh, run_id=run["runs"][0], step_id=run["step"])
    _say(f"loading {pipeline}.{resource} -> {plan.target}")
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


def dbt_step(
    project_root: str, environment: str, params: dict[str, str], full_refresh: bool = False
) -> dict[str, Any]:
    """(In the child process.) One dbt invocation; dbt's per-node results become the step's details."""
    from datakit.transform import DbtInvocation, run_dbt

    project = _child_project(project_root, environment, params.get("warehouse") or None)
    invocation = DbtInvocation(
        project_dir=params["project_dir"],
        command=params["command"],  # type: ignore[arg-type]  # a DbtCommand, checked by the config
        select=params["select"] or None,
        exclude=params["exclude"] or None,
        indirect_selection=params.get("indirect_selection", "buildable"),  # type: ignore[arg-type]
    )
    _say(f"dbt {invocation.command} {invocation.select or ''} in {params['destination']}")
    result = run_dbt(
        project,
        invocation,
        destination=params["destination"],
        full_refresh=full_refresh or bool(params["full_refresh"]),
        vars=json.loads(params["vars"]),
        tenant=_tenant(project, params),
    )
    return {"rows": result.rows, "details": result.details()}


def checks_step(
    project_root: str, environment: str, params: dict[str, str], full_refresh: bool = False
) -> dict[str, Any]:
    """(In the child process.) A check suite; an `error` check failing fails the step (ChecksFailed)."""
    from datakit.quality import ChecksFailed, run_check_suite

    del full_refresh  # checks read; nothing to refresh
    project = _child_project(project_root, environment, params.get("warehouse") or None)
    result = run_check_suite(
        project, params["suite"], destination=params.get("destination"), tenant=_tenant(project, params)
    )
    for line in result.summary_lines():
        _say(line)
    if result.errors:
        raise ChecksFailed.from_result(result)
    return {"details": result.details()}
