"""`run_job`: the Python function behind `datakit run job` — compile, open the store, execute, notify;
`run_job_for_warehouses`: the same for several tenants at once (`--warehouse all`)."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from datakit.connectors.engines import preload_modules
from datakit.errors import DatakitError
from datakit.lineage.openlineage import step_observer
from datakit.log import get_logger, redact
from datakit.orchestrate.executor import Executor, RunResult
from datakit.orchestrate.notify import Notifier
from datakit.orchestrate.plan import Plan, compile_job
from datakit.orchestrate.stepkinds import DbtStep, step_data
from datakit.orchestrate.steps import LocalRunner
from datakit.orchestrate.stepserver import AheadCall, ServerGone, StepServer, StepServers, WarmServer
from datakit.orchestrate.store import StepStatus, open_store

if TYPE_CHECKING:
    from datakit.config.project import Project
    from datakit.orchestrate.store import StateStore

log = get_logger(__name__)


def run_job(
    project: Project,
    job_name: str,
    *,
    warehouse: str | None = None,
    allow_concurrent: bool = False,
    resume: int | None = None,
    full_refresh: bool = False,
    tick_key: str | None = None,
    store: StateStore | None = None,
    on_started: Callable[[int], None] | None = None,
    cancel: threading.Event | None = None,
    only: str | None = None,
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    confirmed: bool = False,
    plan: Plan | None = None,
) -> RunResult:
    """Run job `job_name` of `project` now, each step in a child process, recorded in the state store.

    The job's notification channels hear of the run's end, and of an SLA miss while it runs. A daemon
    passes its own `store` (left open), learns the run id as soon as the run is committed
    (`on_started`), and may stop the run by setting `cancel`.

    `only` (with `resume`) retries that one step of the resumed run (`Executor.run`).

    With `warehouse`, the run is that tenant's (`compile_job`): recorded with its name, so run history,
    resuming and the one-active-run rule are per tenant (`<job>@<warehouse>`).

    With `select`/`exclude`, only that part of the job runs (`datakit.orchestrate.selection`); resuming
    a run of a selection runs the same part again (its stored plan) unless another selection is given.
    `full_refresh` in the `prod` environment needs `confirmed` (`refuse_full_refresh`). A `plan`
    compiled already (for this job and warehouse) is run as it is.
    """
    if full_refresh:
        refuse_full_refresh(project, confirmed)
    own_store = store is None
    state = open_store(project) if store is None else store
    try:
        if plan is None:
            plan = plan_for_run(project, job_name, warehouse, resume, select, exclude, state)
    except BaseException:
        if own_store:
            state.close()
        raise
    notifier = notifier_for(project, plan)
    server = step_server(project, plan)

    def started(run_id: int) -> None:
        # the step server starts once the run is recorded: its start-up is part of the run's duration
        if on_started is not None:
            on_started(run_id)
        if server is not None:
            start_server(server)

    try:
        runner = LocalRunner.for_project(project, full_refresh=full_refresh, server=server)
        executor = Executor(state, runner, notify=notifier, cancel=cancel, observe=step_observer(project))
        return executor.run(
            plan,
            allow_concurrent=allow_concurrent,
            resume=resume,
            tick_key=tick_key,
            on_started=started,
            only=only,
        )
    finally:
        if server is not None:
            server.close()
        if own_store:
            state.close()


def notifier_for(project: Project, plan: Plan) -> Notifier | None:
    """The job's channels; a backfill of a job tells the job's, one of a pipeline tells nobody."""
    if plan.backfill is None:
        return Notifier.for_job(project, plan.job)
    if plan.backfill.kind == "job":
        return Notifier.for_job(project, plan.backfill.name)
    return None


def refuse_full_refresh(
    project: Project,
    confirmed: bool,
    hint: str = "add --yes if that is what you want (and --select to limit what is refreshed)",
) -> None:
    """A full refresh drops and reloads tables: in the `prod` environment only when confirmed (`--yes`
    on the command line, a second tick in `datakit serve`'s start form: `hint` says which)."""
    if project.environment == PROD and not confirmed:
        from datakit.errors import UsageError

        raise UsageError(
            "a full refresh in prod drops and reloads the selected tables and rebuilds their models from "
            "scratch: refused without confirmation",
            hint=hint,
        )


PROD = "prod"


def plan_for_run(
    project: Project,
    job_name: str,
    warehouse: str | None,
    resume: int | None,
    select: Sequence[str],
    exclude: Sequence[str],
    store: StateStore,
) -> Plan:
    """The plan a run carries out: the job's (narrowed to a selection; the pipelines it groups made one
    step each: `grouping`), or, resuming a run of a selection or a backfill without a new selection,
    that run's own plan again (`datakit serve`'s resume and retry as much as `datakit run job --resume`)."""
    if resume is not None and not select and not exclude:
        stored = json.loads(store.get_run(resume).plan)
        if isinstance(stored, dict) and (stored.get("selection") or stored.get("backfill")):
            return Plan.from_dict(stored)
    from datakit.orchestrate.grouping import group_loads

    if not select and not exclude:
        return group_loads(project, compile_job(project, job_name, warehouse))
    from datakit.orchestrate.selection import selected_job

    return group_loads(project, selected_job(project, job_name, warehouse, select, exclude, store=store))


_PRELOAD = {
    # DuckDB here as the in-process compute library of contract validation, not as a destination
    "load": ("pyarrow", "duckdb", "sqlmodel", "datakit.load.loader", "datakit.load.resolve"),
    "dbt": (
        "datakit.transform",
        # dbt.cli.main in steps of a few tenths of a second each, so a request waits for one at most
        "dbt_common.events.functions",
        "dbt.artifacts.resources",
        "dbt.adapters.base",
        "dbt.adapters.factory",
        "dbt.contracts.graph.manifest",
        "dbt.parser.manifest",
        "dbt.cli.main",
    ),
    "checks": ("datakit.quality",),
}
_OPENS_DESTINATION = ("load", "checks")
"""Step kinds that open a destination: their servers also import its engine's driver ahead."""
PARSE_AHEAD = "datakit.orchestrate.steps:parse_dbt_ahead"


def step_server(project: Project, plan: Plan) -> WarmServer | None:
    """A step server (not started yet) for the plan, or None (steps are spawned) when the plan has a
    single step, or when DATAKIT_STEP_SERVER=0 says not to.

    It preloads before answering only what the plan's first steps (those that wait for no other) need,
    and the rest afterwards, in its idle time; then it parses each dbt step's project ahead of the step
    (`stepserver`'s docstring says how). When dbt steps wait for other steps, they get a server of
    their own that imports dbt and parses from the start (`StepServers`).
    """
    if os.environ.get("DATAKIT_STEP_SERVER", "1") == "0" or len(plan.steps) < 2:
        return None
    engines = sorted({destination.type for destination in project.destinations.values()})
    drivers = tuple(m for kind in engines for m in preload_modules(kind))

    def modules(kind: str) -> tuple[str, ...]:
        return _PRELOAD.get(kind, ()) + (drivers if kind in _OPENS_DESTINATION else ())

    first = {step.kind for step in plan.steps if not step.depends_on}
    ahead = [
        AheadCall(
            step.id,
            PARSE_AHEAD,
            {"project_root": str(project.root), "environment": project.environment, "step": step_data(step)},
        )
        for step in plan.steps
        if isinstance(step, DbtStep)
    ]
    lane = bool(ahead) and "dbt" not in first
    kinds = [step.kind for step in plan.steps if not (lane and step.kind == "dbt")]
    now = dict.fromkeys(m for kind in sorted(first) for m in modules(kind))
    later = dict.fromkeys(m for kind in kinds for m in modules(kind) if m not in now)
    if not lane:
        return StepServer(now, project.root, project.environment, later=later, ahead=ahead)
    main = StepServer(now, project.root, project.environment, later=later)
    dbt = StepServer(modules("dbt"), project.root, project.environment, ahead=ahead)
    return StepServers(main, dbt)


def start_server(server: WarmServer) -> None:
    """Start `server`; when it cannot start, steps are spawned (a server that is not alive is skipped).

    Call it from the thread that will close the server: the server dies with that thread (`lifeline`).
    """
    try:
        server.start()
    except (ServerGone, OSError) as exc:
        log.warning("step server not available, spawning each step: %s", exc)


@dataclass(frozen=True)
class TenantRun:
    """One warehouse's part of a fan-out: its run (None when it could not start), wall time, error."""

    warehouse: str
    result: RunResult | None
    seconds: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.result is not None and self.result.ok

    @property
    def failed_steps(self) -> list[str]:
        if self.result is None:
            return []
        return [step for step, status in self.result.steps.items() if status is StepStatus.FAILED]


def run_job_for_warehouses(
    project: Project,
    job_name: str,
    warehouses: Sequence[str] | None = None,
    *,
    max_parallelism: int = 2,
    allow_concurrent: bool = False,
    full_refresh: bool = False,
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    confirmed: bool = False,
) -> list[TenantRun]:
    """Run job `job_name` once per warehouse (default: every warehouse listing it), up to
    `max_parallelism` at once; one `TenantRun` per warehouse, in warehouse order.

    Each is a normal run (its own run id, history and one-active-run key), in a thread of its own
    whose steps run in child processes as usual; the runs share one state-store handle, which
    serialises this process's writes (two handles on one SQLite file in one process would race, most
    of all when the first runs create it). Every plan is compiled before anything starts, so a
    tenant whose config cannot run the job stops the fan-out before any data moves. Tenants whose plans
    share an `exclusive` key (one DuckDB file: one writing process) run one after the other, as steps
    sharing one do inside a run. A run that cannot start (the tenant's job is already running) is
    reported, not raised, so the others still run; so is an unexpected error in one tenant's run (with
    its type), since the others' runs are sound. Ctrl-C cancels every run (their running steps are
    killed) and re-raises.
    """
    from datakit.config.tenancy import tenants_running

    if max_parallelism < 1:
        raise DatakitError(f"max_parallelism must be at least 1, not {max_parallelism}")
    if full_refresh:
        refuse_full_refresh(project, confirmed)
    names = list(warehouses) if warehouses is not None else tenants_running(project, job_name)
    if not names:
        raise DatakitError(
            f"no warehouse runs job {job_name!r}", hint="list the job under `jobs:` in a warehouse file"
        )
    # every tenant's plan (and selection) is valid, or nothing runs
    state = open_store(project)
    try:
        plans = {
            name: plan_for_run(project, job_name, name, None, select, exclude, state)
            for name in dict.fromkeys(names)
        }
    except BaseException:
        state.close()
        raise
    cancel = threading.Event()

    def one(warehouse: str) -> TenantRun:
        started = time.monotonic()
        try:
            result = run_job(
                project,
                job_name,
                warehouse=warehouse,
                allow_concurrent=allow_concurrent,
                full_refresh=full_refresh,
                store=state,
                cancel=cancel,
                confirmed=confirmed,
                plan=plans[warehouse],
            )
        except DatakitError as exc:
            return TenantRun(warehouse, None, time.monotonic() - started, redact(str(exc)))
        except Exception as exc:
            log.warning("the run of %s for warehouse %s failed", job_name, warehouse, exc_info=True)
            error = f"internal error: {type(exc).__name__}: {redact(str(exc))}"
            return TenantRun(warehouse, None, time.monotonic() - started, error)
        return TenantRun(warehouse, result, time.monotonic() - started)

    def in_turn(group: list[str]) -> list[TenantRun]:
        return [one(warehouse) for warehouse in group]

    try:
        with ThreadPoolExecutor(max_workers=max_parallelism, thread_name_prefix="datakit-tenant") as pool:
            futures = [pool.submit(in_turn, group) for group in _sharing(plans)]
            try:
                done = {run.warehouse: run for future in futures for run in future.result()}
            except BaseException:
                cancel.set()
                for future in futures:
                    future.cancel()
                raise
    finally:
        state.close()
    return [done[name] for name in plans]


def _sharing(plans: dict[str, Plan]) -> list[list[str]]:
    """The warehouses in groups that share no exclusive key with another group (order kept)."""
    groups: list[tuple[set[str], list[str]]] = []
    for name, plan in plans.items():
        keys = {key for step in plan.steps for key in step.exclusive}
        joined = [g for g in groups if g[0] & keys]
        merged: tuple[set[str], list[str]] = (set(keys), [])
        for group in joined:
            merged[0].update(group[0])
            merged[1].extend(group[1])
            groups.remove(group)
        merged[1].append(name)
        groups.append(merged)
    order = list(plans)
    return sorted((sorted(g[1], key=order.index) for g in groups), key=lambda g: order.index(g[0]))
