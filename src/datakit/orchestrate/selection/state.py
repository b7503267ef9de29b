"""`state:failed`: the part of the job's last run that did not succeed, node by node, from run history.

The last run is the latest finished run of the same job for the same warehouse (the run being
planned is not started yet). What did not succeed:

- a load or check suite step that failed, was skipped, or never finished (an abandoned run);
- of a dbt step that ran, each node dbt reported as failing (`error`, `fail`, `runtime error`) or
  skipped — dbt's own results, kept in the step's details; a dbt step that produced no results (it
  failed before running any node), or did not run, counts with every node it was to run (the nodes
  its run selected, when that run was itself a selection).

`state:failed` then re-runs exactly that; `state:failed+` also what is downstream of it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from datakit.errors import UsageError
from datakit.orchestrate.store import ACTIVE, StepStatus

if TYPE_CHECKING:
    from datakit.orchestrate.plan import Plan
    from datakit.orchestrate.selection.graph import SelectionGraph
    from datakit.orchestrate.store import RunRecord, StateStore

STATES = ("failed",)
_OK_STEPS = frozenset({StepStatus.SUCCEEDED.value, StepStatus.REUSED.value})
_OK_NODES = frozenset({"success", "pass", "warn", "no-op"})
_HISTORY = 500
"""How many of the latest runs of the job are looked through for the warehouse's last one."""


def last_run(store: StateStore, plan: Plan) -> RunRecord | None:
    """The latest finished run of the plan's job and warehouse (with its steps), or None."""
    for run in store.list_runs(job=plan.job, limit=_HISTORY):
        if run.warehouse == plan.warehouse and run.status not in ACTIVE:
            return store.get_run(run.id)
    return None


def nodes_in_state(value: str, graph: SelectionGraph, plan: Plan, store: StateStore) -> set[str]:
    """The graph's nodes in state `value` after the job's last run; UsageError when it cannot tell."""
    if value not in STATES:
        raise UsageError(f"state:{value} is not a state datakit knows", hint=f"states: {', '.join(STATES)}")
    where = f" for warehouse {plan.warehouse}" if plan.warehouse else ""
    run = last_run(store, plan)
    if run is None:
        raise UsageError(
            f"state:failed needs a finished run of job {plan.job}{where}, and there is none",
            hint=f"run it first: datakit run job {plan.job}",
        )
    old = _old_plan(run.plan)
    selected = (old.get("selection") or {}).get("nodes") or {}
    kinds = {step["id"]: step.get("kind") for step in old.get("steps", []) if isinstance(step, dict)}
    found: set[str] = set()
    for step in run.steps:
        if step.status in _OK_STEPS:
            continue
        kind = kinds.get(step.step_id)
        if kind == "load":
            found.add(f"load:{step.step_id}")
        elif kind == "checks":
            found.add(f"checks:{step.step_id}")
        elif kind == "dbt":
            found |= _dbt_nodes(step.step_id, step.status, step.details, selected, graph)
    if not found:
        from datakit.orchestrate.selection.evaluate import NothingSelected

        raise NothingSelected(
            f"state:failed: nothing failed in run {run.id}, the last run of job {plan.job}{where} "
            f"({run.status})",
            hint=f"`datakit runs show {run.id}` shows it",
        )
    return found


def _old_plan(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _dbt_nodes(
    step_id: str,
    status: str,
    details: dict[str, Any] | None,
    selected: dict[str, Any],
    graph: SelectionGraph,
) -> set[str]:
    results = (details or {}).get("nodes") or []
    if status == StepStatus.FAILED.value and results:
        return {str(r["unique_id"]) for r in results if str(r.get("status")) not in _OK_NODES}
    if step_id in selected:  # the run ran part of the step: that part did not run
        return set(selected[step_id])
    return {node.id for node in graph.nodes.values() if step_id in node.steps}
