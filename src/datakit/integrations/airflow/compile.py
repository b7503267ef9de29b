"""Plans -> static Airflow 3 DAG files: one per (warehouse, job), no YAML read inside Airflow.

Airflow's DAG processor re-imports every DAG file every few seconds, in every scheduler; a file that
loaded the project (YAML, pydantic, datakits) on each parse would be slow and would fail whenever the
project is mid-edit. So compilation happens once, here, in datakit — it never imports Airflow — and each
file carries its plan as literal data: each step as `step_data` writes it (the one form a step travels
in: id, kind, typed parameters, dependencies, retry policy, timeout), plus the project root, environment
and warehouse. Importing a file builds the DAG from that data with
`airflow.sdk` only; datakit itself is imported when a task runs (`task.run_step`, which calls the same
`run_step_here` the local executor's child processes run).

Mapping of the plan onto Airflow (DESIGN.md 3.4: one plan, many executors):

* one task per step (`task_id` = step id); `depends_on` -> upstream tasks; `sequential` mode is a chain
  in plan order, `parallel` has no edges; steps sharing an `exclusive` key (one DuckDB file: one
  writer) are additionally chained in plan order, since Airflow would otherwise run them at once;
* retries = max_attempts - 1, `retry_delay`, `retry_exponential_backoff` (Airflow 3 takes a
  multiplier: 2.0 doubles like datakit's backoff), `max_retry_delay`, `execution_timeout` = timeout;
* `max_active_tasks` = the plan's parallelism, `max_active_runs=1` (a job has one active run). Not
  `fail_fast` for `continue_on_failure: false`: in Airflow 3.3 fail_fast marks the pending tasks
  *skipped*, and a run whose leaves are skipped ends `success` although a step failed. Without it a
  failed step's downstream tasks are `upstream_failed` and the run fails; only independent branches
  still finish (as with `continue_on_failure: true`);
* schedule from the triggers (`schedule.py`); the DAG's last task emits the asset
  `datakit://<warehouse>/<job>` on success, which DAGs of `job_succeeded` event triggers schedule on.

Each file starts with a hash of everything it was generated from, so `datakit airflow check` (CI) can
tell a stale file from a current one without Airflow, and with the name of the project that wrote it:
several projects may compile into one dags folder, and a project prunes, overwrites and checks only its
own files (`check` lists the others as foreign; `compile` refuses to overwrite one).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from datakit.config.models.project import SqliteState
from datakit.config.tenancy import ALL, tenant_context, warehouse_jobs
from datakit.errors import UsageError
from datakit.integrations.airflow.describe import Describer, dag_doc
from datakit.integrations.airflow.render import HASH_PREFIX, OWNER_PREFIX, render
from datakit.integrations.airflow.schedule import asset_uri, dag_schedule, job_triggers
from datakit.orchestrate.plan import Mode, Plan, compile_job

if TYPE_CHECKING:
    from datakit.config.models.jobs import Job
    from datakit.config.project import Project
    from datakit.config.tenancy import Tenant
    from datakit.integrations.airflow.describe import StepInfo

FORMAT_VERSION = 5
"""Bump when the generated source changes shape, so `check` reports every old file as stale."""
HEADER_LINES = 4
UNKNOWN = "?"
"""The owner of a file written by a datakit before ownership was tracked: overwritten, never pruned."""


@dataclass(frozen=True)
class DagFile:
    """One generated DAG file: where it goes, what it says, and what could not be expressed."""

    project: str
    warehouse: str | None
    job: str
    dag_id: str
    filename: str
    source: str
    digest: str
    warnings: tuple[str, ...]
    pools: tuple[Pool, ...] = ()
    """The Airflow pools its tasks run in (`datakit airflow pools` writes them for `airflow pools import`)."""


@dataclass(frozen=True, order=True)
class Pool:
    """An Airflow pool compiled DAGs use: its name, size, and the destination it guards."""

    name: str
    slots: int
    destination: str


def dag_id(warehouse: str | None, job: str) -> str:
    """`datakit__<warehouse>__<job>`, or `datakit__<job>` for a job run by the project itself."""
    return f"datakit__{warehouse}__{job}" if warehouse is not None else f"datakit__{job}"


def compile_dags(
    project: Project,
    *,
    warehouse: str = ALL,
    job: str | None = None,
    out: Path | None = None,
    project_root: Path | None = None,
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    executor: str | None = None,
) -> list[DagFile]:
    """Generate the DAG files of `warehouse_jobs(project, warehouse, job)` (in memory; see `write_dags`).

    With `select`/`exclude`, each DAG runs that part of its job (`datakit.orchestrate.selection`).
    `executor`: the Airflow executor the files will run on (default: the project's `airflow.executor`,
    else `$AIRFLOW__CORE__EXECUTOR`, else LocalExecutor); on one that spreads tasks over several hosts, a
    job writing a DuckDB file is warned about.

    Where the files find the project: `project_root` when given (the path Airflow's workers see), else,
    when the folder `out` they go to is known, the project's path *relative to that folder* (so the
    files stay valid, and `check` stays green, in any checkout or DAG bundle holding both), else the
    project's absolute path. `DATAKIT_PROJECT` overrides it at run time.
    """
    if project_root is not None:
        root = {"absolute": str(project_root)}
    elif out is not None:
        root = {"relative": os.path.relpath(project.root.resolve(), out.resolve())}
    else:
        root = {"absolute": str(project.root.resolve())}
    describer = Describer(project)
    pairs = warehouse_jobs(project, warehouse, job)
    executor = executor or project.config.airflow.executor or os.environ.get(EXECUTOR_VAR) or "LocalExecutor"
    return [_dag_file(project, describer, w, j, root, executor, select, exclude) for w, j in pairs]


def _dag_file(
    project: Project,
    describer: Describer,
    warehouse: str | None,
    job: str,
    root: dict[str, str],
    executor: str,
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> DagFile:
    tenant = tenant_context(project, warehouse)
    plan = compile_job(project, job, warehouse=warehouse)
    if select or exclude:
        from datakit.orchestrate.selection import select_plan

        plan = select_plan(project, plan, select, exclude)
    config = project.job(job)
    namespace = warehouse if warehouse is not None else project.config.name
    schedule = dag_schedule(project, job, tenant, namespace)
    identifier = dag_id(warehouse, job)
    data = plan.as_dict()
    infos = {step.id: describer.step(tenant, step) for step in plan.steps}
    not_compiled = [*schedule.unsupported, *_not_compiled(plan)]
    cautions = _files_on_hosts(project, infos, executor)
    triggers = job_triggers(project, job, tenant)
    tags = ["datakit", *([warehouse] if warehouse else []), *config.tags]
    tags += [tag for trigger in triggers for tag in trigger.tags]
    if warehouse is not None:
        tags += project.warehouse(warehouse).tags
    notify = [
        event
        for event, wanted in (
            ("failed", config.notifications.on_failure),
            ("succeeded", config.notifications.on_success),
        )
        if wanted and config.notifications.channels
    ]
    spec: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "dag_id": identifier,
        "project": project.config.name,
        "project_root": root,
        "environment": project.environment,
        "warehouse": warehouse,
        "plan": {**data, "steps": _step_literal(plan.mode, data["steps"])},
        "edges": [list(edge) for edge in _exclusive_edges(plan)],
        "schedule": {
            "expression": schedule.expression,
            "names": list(schedule.names),
            "catchup": schedule.catchup,
            "start_date": schedule.start_date,
            "unsupported": list(schedule.unsupported),
            "triggers": list(schedule.triggers),
        },
        "asset": asset_uri(namespace, job),
        "description": config.description,
        "display_name": f"{job} ({warehouse})" if warehouse else job,
        "owner": config.owner or "datakit",
        "tags": list(dict.fromkeys(tag[:100] for tag in tags)),
        "tasks": {
            step_id: {
                "task_display_name": i.display,
                "doc_md": i.doc(),
                **_scheduling(project, tenant, config, i),
            }
            for step_id, i in infos.items()
        },
        "sla": plan.sla,
        "notify": notify,
        "not_compiled": not_compiled,
        "cautions": cautions,
    }
    spec["doc_md"] = dag_doc(spec, config, infos, triggers)
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()
    return DagFile(
        project=project.config.name,
        warehouse=warehouse,
        job=job,
        dag_id=identifier,
        filename=f"{identifier}.py",
        source=render(spec, digest),
        digest=digest,
        warnings=tuple(f"{identifier}: {message}" for message in [*not_compiled, *cautions]),
        pools=tuple(sorted({p for i in infos.values() if (p := _pool(project, i.destination)) is not None})),
    )


def _pool(project: Project, destination: str) -> Pool | None:
    """The pool of tasks working in `destination` (None: pools per destination are off)."""
    settings = project.config.airflow
    if not settings.pool_per_destination:
        return None
    own = project.destination(destination).airflow
    return Pool(
        name=own.pool or f"datakit__{destination}",
        slots=own.pool_slots or settings.pool_slots,
        destination=destination,
    )


def _scheduling(project: Project, tenant: Tenant, job: Job, info: StepInfo) -> dict[str, Any]:
    """A task's pool, priority_weight and queue: the warehouse's over the job's over the project's;
    a setting nobody gave is left to Airflow's default."""
    layers = [project.config.airflow, job.airflow]
    if tenant.name is not None:
        layers.append(project.warehouse(tenant.name).airflow)
    found: dict[str, Any] = {}
    for layer in layers:
        found.update(
            {k: v for k, v in (("priority_weight", layer.priority_weight), ("queue", layer.queue)) if v}
        )
    pool = _pool(project, info.destination)
    if pool is not None:
        found["pool"] = pool.name
    return found


def pools(files: list[DagFile]) -> tuple[dict[str, Pool], list[str]]:
    """The pools `files` use, by name (a pool shared by destinations is as large as the largest asks),
    and a warning for each pool whose destinations ask for different sizes."""
    found: dict[str, Pool] = {}
    warnings: list[str] = []
    for pool in sorted({p for f in files for p in f.pools}, key=lambda p: (p.name, p.destination)):
        seen = found.get(pool.name)
        if seen is not None and seen.slots != pool.slots:
            warnings.append(
                f"pool {pool.name!r}: destinations {seen.destination!r} and {pool.destination!r} ask for "
                f"{seen.slots} and {pool.slots} slots; it gets {max(seen.slots, pool.slots)}"
            )
        if seen is None or pool.slots > seen.slots:
            found[pool.name] = pool
    return found, warnings


SINGLE_HOST = frozenset({"LocalExecutor", "SequentialExecutor", "DebugExecutor"})
"""Executors whose tasks all run on the scheduler's host (Airflow's names; anything else may spread)."""
EXECUTOR_VAR = "AIRFLOW__CORE__EXECUTOR"


def _on_one_host(executor: str) -> bool:
    """Whether every executor named (Airflow 3 accepts a comma-separated list, module paths allowed)
    runs its tasks on the scheduler's host."""
    names = {part.strip().split(":")[-1].rsplit(".", 1)[-1] for part in executor.split(",") if part.strip()}
    return names <= SINGLE_HOST


def _files_on_hosts(project: Project, infos: dict[str, StepInfo], executor: str) -> list[str]:
    """The warnings of a DAG compiled for an executor whose workers are on several hosts, about what
    would be a file of its own on each host: a DuckDB destination, and a SQLite run history."""
    if _on_one_host(executor):
        return []
    found = _duckdb_on_hosts(project, infos, executor)
    state = project.config.state
    if isinstance(state, SqliteState):
        found.append(
            f"the run history is a SQLite file ({state.path}), and {executor} runs tasks on several "
            "hosts: each would keep a history of its own — use the PostgreSQL state store "
            "(`state: {type: postgres, ...}` in datakit.yaml)"
        )
    return found


def _duckdb_on_hosts(project: Project, infos: dict[str, StepInfo], executor: str) -> list[str]:
    """A warning per DuckDB destination: each host would write a file of its own (and read another's
    stale one)."""
    found = []
    for destination in sorted({info.destination for info in infos.values()}):
        config = project.destination(destination)
        if config.type == "duckdb":
            found.append(
                f"destination {destination!r} is a DuckDB file ({config.connection.database}), and "
                f"{executor} runs tasks on several hosts: each would write a file of its own — use a "
                "database server (PostgreSQL) for it, or a single-host executor (LocalExecutor)"
            )
    return found


def _not_compiled(plan: Plan) -> list[str]:
    """What of the plan's execution settings Airflow does differently, said at compile time."""
    if plan.continue_on_failure or _one_chain(plan):
        return []
    return [
        "continue_on_failure: false is not compiled: Airflow stops only the steps downstream of a failed "
        "one (they end upstream_failed), the other branches still run"
    ]


def _one_chain(plan: Plan) -> bool:
    """Whether the steps (with their one-writer edges) run one at a time: no branch to stop."""
    upstream = {step.id: set(step.depends_on) for step in plan.steps}
    if plan.mode == "sequential":
        return True
    if plan.mode == "parallel":
        for step in upstream.values():
            step.clear()
    for before, after in _exclusive_edges(plan):
        upstream[after].add(before)
    reach: dict[str, set[str]] = {}
    for step_id in _priority_order(plan):
        reach[step_id] = set(upstream[step_id]).union(*(reach[u] for u in upstream[step_id]))
    order = _priority_order(plan)
    return all(a in reach[b] for a, b in itertools.pairwise(order))


def _exclusive_edges(plan: Plan) -> list[tuple[str, str]]:
    """Edges that keep steps sharing an `exclusive` key (a DuckDB file) from running at once.

    The local executor serialises such steps at run time; Airflow cannot, so they are chained in a
    topological order that follows plan order (a chain along a topological order cannot make a cycle).
    An edge already implied by the plan's own dependencies is not repeated.
    """
    if plan.mode == "sequential":
        return []  # already one chain
    order = _priority_order(plan)
    dag = plan.dag
    edges: list[tuple[str, str]] = []
    last: dict[str, str] = {}
    for step_id in order:
        for key in plan.step(step_id).exclusive:
            previous = last.get(key)
            if previous is not None and step_id not in dag.downstream(previous):
                edges.append((previous, step_id))
            last[key] = step_id
    return list(dict.fromkeys(edges))


def _priority_order(plan: Plan) -> list[str]:
    """Kahn's algorithm taking, among ready steps, the one earliest in the plan (deterministic)."""
    position = {step.id: index for index, step in enumerate(plan.steps)}
    waiting = {step.id: set(step.depends_on) for step in plan.steps}
    done: list[str] = []
    while waiting:
        ready = min((s for s, ups in waiting.items() if not ups), key=position.__getitem__)
        done.append(ready)
        del waiting[ready]
        for ups in waiting.values():
            ups.discard(ready)
    return done


def _step_literal(mode: Mode, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The steps (`step_data`, changed in place) as the file's literal data; sequential mode's chain is
    written as dependencies."""
    for step in steps:
        # `exclusive` holds absolute paths (DuckDB files); it is compiled into EXTRA_EDGES instead, so
        # the files do not depend on where the project was checked out
        del step["exclusive"]
    if mode == "sequential":
        for previous, step in itertools.pairwise(steps):
            step["depends_on"] = [previous["id"]]
    elif mode == "parallel":
        for step in steps:
            step["depends_on"] = []
    return steps


def write_dags(files: list[DagFile], out: Path, *, project: str, prune: bool = False) -> list[Path]:
    """Write the files of `project` into `out` (created); a file whose content is unchanged is not rewritten.

    `prune` (when `files` is the whole project): also delete this project's generated files of
    (warehouse, job) pairs that no longer exist, so Airflow stops scheduling a job removed from the
    YAML. Files of other projects, and files datakit did not write, are never touched; overwriting
    another project's file (two projects with a job of one name) is an error, before anything is written.
    """
    out.mkdir(parents=True, exist_ok=True)
    clashes = [
        (f.filename, owner)
        for f in files
        if (out / f.filename).exists()
        and (owner := file_owner(out / f.filename)) not in (project, None, UNKNOWN)
    ]
    if clashes:
        name, owner = clashes[0]
        raise UsageError(
            f"{out / name} belongs to project {owner!r}: project {project!r} would overwrite it "
            f"({len(clashes)} such file{'s' if len(clashes) != 1 else ''})",
            hint="compile the projects into folders of their own, or rename the job",
        )
    if prune:
        for name in _extra(files, out, project):
            (out / name).unlink()
    written: list[Path] = []
    for dag_file in files:
        path = out / dag_file.filename
        if not path.exists() or path.read_text(encoding="utf-8") != dag_file.source:
            temporary = path.with_suffix(".py.tmp")
            temporary.write_text(dag_file.source, encoding="utf-8")
            temporary.replace(path)  # the DAG processor never sees half a file
        written.append(path)
    return written


@dataclass(frozen=True)
class Staleness:
    """What `check` found: files to regenerate, to create, to delete, and other projects' files."""

    stale: tuple[str, ...]
    missing: tuple[str, ...]
    extra: tuple[str, ...]
    foreign: tuple[tuple[str, str], ...] = ()
    """(file, owning project) of generated files of other projects: not this project's to judge."""

    @property
    def ok(self) -> bool:
        return not (self.stale or self.missing or self.extra)


def check_dags(files: list[DagFile], out: Path, *, project: str, complete: bool = True) -> Staleness:
    """Compare `out` with freshly compiled `files` of `project`.

    Stale: the hash in the header differs (the YAML changed) or the text does (edited by hand). Extra
    (only when `files` is the `complete` project): a file in `out` that this project generated but
    that matches no current (warehouse, job). Foreign: a file another project generated.
    """
    expected = {f.filename: f for f in files}
    stale: list[str] = []
    missing: list[str] = []
    for name, dag_file in sorted(expected.items()):
        path = out / name
        if not path.exists():
            missing.append(name)
        elif path.read_text(encoding="utf-8") != dag_file.source:
            stale.append(name)
    extra = _extra(files, out, project) if complete else []
    foreign = []
    if out.is_dir():
        for path in sorted(out.glob("*.py")):
            owner = file_owner(path)
            if owner is not None and owner != project and path.name not in expected:
                foreign.append((path.name, owner))
    return Staleness(stale=tuple(stale), missing=tuple(missing), extra=tuple(extra), foreign=tuple(foreign))


def _extra(files: list[DagFile], out: Path, project: str) -> list[str]:
    if not out.is_dir():
        return []
    expected = {f.filename for f in files}
    return sorted(p.name for p in out.glob("*.py") if p.name not in expected and file_owner(p) == project)


def _header(path: Path) -> dict[str, str]:
    """The datakit lines of a file's header (prefix -> value)."""
    found: dict[str, str] = {}
    try:
        with path.open(encoding="utf-8") as handle:
            for _, line in zip(range(HEADER_LINES), handle, strict=False):
                for prefix in (HASH_PREFIX, OWNER_PREFIX):
                    if line.startswith(prefix):
                        found[prefix] = line[len(prefix) :].strip()
    except (OSError, UnicodeDecodeError):  # unreadable: not ours
        return {}
    return found


def file_digest(path: Path) -> str | None:
    """The inputs hash in a generated file's header, or None for a file datakit did not write."""
    return _header(path).get(HASH_PREFIX)


def file_owner(path: Path) -> str | None:
    """The project that generated `path`; `?` for a file of a datakit that did not say (before ownership
    was tracked: nobody prunes it), None for a file datakit did not write."""
    header = _header(path)
    if HASH_PREFIX not in header:
        return None
    return header.get(OWNER_PREFIX, UNKNOWN)
