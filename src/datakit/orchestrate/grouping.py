"""Grouped load steps: several small resources of one pipeline loaded by one step.

A step costs a process (forked from the step server), the project's plans, run-history records and a
destination connection, whatever it loads: tenths of a second, as much as loading a few thousand rows.
A pipeline of many small tables pays it per table. So a job may say, per pipeline, that its resources
load together (`group_resources: true` on the job's pipeline entry), and this pass, run on the plan the
local executor carries out (after `--select`/`--exclude`), turns that pipeline's load steps into one.

The rule: every load step of a pipeline whose job entry has `group_resources: true` becomes one step,
in resource order, with the first one's place in the plan, the union of their dependencies, and the
job's retry policy and timeout (the timeout is the whole group's). Steps that wait for one of them
wait for the group. A backfill's chunks are never grouped (each chunk is a window of its own), and
a pipeline of one selected resource stays an ordinary step.

Left unset, `group_resources` groups a pipeline whose load steps all share one `exclusive` key (one
DuckDB file: one writing process at a time, so its loads run one after the other whatever the plan
says) and changes nothing else: such a group's timeout is the sum of its members' (what the steps one
after the other could take), none when one of them has none. `group_resources: false` keeps a step per
resource (a resource of its own in the run table, a timeout of its own). Airflow DAGs keep a task per
resource (they serialise a DuckDB file's tasks with edges); Prefect flows and `datakit serve` run the
plan as the local executor does.

What a grouped step keeps of one step per resource (`datakit.orchestrate.steps.load_group`):
- each resource is still its own transaction and its own record in `_datakit.loads`, recorded with
  its own step id (`<pipeline>.<resource>`), so exactly-once resume asks per resource: a resumed or
  retried group skips the resources whose load committed;
- a failing resource does not stop the others nor undo their commits; the step fails naming it, and
  its details (the run page's table) give every resource's outcome, rows and error;
- `--select pipeline.resource` selects per resource: selection runs before grouping.

The group's step id is `<pipeline>.*` when it loads every resource of the pipeline, else the resource
names joined by `+` (`<pipeline>.a+b`): stable across runs of the same plan, so resume finds it.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from datakit.orchestrate.stepkinds import LoadStep, Step

if TYPE_CHECKING:
    from datakit.config.project import Project
    from datakit.orchestrate.plan import Plan


def group_loads(project: Project, plan: Plan) -> Plan:
    """`plan` with the load steps of each pipeline the job groups made one step (see the module)."""
    if plan.backfill is not None:
        return plan
    chosen = _chosen(project, plan.job)
    members: dict[str, list[LoadStep]] = {}
    for step in plan.steps:
        if (
            isinstance(step, LoadStep)
            and chosen.get(step.params.pipeline) is not False
            and step.params.window is None
            and not step.params.also
        ):
            members.setdefault(step.params.pipeline, []).append(step)
    groups = {
        pipeline: steps
        for pipeline, steps in members.items()
        if len(steps) > 1 and (chosen.get(pipeline) or _one_writer(steps))
    }
    if not groups:
        return plan
    renamed: dict[str, str] = {}
    for pipeline, steps in groups.items():
        named = group_id(project, pipeline, [s.params.resource for s in steps])
        renamed.update(dict.fromkeys((s.id for s in steps), named))
    kept: list[Step] = []
    for step in plan.steps:
        group = renamed.get(step.id)
        if group is None:
            kept.append(dataclasses.replace(step, depends_on=_renamed(step.depends_on, renamed, None)))
        elif isinstance(step, LoadStep) and all(k.id != group for k in kept):
            pipeline = step.params.pipeline
            merged = _merged(groups[pipeline], group, renamed)
            if chosen.get(pipeline) is None:
                merged = dataclasses.replace(merged, timeout=_total_timeout(groups[pipeline]))
            kept.append(merged)
    selection = plan.selection
    if selection is not None:
        why: dict[str, str] = {}
        for step_id, reason in selection.steps.items():
            key = renamed.get(step_id, step_id)
            why[key] = reason if key not in why or reason in why[key] else f"{why[key]}; {reason}"
        selection = dataclasses.replace(selection, steps=why)
    return dataclasses.replace(plan, steps=tuple(kept), selection=selection)


def group_id(project: Project, pipeline: str, resources: list[str]) -> str:
    """`<pipeline>.*` for all of the pipeline's resources, else `<pipeline>.a+b`."""
    from datakit.orchestrate.plan import resource_names

    if resources == resource_names(project, pipeline):
        return f"{pipeline}.*"
    return f"{pipeline}.{'+'.join(resources)}"


def _chosen(project: Project, job_name: str) -> dict[str, bool | None]:
    """Each pipeline of job `job_name`: its `group_resources` (None: unset, grouped on one writer)."""
    job = project.job(job_name)
    return {
        project.resolve_name("pipeline", entry.name) or entry.name: entry.group_resources
        for entry in job.enabled_pipelines
    }


def _one_writer(steps: list[LoadStep]) -> bool:
    """True when the steps write through one single-writer key, so they never run at the same time."""
    keys = {step.exclusive for step in steps}
    return len(keys) == 1 and bool(next(iter(keys)))


def _total_timeout(steps: list[LoadStep]) -> float | None:
    timeouts = [step.timeout for step in steps]
    return None if any(t is None for t in timeouts) else sum(t for t in timeouts if t is not None)


def _merged(steps: list[LoadStep], group: str, renamed: dict[str, str]) -> LoadStep:
    first = steps[0]
    depends_on: list[str] = []
    for step in steps:
        depends_on.extend(_renamed(step.depends_on, renamed, group))
    params = dataclasses.replace(first.params, also=tuple(s.params.resource for s in steps[1:]))
    return dataclasses.replace(first, id=group, params=params, depends_on=tuple(dict.fromkeys(depends_on)))


def _renamed(depends_on: tuple[str, ...], renamed: dict[str, str], own: str | None) -> tuple[str, ...]:
    """`depends_on` with grouped steps' ids replaced by their group's (and without `own` group)."""
    ids = (renamed.get(step_id, step_id) for step_id in depends_on)
    return tuple(dict.fromkeys(step_id for step_id in ids if step_id != own))
