"""A job's plan narrowed to the chosen nodes: fewer steps, dbt steps running part of theirs.

- A load or check suite step stays when its node was chosen.
- A dbt step stays when some node it runs was chosen. When all of them were, it runs as the job says
  (its own `select`); otherwise its `select` becomes the chosen nodes by fully qualified name
  (`fqn:pagila.silver.customer`, dbt's exact spelling of one node), with no `exclude` and
  `indirect_selection: empty` — the tests to run are chosen already, so dbt runs exactly those nodes.
- Each kept step waits for what it waited for in the job, and, where that was a step left out, for what
  that one waited for in turn: leaving `silver_checks` out does not let `gold` start before `silver`.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from datakit.orchestrate.plan import Plan, Selection
from datakit.orchestrate.stepkinds import DbtStep, Step

if TYPE_CHECKING:
    from datakit.orchestrate.selection.graph import SelectionGraph


def narrow(
    plan: Plan,
    graph: SelectionGraph,
    chosen: dict[str, str],
    select: tuple[str, ...],
    exclude: tuple[str, ...],
) -> Plan:
    """`plan` with only the steps that run chosen nodes, each with why (`Plan.selection`)."""
    by_step: dict[str, list[str]] = {}
    for node_id in chosen:
        for step_id in graph.nodes[node_id].steps:
            by_step.setdefault(step_id, []).append(node_id)
    kept: list[Step] = []
    why: dict[str, str] = {}
    nodes: dict[str, dict[str, str]] = {}
    labels: dict[str, str] = {}
    for step in plan.steps:
        mine = by_step.get(step.id)
        if not mine:
            continue
        if isinstance(step, DbtStep):
            runs = [n.id for n in graph.nodes.values() if step.id in n.steps]
            if len(mine) < len(runs):
                nodes[step.id] = {node: chosen[node] for node in mine}
                labels.update({node: graph.nodes[node].label for node in mine})
                why[step.id] = f"{len(mine)} of its {len(runs)} dbt nodes: " + _reasons(mine, chosen)
                kept.append(_narrowed(step, graph, mine))
                continue
            why[step.id] = f"all {len(runs)} of its dbt nodes: " + _reasons(mine, chosen)
        else:
            why[step.id] = chosen[mine[0]]
        kept.append(step)
    kept = _rewired(plan, kept)
    selection = Selection(select=select, exclude=exclude, steps=why, nodes=nodes, labels=labels)
    return dataclasses.replace(plan, steps=tuple(kept), selection=selection)


def _narrowed(step: DbtStep, graph: SelectionGraph, node_ids: list[str]) -> DbtStep:
    names = sorted("fqn:" + ".".join(graph.nodes[n].fqn) for n in node_ids)
    params = dataclasses.replace(
        step.params, select=" ".join(names), exclude=None, indirect_selection="empty"
    )
    return dataclasses.replace(step, params=params)


def _reasons(node_ids: list[str], chosen: dict[str, str]) -> str:
    """The distinct reasons, most common first (a step of 40 nodes does not list 40 lines)."""
    counts: dict[str, int] = {}
    for node in node_ids:
        reason = chosen[node]
        counts[reason] = counts.get(reason, 0) + 1
    ordered = sorted(counts.items(), key=lambda item: -item[1])
    shown = [f"{reason}" + (f" (x{count})" if count > 1 else "") for reason, count in ordered[:3]]
    more = len(ordered) - 3
    return "; ".join(shown) + (f"; and {more} more reasons" if more > 0 else "")


def _rewired(plan: Plan, kept: list[Step]) -> list[Step]:
    """Each kept step's dependencies, reaching through the steps left out."""
    ids = {step.id for step in kept}
    original = {step.id: step.depends_on for step in plan.steps}
    memo: dict[str, tuple[str, ...]] = {}

    def nearest(step_id: str) -> tuple[str, ...]:
        if step_id in memo:
            return memo[step_id]
        found: list[str] = []
        for dep in original.get(step_id, ()):
            found.extend([dep] if dep in ids else nearest(dep))
        memo[step_id] = tuple(dict.fromkeys(found))
        return memo[step_id]

    return [dataclasses.replace(step, depends_on=nearest(step.id)) for step in kept]
