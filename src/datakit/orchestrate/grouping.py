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
    grouped = _grouped_pipelines(project, plan.job)
    members: dict[str, list[LoadStep]] = {}
    for step in plan.steps:
        if (
            isinstance(step, LoadStep)
            and step.params.pipeline in grouped
            and step.params.window is None
            and not step.params.also
        ):
            members.setdefault(step.params.pipeline, []).append(step)
    groups = {pipeline: steps for pipeline, steps in members.items() if len(steps) > 1}
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
            kept.append(_merged(groups[step.params.pipeline], group, renamed))
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


def _grouped_pipelines(project: Project, job_name: str) -> set[str]:
    """The pipelines whose resources job `job_name` loads as one step."""
    job = project.job(job_name)
    return {
        project.resolve_name("pipeline", entry.name) or entry.name
        for entry in job.enabled_pipelines
        if entry.group_resources
    }


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
