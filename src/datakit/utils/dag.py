"""A small generic DAG: topological order and cycles reported with their path.

Kept free of domain types so config validation, plans and executors share it (see STYLE.md: a small
generic DAG separate from domain code). The ordering itself is the standard library's `graphlib`.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from graphlib import CycleError, TopologicalSorter
from typing import Generic, TypeVar

from datakit.errors import DatakitError

N = TypeVar("N", bound=Hashable)


class CycleFound(DatakitError):
    """The graph has a cycle; `path` lists it with the first node repeated at the end (a -> b -> a)."""

    def __init__(self, path: list[str]) -> None:
        super().__init__(f"dependency cycle: {' -> '.join(path)}")
        self.path = path


class DAG(Generic[N]):
    """Nodes with upstream dependencies (`deps[node]` are the nodes it waits for)."""

    def __init__(self, deps: Mapping[N, Iterable[N]]) -> None:
        self.deps: dict[N, tuple[N, ...]] = {node: tuple(up) for node, up in deps.items()}
        for upstream in list(self.deps.values()):
            for node in upstream:
                self.deps.setdefault(node, ())

    def find_cycle(self) -> list[N] | None:
        """One cycle as a path `[a, b, a]`, or None when the graph is acyclic."""
        try:
            TopologicalSorter(self.deps).prepare()
        except CycleError as exc:
            cycle: list[N] = list(exc.args[1])
            cycle.reverse()  # graphlib lists it against the dependency direction; show a -> depends on -> b
            return cycle
        return None

    def order(self) -> list[N]:
        """A topological order (dependencies first); raises CycleFound on a cycle."""
        cycle = self.find_cycle()
        if cycle is not None:
            raise CycleFound([str(n) for n in cycle])
        return list(TopologicalSorter(self.deps).static_order())

    def downstream(self, node: N) -> set[N]:
        """Every node that (transitively) depends on `node`."""
        dependents: dict[N, set[N]] = {}
        for child, ups in self.deps.items():
            for up in ups:
                dependents.setdefault(up, set()).add(child)
        seen: set[N] = set()
        stack = [node]
        while stack:
            for child in dependents.get(stack.pop(), ()):
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        return seen
