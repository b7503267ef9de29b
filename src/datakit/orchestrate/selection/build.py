"""Build the selection graph of a compiled plan: its loads, its dbt steps' nodes, its check suites.

Loads come from the plan's load steps and the tables the loader writes (`transform.bronze`); dbt nodes
from dbt itself (`transform.graph`: one parse per dbt project, destination and vars, and `dbt ls` for
each step's own selection); check suites from the tables their checks read (`lineage.checks`). The
edges between them are the tables: a dbt source reads the table a load fills — matched by the
generated sources' names (`br__pagila__public.rental`), or by schema and table for sources a user
wrote — and a check suite reads the models' and loads' relations. A check suite whose tables are
none of those waits, as in the job, for the steps it `depends_on`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from datakit.orchestrate.selection.graph import Node, SelectionGraph
from datakit.orchestrate.stepkinds import ChecksStep, DbtStep, LoadStep

if TYPE_CHECKING:
    from pathlib import Path

    from datakit.config.project import Project
    from datakit.config.tenancy import Tenant
    from datakit.orchestrate.plan import Plan
    from datakit.transform.graph import DbtNode

Relation = tuple[str, str, str]
"""(destination, schema, table)."""


def build_graph(project: Project, plan: Plan) -> SelectionGraph:
    """The graph of `plan` (for its warehouse, if any)."""
    from datakit.config.tenancy import tenant_context

    tenant = tenant_context(project, plan.warehouse)
    graph = SelectionGraph()
    relations: dict[Relation, list[str]] = {}
    for step in plan.steps:
        if isinstance(step, LoadStep):
            _add_load(project, tenant, graph, relations, step)
    _add_dbt(project, tenant, graph, relations, [s for s in plan.steps if isinstance(s, DbtStep)])
    for step in plan.steps:
        if isinstance(step, ChecksStep):
            _add_checks(project, graph, relations, step)
    return graph


def _relative(project: Project, path: Path) -> str:
    try:
        return path.resolve().relative_to(project.root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _origin(project: Project, kind: str, name: str) -> list[str]:
    origin = project.origins.get((kind, name))
    return [_relative(project, origin.file)] if origin is not None else []


def _add_load(
    project: Project,
    tenant: Tenant,
    graph: SelectionGraph,
    relations: dict[Relation, list[str]],
    step: LoadStep,
) -> None:
    from datakit.transform.bronze import resource_tables

    pipeline = project.pipeline(step.params.pipeline)
    source_name = project.resolve_name("source", pipeline.source.ref) or pipeline.source.ref
    source = project.source(source_name)
    destination = tenant.destination_for(
        project.resolve_name("destination", pipeline.destination.ref) or pipeline.destination.ref
    )
    table = resource_tables(project, pipeline.name).get(step.params.resource)
    names = [step.id]
    sources = [source.name]
    node_id = f"load:{step.id}"
    if table is not None:
        schema, name = table
        names.append(f"{schema}.{name}")
        sources += [schema, f"{schema}.{name}"]
        for key in {(destination, schema, name), (destination, tenant.schema(schema), name)}:
            relations.setdefault(key, []).append(node_id)
    graph.add(
        Node(
            id=node_id,
            kind="load",
            label=step.id,
            names=tuple(names),
            steps=(step.id,),
            tags=tuple(dict.fromkeys((*pipeline.tags, *source.tags))),
            layer=pipeline.destination.layer,
            sources=tuple(sources),
            paths=(*_origin(project, "pipeline", pipeline.name), *_origin(project, "source", source.name)),
            resource_type="load",
        )
    )


def _add_dbt(
    project: Project,
    tenant: Tenant,
    graph: SelectionGraph,
    relations: dict[Relation, list[str]],
    steps: list[DbtStep],
) -> None:
    """Every dbt project the steps run, parsed once per (project, destination, vars)."""
    import json

    from datakit.transform.graph import dbt_graph
    from datakit.transform.invocation import DbtInvocation

    groups: dict[tuple[str, str, str], list[DbtStep]] = {}
    for step in steps:
        p = step.params
        key = (p.project_dir, p.destination, json.dumps(p.vars, sort_keys=True, default=str))
        groups.setdefault(key, []).append(step)
    for (project_dir, destination, _), members in groups.items():
        invocations = [
            DbtInvocation(
                project_dir=s.params.project_dir,
                command=s.params.command,
                select=s.params.select,
                exclude=s.params.exclude,
                indirect_selection=s.params.indirect_selection,
            )
            for s in members
        ]
        parsed = dbt_graph(
            project,
            invocations,
            destination=destination,
            vars=dict(members[0].params.vars),
            tenant=tenant if tenant.name is not None else None,
        )
        runs_by: dict[str, list[str]] = {}
        for step, run in zip(members, parsed.runs, strict=True):
            for unique_id in run:
                runs_by.setdefault(unique_id, []).append(step.id)
        for unique_id, dbt_node in parsed.nodes.items():
            graph.add(_dbt_node(project_dir, dbt_node, tuple(runs_by.get(unique_id, ())), steps))
        for dbt_node in parsed.nodes.values():
            _dbt_edges(graph, relations, destination, dbt_node)


def _dbt_node(project_dir: str, node: DbtNode, steps: tuple[str, ...], all_steps: Iterable[DbtStep]) -> Node:
    from datakit.lineage.dbt import layer_of

    label = ".".join(node.fqn[1:]) or node.name
    names = [label, ".".join(node.fqn), node.name]
    if node.schema and node.relation and node.resource_type in ("model", "seed", "snapshot"):
        names.append(f"{node.schema}.{node.relation}")
    # the step's own name selects what it runs (a dbt step named `silver` selects silver's nodes)
    names += [s.id for s in all_steps if s.id in steps]
    layer = node.layer or (layer_of(node.schema or "", list(node.fqn)) if node.schema is not None else None)
    folder = project_dir.rstrip("/")
    return Node(
        id=node.unique_id,
        kind="dbt",
        label=label,
        names=tuple(dict.fromkeys(names)) if node.resource_type != "source" else (),
        steps=steps if node.resource_type != "source" else (),
        tags=node.tags,
        layer=layer,
        paths=(f"{folder}/{node.path}", node.path),
        resource_type=node.resource_type,
        fqn=node.fqn,
        unique_id=node.unique_id,
    )


def _dbt_edges(
    graph: SelectionGraph, relations: dict[Relation, list[str]], destination: str, node: DbtNode
) -> None:
    if node.source is not None:  # a dbt source reads the table some load fills
        source_name, table = node.source
        keys = {(destination, source_name, table), (destination, node.schema or "", node.relation or table)}
        for key in keys:
            for load in relations.get(key, ()):
                graph.edge(load, node.unique_id)
        return
    for upstream in node.depends_on:
        if upstream in graph.nodes:
            graph.edge(upstream, node.unique_id)
    if node.schema and node.relation and node.resource_type in ("model", "seed", "snapshot"):
        relations.setdefault((destination, node.schema, node.relation), []).append(node.unique_id)


def _add_checks(
    project: Project, graph: SelectionGraph, relations: dict[Relation, list[str]], step: ChecksStep
) -> None:
    from datakit.lineage.checks import suite_tables

    suite = project.check_suites[step.params.suite]
    node_id = f"checks:{step.id}"
    graph.add(
        Node(
            id=node_id,
            kind="checks",
            label=step.id,
            names=tuple(dict.fromkeys((step.id, suite.name))),
            steps=(step.id,),
            tags=tuple(suite.tags),
            paths=tuple(_origin(project, "checks", suite.name)),
            resource_type="checks",
        )
    )
    upstream = {
        up
        for schema, table in suite_tables(project, suite.name)
        for up in relations.get((step.params.destination, schema, table), ())
    }
    if not upstream:  # nothing known read: wait for what the job says it waits for
        wanted = set(step.depends_on)
        upstream = {node.id for node in graph.nodes.values() if wanted & set(node.steps)}
    for up in upstream:
        graph.edge(up, node_id)
