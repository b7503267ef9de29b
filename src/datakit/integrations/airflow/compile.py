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
tell a stale file from a current one without Airflow.
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

from datakit.config.tenancy import ALL, tenant_context, warehouse_variables_used
from datakit.errors import UsageError, not_found
from datakit.integrations.airflow.schedule import DagSchedule, asset_uri, dag_schedule
from datakit.orchestrate.plan import Mode, Plan, compile_job

if TYPE_CHECKING:
    from datakit.config.project import Project

FORMAT_VERSION = 2
"""Bump when the generated source changes shape, so `check` reports every old file as stale."""
HASH_PREFIX = "# datakit-inputs-sha256: "
PROJECT_VAR = "DATAKIT_PROJECT"
"""Environment variable that overrides the project root baked into the files (a different mount)."""
DONE_TASK = "datakit_done"


@dataclass(frozen=True)
class DagFile:
    """One generated DAG file: where it goes, what it says, and what could not be expressed."""

    warehouse: str | None
    job: str
    dag_id: str
    filename: str
    source: str
    digest: str
    warnings: tuple[str, ...]


def dag_id(warehouse: str | None, job: str) -> str:
    """`datakit__<warehouse>__<job>`, or `datakit__<job>` for a job run by the project itself."""
    return f"datakit__{warehouse}__{job}" if warehouse is not None else f"datakit__{job}"


def targets(project: Project, warehouse: str = ALL, job: str | None = None) -> list[tuple[str | None, str]]:
    """The (warehouse, job) pairs to compile.

    `all`: every job of every warehouse, plus every job as the project itself (warehouse None) — also
    one that warehouses run, unless its configs read warehouse variables (`${var.NAME}`), which only a
    warehouse defines. A warehouse name: that warehouse's jobs. `job` narrows either to one job.
    """
    wanted = None
    if job is not None:
        wanted = project.resolve_name("job", job)
        if wanted is None:
            raise not_found("job", job, project.jobs)
    pairs: list[tuple[str | None, str]] = []
    if warehouse == ALL:
        for name in sorted(project.warehouses):
            pairs.extend((name, j) for j in tenant_context(project, name).jobs)
        pairs.extend((None, j) for j in sorted(project.jobs) if not warehouse_variables_used(project, j))
    else:
        tenant = tenant_context(project, warehouse)
        pairs.extend((tenant.name, j) for j in tenant.jobs)
    if wanted is not None:
        pairs = [(w, j) for w, j in pairs if j == wanted]
        if not pairs:
            raise UsageError(f"job {wanted!r} is not run by warehouse {warehouse!r}")
    return pairs


def compile_dags(
    project: Project,
    *,
    warehouse: str = ALL,
    job: str | None = None,
    out: Path | None = None,
    project_root: Path | None = None,
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> list[DagFile]:
    """Generate the DAG files of `targets(project, warehouse, job)` (in memory; see `write_dags`).

    With `select`/`exclude`, each DAG runs that part of its job (`datakit.orchestrate.selection`).

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
    return [
        _dag_file(project, w, j, root, select, exclude)
        for w, j in targets(project, warehouse=warehouse, job=job)
    ]


def _dag_file(
    project: Project,
    warehouse: str | None,
    job: str,
    root: dict[str, str],
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> DagFile:
    tenant = tenant_context(project, warehouse)
    plan = compile_job(project, job, warehouse=warehouse)
    if select or exclude:
        from datakit.orchestrate.selection import select_plan

        plan = select_plan(project, plan, select, exclude)
    namespace = warehouse if warehouse is not None else project.config.name
    schedule = dag_schedule(project, job, tenant, namespace)
    identifier = dag_id(warehouse, job)
    data = plan.as_dict()
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
        "description": project.job(job).description,
    }
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()
    return DagFile(
        warehouse=warehouse,
        job=job,
        dag_id=identifier,
        filename=f"{identifier}.py",
        source=_render(spec, plan, schedule, digest),
        digest=digest,
        warnings=tuple(f"{identifier}: {message}" for message in schedule.unsupported),
    )


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


def _render(spec: dict[str, Any], plan: Plan, schedule: DagSchedule, digest: str) -> str:
    """The DAG file's source: a header, literal data, and a few lines building the DAG from it."""
    steps: list[dict[str, Any]] = spec["plan"]["steps"]
    leaves = [s["id"] for s in steps if not any(s["id"] in o["depends_on"] for o in steps)]
    leaves = [leaf for leaf in leaves if not any(edge[0] == leaf for edge in spec["edges"])]
    names = sorted({"DAG", "Asset", "task", *schedule.names})
    where = f"warehouse {spec['warehouse']}" if spec["warehouse"] else "the project itself (no warehouse)"
    notes = "".join(f"# NOT COMPILED: {message}\n" for message in schedule.unsupported)
    triggers = ", ".join(schedule.triggers) or "none (manual runs only)"
    start = f"datetime.fromisoformat({schedule.start_date!r})" if schedule.start_date else "None"
    doc = f"datakit job {spec['plan']['job']} for {where} ({spec['environment']})."
    if spec["description"]:
        doc += f" {spec['description']}"
    return f"""\
# Generated by `datakit airflow compile` — do not edit: change the YAML and recompile.
{HASH_PREFIX}{digest}
# project {spec["project"]}, job {spec["plan"]["job"]}, {where}, environment {spec["environment"]}
# triggers: {triggers}
{notes}\"\"\"{doc}\"\"\"

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import {", ".join(names)}

PROJECT_ROOT = os.environ.get({PROJECT_VAR!r}) or {_root_expression(spec["project_root"])}
ENVIRONMENT = {spec["environment"]!r}
WAREHOUSE = {spec["warehouse"]!r}
STEPS = {_literal(steps)}
EXTRA_EDGES = {_literal([tuple(e) for e in spec["edges"]])}  # steps sharing one DuckDB file: one writer
DONE = Asset(uri={spec["asset"]!r})  # emitted when a run succeeds
LAST = {_literal(leaves[0] if len(leaves) == 1 else None)}  # the step that emits DONE (else {DONE_TASK})


def _run_step(step_id: str) -> dict[str, object]:
    \"\"\"Run one datakit step in the task's process; datakit is imported here, not at parse time.\"\"\"
    from airflow.sdk import get_current_context

    from datakit.integrations.airflow.task import run_step

    full_refresh = bool(get_current_context()["params"]["full_refresh"])
    step = next(s for s in STEPS if s["id"] == step_id)
    return run_step(PROJECT_ROOT, ENVIRONMENT, step, full_refresh=full_refresh)


def _done() -> None:
    \"\"\"Every step succeeded: emit the job's asset (downstream datakit DAGs are scheduled on it).\"\"\"


with DAG(
    dag_id={spec["dag_id"]!r},
    description={doc[:200]!r},
    schedule={schedule.expression},
    start_date={start},
    catchup={schedule.catchup!r},
    max_active_runs=1,
    max_active_tasks={plan.parallelism!r},
    params={{"full_refresh": False}},
    tags={_literal(["datakit", *([spec["warehouse"]] if spec["warehouse"] else [])])},
) as dag:
    tasks = {{}}
    for step in STEPS:
        retry = step["retry"]
        tasks[step["id"]] = task(
            _run_step,
            task_id=step["id"],
            retries=retry["max_attempts"] - 1,
            retry_delay=timedelta(seconds=retry["retry_delay"]),
            retry_exponential_backoff=2.0 if retry["exponential_backoff"] else 0,
            max_retry_delay=timedelta(seconds=retry["max_retry_delay"]),
            execution_timeout=timedelta(seconds=step["timeout"]) if step["timeout"] else None,
            outlets=[DONE] if step["id"] == LAST else [],
        )(step["id"])
    for step in STEPS:
        for upstream in step["depends_on"]:
            tasks[upstream] >> tasks[step["id"]]
    for upstream, downstream in EXTRA_EDGES:
        tasks[upstream] >> tasks[downstream]
    if LAST is None:
        done = task(_done, task_id={DONE_TASK!r}, outlets=[DONE])()
        for step in STEPS:
            tasks[step["id"]] >> done
"""


def _root_expression(root: dict[str, str]) -> str:
    if "relative" in root:  # relative to this file's folder: valid wherever the folder and project travel
        here = "os.path.dirname(os.path.abspath(__file__))"
        return f"os.path.normpath(os.path.join({here}, {root['relative']!r}))"
    return repr(root["absolute"])


def _literal(value: Any) -> str:
    """`value` as Python source (plain dicts, lists, strings, numbers): data, not code. A list is
    written one item per line (a step per line: readable, and a change shows as that step's line)."""
    if isinstance(value, list) and value:
        return "[\n" + "".join(f"    {item!r},\n" for item in value) + "]"
    return repr(value)


def write_dags(files: list[DagFile], out: Path, *, prune: bool = False) -> list[Path]:
    """Write the files into `out` (created); a file whose content is unchanged is not rewritten.

    `prune` (when `files` is the whole project): also delete generated files of (warehouse, job) pairs
    that no longer exist, so Airflow stops scheduling a job removed from the YAML. Files datakit did
    not write (no hash header) are never touched.
    """
    out.mkdir(parents=True, exist_ok=True)
    if prune:
        for name in _extra(files, out):
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
    """What `check` found: files to regenerate, files to create, and generated files to delete."""

    stale: tuple[str, ...]
    missing: tuple[str, ...]
    extra: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not (self.stale or self.missing or self.extra)


def check_dags(files: list[DagFile], out: Path, *, complete: bool = True) -> Staleness:
    """Compare `out` with freshly compiled `files`.

    Stale: the hash in the header differs (the YAML changed) or the text does (edited by hand). Extra
    (only when `files` is the `complete` project): a file in `out` that says it was generated by
    datakit but matches no current (warehouse, job).
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
    extra = _extra(files, out) if complete else []
    return Staleness(stale=tuple(stale), missing=tuple(missing), extra=tuple(extra))


def _extra(files: list[DagFile], out: Path) -> list[str]:
    if not out.is_dir():
        return []
    expected = {f.filename for f in files}
    return sorted(p.name for p in out.glob("*.py") if p.name not in expected and _generated(p))


def file_digest(path: Path) -> str | None:
    """The inputs hash in a generated file's header, or None for a file datakit did not write."""
    with path.open(encoding="utf-8") as handle:
        for _, line in zip(range(3), handle, strict=False):
            if line.startswith(HASH_PREFIX):
                return line[len(HASH_PREFIX) :].strip()
    return None


def _generated(path: Path) -> bool:
    return file_digest(path) is not None
