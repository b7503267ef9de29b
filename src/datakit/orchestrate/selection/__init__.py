"""Selection across a whole plan: `--select` / `--exclude` over loads, dbt nodes and check suites alike.

    plan = compile_job(project, "pagila_daily")
    plan = select_plan(project, plan, select=["+silver.customer"])   # the customer load, silver.customer

One grammar (`grammar`: dbt's, with `layer:`, `source:`, `state:failed` and friends) over one graph
(`graph`, built by `build` from the plan: loads, dbt's own nodes and edges, check suites, and the
tables between them), evaluated by `evaluate` and applied by `narrow`. The result is an ordinary plan
(fewer steps; dbt steps narrowed to nodes dbt selects exactly), with `Plan.selection` saying why each
step is there, so every executor — local, Airflow, Prefect — runs a selection without knowing of it.

Nothing is parsed when nothing is selected: `compile_job` alone stays instant. A selection parses each
dbt project of the plan once (dbt itself, partial parsing), and opens the run history only for `state:`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from datakit.orchestrate.selection.evaluate import NothingSelected
from datakit.orchestrate.selection.grammar import METHODS

if TYPE_CHECKING:
    from datakit.config.project import Project
    from datakit.orchestrate.plan import Plan
    from datakit.orchestrate.selection.graph import SelectionGraph
    from datakit.orchestrate.store import StateStore

__all__ = ["METHODS", "NothingSelected", "select_plan", "selected_job"]


def selected_job(
    project: Project,
    job_name: str,
    warehouse: str | None = None,
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    *,
    store: StateStore | None = None,
) -> Plan:
    """The plan of job `job_name` (for `warehouse`) narrowed to `select` minus `exclude`."""
    from datakit.orchestrate.plan import compile_job

    return select_plan(project, compile_job(project, job_name, warehouse), select, exclude, store=store)


def select_plan(
    project: Project,
    plan: Plan,
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    *,
    store: StateStore | None = None,
    graph: SelectionGraph | None = None,
) -> Plan:
    """`plan` narrowed to `select` minus `exclude` (see the package docstring); `plan` itself when both
    are empty. A UsageError for a bad selector or a selection of nothing. `store` answers `state:`
    (default: the project's); `graph` spares building the graph again."""
    from datakit.orchestrate.selection.build import build_graph
    from datakit.orchestrate.selection.evaluate import evaluate
    from datakit.orchestrate.selection.grammar import parse
    from datakit.orchestrate.selection.narrow import narrow
    from datakit.orchestrate.stepkinds import DbtStep

    chosen_select, chosen_exclude = parse(select, "--select"), parse(exclude, "--exclude")
    if not chosen_select and not chosen_exclude:
        return plan
    graph = graph if graph is not None else build_graph(project, plan)
    opened: list[StateStore] = []

    def state(value: str) -> set[str]:
        from datakit.orchestrate.selection.state import nodes_in_state

        if store is not None:
            return nodes_in_state(value, graph, plan, store)
        if not opened:
            from datakit.orchestrate.store import open_store

            opened.append(open_store(project))
        return nodes_in_state(value, graph, plan, opened[0])

    modes = {s.id: s.params.indirect_selection for s in plan.steps if isinstance(s, DbtStep)}
    indirect = {
        node.id: modes[node.steps[0]] for node in graph.runnable() if node.is_test and node.steps[0] in modes
    }
    try:
        chosen = evaluate(graph, chosen_select, chosen_exclude, job=plan.job, state=state, indirect=indirect)
    finally:
        for handle in opened:
            handle.close()
    return narrow(
        plan,
        graph,
        chosen,
        tuple(s.text for s in chosen_select),
        tuple(s.text for s in chosen_exclude),
    )
