"""Lineage of a run: source table -> bronze table -> silver model -> gold model, laid out for an SVG.

Source -> bronze comes from the run's load steps (each loads one source table, a grouped step each of its
resources, into a bronze table of its pipeline's schema); silver and gold, and what each model reads,
from the project's lineage graph (`datakit.lineage`: dbt's manifest and compiled SQL), seen table by
table. No database is opened: the lineage is what the job declares, drawn for the tables the run touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from datakit.demo.facts import LAYERS, Layer, plan_steps
from datakit.errors import NotFoundError

if TYPE_CHECKING:
    from datakit.config.project import Project
    from datakit.lineage import Graph
    from datakit.orchestrate.store import RunRecord

COLUMN_WIDTH = 250
BOX_WIDTH = 205
ROW_HEIGHT = 24
BOX_HEIGHT = 18
TOP = 34
LABEL_CHARS = 29
LOOP = 36
"""How far an edge between two tables of one layer (gold from gold) bulges right of their column."""


@dataclass(frozen=True)
class Node:
    """A table: `title` its full name (`silver.customer`), drawn as its last part."""

    id: str
    layer: Layer
    title: str
    x: int = 0
    y: int = 0

    @property
    def label(self) -> str:
        """The table's name, shortened to what fits in its box."""
        name = self.title.rsplit(".", 1)[-1]
        return name if len(name) <= LABEL_CHARS else name[: LABEL_CHARS - 1] + "…"


@dataclass(frozen=True)
class Edge:
    """`target` is built from `source` (node ids)."""

    source: str
    target: str


@dataclass(frozen=True)
class Lineage:
    """Nodes (placed in one column per layer) and edges between them; `width`/`height` of the drawing."""

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    width: int
    height: int

    def node(self, node_id: str) -> Node:
        """The placed node of an id (edges only join nodes of the lineage)."""
        return next(n for n in self.nodes if n.id == node_id)

    def paths(self) -> list[tuple[Edge, str]]:
        """Each edge with the SVG path of a curve from its source's right side to its target's left."""
        out = []
        for edge in self.edges:
            a, b = self.node(edge.source), self.node(edge.target)
            x1, y1 = a.x + BOX_WIDTH, a.y + BOX_HEIGHT // 2
            y2 = b.y + BOX_HEIGHT // 2
            if a.layer == b.layer:  # right side to right side, around the column instead of through it
                out.append((edge, f"M{x1},{y1} C{x1 + LOOP},{y1} {x1 + LOOP},{y2} {x1},{y2}"))
                continue
            x2 = b.x
            middle = (x1 + x2) // 2
            out.append((edge, f"M{x1},{y1} C{middle},{y1} {middle},{y2} {x2},{y2}"))
        return out


def build_lineage(project: Project, run: RunRecord, graph: Graph) -> Lineage:
    """The lineage of `run`: its loads, and the silver and gold models of the project's `graph`."""
    nodes: dict[str, tuple[Layer, str]] = {}
    edges: set[tuple[str, str]] = set()
    for step in plan_steps(run).values():
        if step.get("kind") != "load":
            continue
        params = step.get("params", {})
        source, schema = _pipeline_ends(project, str(params.get("pipeline")))
        for resource in (params.get("resource"), *(params.get("also") or ())):  # a grouped step: all
            nodes[f"source:{resource}"] = ("source", f"{source}.{resource}")
            nodes[f"bronze:{resource}"] = ("bronze", f"{schema}.{resource}")
            edges.add((f"source:{resource}", f"bronze:{resource}"))
    _add_models(graph, nodes, edges)
    return _layout(nodes, edges)


def _pipeline_ends(project: Project, pipeline_name: str) -> tuple[str, str]:
    """A pipeline's source name and bronze schema (its dataset_name, else the conventional name)."""
    try:
        pipeline = project.pipeline(pipeline_name)
    except NotFoundError:  # a run of a pipeline since removed from the project: draw what the plan says
        return pipeline_name, "bronze"
    return pipeline.source.ref, pipeline.destination.dataset_name or f"br__{pipeline.source.ref}"


def _add_models(graph: Graph, nodes: dict[str, tuple[Layer, str]], edges: set[tuple[str, str]]) -> None:
    """dbt models of silver and gold, and the bronze tables and models each reads (its column edges,
    joins and filters, seen table by table)."""
    models = {t.id: t for t in graph.tables.values() if t.kind == "model" and t.layer in ("silver", "gold")}
    for model in models.values():
        nodes[_node_id(model.layer, model.name)] = (model.layer, model.relation)  # type: ignore[assignment]
    for edge in graph.edges:
        if edge.target not in models or edge.source == edge.target:
            continue
        target = models[edge.target]
        source = graph.tables[edge.source]
        if source.id in models:
            edges.add((_node_id(source.layer, source.name), _node_id(target.layer, target.name)))
        elif source.layer == "bronze":
            nodes.setdefault(_node_id("bronze", source.name), ("bronze", source.relation))
            edges.add((_node_id("bronze", source.name), _node_id(target.layer, target.name)))


def _node_id(layer: str, name: str) -> str:
    return f"{layer}:{name}"


def _layout(nodes: dict[str, tuple[Layer, str]], edges: set[tuple[str, str]]) -> Lineage:
    """One column per layer, nodes by name in each, edges sorted (the same run draws the same SVG)."""
    placed: list[Node] = []
    tallest = 0
    for column, layer in enumerate(LAYERS):
        ids = sorted((i for i, (lay, _) in nodes.items() if lay == layer), key=lambda i: nodes[i][1])
        tallest = max(tallest, len(ids))
        for row, node_id in enumerate(ids):
            placed.append(
                Node(node_id, layer, nodes[node_id][1], 10 + column * COLUMN_WIDTH, TOP + row * ROW_HEIGHT)
            )
    return Lineage(
        nodes=tuple(placed),
        edges=tuple(Edge(a, b) for a, b in sorted(edges) if a in nodes and b in nodes),
        width=20 + len(LAYERS) * COLUMN_WIDTH - (COLUMN_WIDTH - BOX_WIDTH) + LOOP,
        height=TOP + max(tallest, 1) * ROW_HEIGHT + 10,
    )
