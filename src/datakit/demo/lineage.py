"""Lineage of a run: source table -> bronze table -> silver model -> gold model, laid out for an SVG.

Source -> bronze comes from the run's load steps (each loads one source table into one bronze table of
its pipeline's schema); silver and gold, and what each model reads, from dbt's `manifest.json`
(`depends_on.nodes`: a `source.*` node is a bronze table, a `model.*` node another model). No
database is opened: the lineage is what the job declares, drawn for the tables the run touched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from datakit.demo.facts import LAYERS, Layer, layer_of, plan_steps
from datakit.errors import NotFoundError

if TYPE_CHECKING:
    from datakit.config.project import Project
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


def build_lineage(project: Project, run: RunRecord, manifest: Path | None) -> Lineage:
    """The lineage of `run`: its loads, and the silver and gold models of `manifest` (when there is one)."""
    nodes: dict[str, tuple[Layer, str]] = {}
    edges: set[tuple[str, str]] = set()
    for step in plan_steps(run).values():
        if step.get("kind") != "load":
            continue
        params = step.get("params", {})
        pipeline_name, resource = str(params.get("pipeline")), str(params.get("resource"))
        source, schema = _pipeline_ends(project, pipeline_name)
        nodes[f"source:{resource}"] = ("source", f"{source}.{resource}")
        nodes[f"bronze:{resource}"] = ("bronze", f"{schema}.{resource}")
        edges.add((f"source:{resource}", f"bronze:{resource}"))
    if manifest is not None and manifest.exists():
        _add_models(json.loads(manifest.read_text(encoding="utf-8")), nodes, edges)
    return _layout(nodes, edges)


def _pipeline_ends(project: Project, pipeline_name: str) -> tuple[str, str]:
    """A pipeline's source name and bronze schema (its dataset_name, else the conventional name)."""
    try:
        pipeline = project.pipeline(pipeline_name)
    except NotFoundError:  # a run of a pipeline since removed from the project: draw what the plan says
        return pipeline_name, "bronze"
    return pipeline.source.ref, pipeline.destination.dataset_name or f"br__{pipeline.source.ref}"


def _add_models(
    manifest: dict[str, Any], nodes: dict[str, tuple[Layer, str]], edges: set[tuple[str, str]]
) -> None:
    sources = manifest.get("sources", {})
    models = {
        uid: node
        for uid, node in manifest.get("nodes", {}).items()
        if node.get("resource_type") == "model"
        and layer_of(str(node.get("schema", ""))) in ("silver", "gold")
    }
    for node in models.values():
        layer = layer_of(str(node["schema"]))
        assert layer is not None
        target = _model_id(node)
        nodes[target] = (layer, f"{node['schema']}.{node.get('alias') or node['name']}")
        for parent in node.get("depends_on", {}).get("nodes", []):
            if parent.startswith("source.") and parent in sources:
                table = str(sources[parent].get("identifier") or sources[parent].get("name"))
                nodes.setdefault(f"bronze:{table}", ("bronze", f"{sources[parent].get('schema')}.{table}"))
                edges.add((f"bronze:{table}", target))
            elif parent in models:
                edges.add((_model_id(models[parent]), target))


def _model_id(node: dict[str, Any]) -> str:
    return f"{layer_of(str(node['schema']))}:{node['name']}"


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


def find_manifest(root: Path) -> Path | None:
    """The newest dbt `manifest.json` of the project (datakit keeps dbt's target under `.datakit/dbt/`)."""
    candidates = [
        *root.glob(".datakit/dbt/*/*/*/target/manifest.json"),
        *root.glob("transform/*/target/manifest.json"),
    ]
    return max(candidates, key=lambda p: p.stat().st_mtime) if candidates else None
