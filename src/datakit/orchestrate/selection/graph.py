"""The node graph selection walks: loads, dbt nodes and check suites, with data edges between them.

One node per resource load (`load:<pipeline>.<resource>`), per dbt node (its unique id: models, seeds,
snapshots, tests, unit tests, and the sources between loads and models) and per check suite step
(`checks:<step>`). An edge says "reads what that one writes": a model reads the models and sources
it refs, a dbt source reads the load that fills its table, a check suite the tables its checks name.
A node is *runnable* when some step of the plan runs it (`steps`); the others (a dbt model no step of
the job selects, a source) are kept so that `+x` reaches a load through them, as dbt's graph does.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

NodeKind = Literal["load", "dbt", "checks"]


@dataclass(frozen=True)
class Node:
    """One node, with what each selection method looks at."""

    id: str
    kind: NodeKind
    label: str
    """How it is shown: `pagila_bronze.rental`, `silver.customer`, `silver_checks`."""
    names: tuple[str, ...] = ()
    """What a name or glob matches (a name also matches as a dotted prefix: `silver`, `pagila_bronze`)."""
    steps: tuple[str, ...] = ()
    """The plan steps that run it (none: in the graph for its edges only)."""
    tags: tuple[str, ...] = ()
    layer: str | None = None
    sources: tuple[str, ...] = ()
    """What `source:` matches: the datakit source, and the dbt source (`schema`, `schema.table`)."""
    paths: tuple[str, ...] = ()
    """The files that define it, relative to the project root (dbt nodes: also to the dbt project)."""
    resource_type: str = ""
    """`load`, `checks`, or dbt's (`model`, `test`, `seed`, `snapshot`, `unit_test`, `source`)."""
    fqn: tuple[str, ...] = ()
    unique_id: str | None = None
    """dbt's unique id (dbt nodes)."""

    @property
    def runnable(self) -> bool:
        return bool(self.steps)

    @property
    def is_test(self) -> bool:
        return self.resource_type in ("test", "unit_test")


@dataclass
class SelectionGraph:
    """Nodes by id and the edges between them (`parents[n]`: what n reads)."""

    nodes: dict[str, Node] = field(default_factory=dict)
    parents: dict[str, set[str]] = field(default_factory=dict)
    children: dict[str, set[str]] = field(default_factory=dict)

    def add(self, node: Node) -> None:
        """Add `node`; a node added twice (one dbt model run by two steps) keeps every step."""
        seen = self.nodes.get(node.id)
        if seen is not None:
            steps = tuple(dict.fromkeys((*seen.steps, *node.steps)))
            node = seen if steps == seen.steps else _with_steps(seen, steps)
        self.nodes[node.id] = node
        self.parents.setdefault(node.id, set())
        self.children.setdefault(node.id, set())

    def edge(self, upstream: str, downstream: str) -> None:
        """`downstream` reads what `upstream` writes (both must have been added)."""
        if upstream == downstream:
            return
        self.parents[downstream].add(upstream)
        self.children[upstream].add(downstream)

    def upstream(self, start: Iterable[str], depth: int | None) -> dict[str, str]:
        """Every node within `depth` edges upstream of `start` (None: any), with the start it was
        reached from; the starts themselves are not included."""
        return self._walk(start, depth, self.parents)

    def downstream(self, start: Iterable[str], depth: int | None) -> dict[str, str]:
        """Like `upstream`, downstream."""
        return self._walk(start, depth, self.children)

    def runnable(self) -> list[Node]:
        return [node for node in self.nodes.values() if node.runnable]

    def _walk(self, start: Iterable[str], depth: int | None, edges: dict[str, set[str]]) -> dict[str, str]:
        """Breadth first from `start`; a dbt source costs no step (it is the load's table under
        another name), so `pagila_bronze.rental+1` reaches the models that read the rental table."""
        origins = {node: node for node in start}
        reached: dict[str, str] = {}
        best: dict[str, int] = dict.fromkeys(origins, 0)
        queue = deque((node, 0) for node in origins)
        while queue:
            node, distance = queue.popleft()
            if distance > best.get(node, distance):
                continue  # reached again more cheaply meanwhile
            for nxt in sorted(edges.get(node, ())):
                cost = 0 if self.nodes[nxt].resource_type == "source" else 1
                far = distance + cost
                if (depth is not None and far > depth) or best.get(nxt, far + 1) <= far:
                    continue
                best[nxt] = far
                if nxt not in origins:
                    reached.setdefault(nxt, reached.get(node, origins.get(node, node)))
                if cost:
                    queue.append((nxt, far))
                else:
                    queue.appendleft((nxt, far))
        return reached


def _with_steps(node: Node, steps: tuple[str, ...]) -> Node:
    from dataclasses import replace

    return replace(node, steps=steps)
