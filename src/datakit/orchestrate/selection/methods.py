"""What a criterion's method and value match, node by node, before any graph operator.

- no method: a node's names (`pagila_bronze.rental`, `br__pagila__public.rental`, `silver.customer`,
  `customer`, `silver_checks`), exactly, as a dotted prefix (`silver`, `pagila_bronze`: dbt's own
  rule for folders and packages), or as a glob (`silver.*`, `*.rental`);
- `fqn:` dbt nodes by their fully qualified name the same way (`fqn:pagila.gold`);
- `tag:` dbt tags, and the tags of a load's pipeline and source, of a check suite;
- `layer:` `bronze` / `silver` / `gold`: a load's destination layer, a dbt node's `meta: {layer}`
  or the layer its schema or folder names;
- `source:` loads from a datakit source (`source:pagila`), or into a dbt source's schema or table
  (`source:br__pagila__public.rental`);
- `path:` the files that define a node, relative to the project (or to its dbt project), a folder
  matching everything below it;
- `resource_type:` `load`, `checks`, or a dbt type (`model`, `test`, `seed`, `snapshot`, `unit_test`);
- `state:` the last run's outcome (`state`).

Globs are `fnmatch`'s (`*`, `?`, `[...]`), case-sensitive like dbt's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from fnmatch import fnmatchcase

from datakit.orchestrate.selection.grammar import Criterion
from datakit.orchestrate.selection.graph import Node, SelectionGraph

StateLookup = Callable[[str], set[str]]
"""`state:<value>` -> the ids of the nodes in that state (raises when it cannot tell)."""
_GLOB = frozenset("*?[")


def matches(graph: SelectionGraph, criterion: Criterion, state: StateLookup) -> set[str]:
    """The ids of the nodes `criterion` matches (operators not applied)."""
    method, value = criterion.method, criterion.value
    if method == "state":
        return {node for node in state(value) if node in graph.nodes}
    test = _TESTS[method or "name"]
    return {node.id for node in graph.nodes.values() if test(node, value)}


def known_values(graph: SelectionGraph, method: str | None) -> list[str]:
    """What a method could have matched among the runnable nodes (for "did you mean")."""
    nodes = graph.runnable()
    values: Iterable[str]
    if method in (None, "fqn"):
        values = (name for node in nodes for name in node.names)
        if method == "fqn":
            values = (".".join(node.fqn) for node in nodes if node.fqn)
    elif method == "tag":
        values = (tag for node in nodes for tag in node.tags)
    elif method == "layer":
        values = (node.layer for node in nodes if node.layer)
    elif method == "source":
        values = (source for node in nodes for source in node.sources)
    elif method == "path":
        values = (path for node in nodes for path in node.paths)
    elif method == "resource_type":
        values = (node.resource_type for node in nodes)
    else:
        values = ("failed",)
    return sorted(set(values))


def _glob(value: str) -> bool:
    return bool(_GLOB & set(value))


def _named(candidates: Iterable[str], value: str) -> bool:
    if _glob(value):
        return any(fnmatchcase(name, value) for name in candidates)
    prefix = value + "."
    return any(name == value or name.startswith(prefix) for name in candidates)


def _name(node: Node, value: str) -> bool:
    return _named(node.names, value)


def _fqn(node: Node, value: str) -> bool:
    return bool(node.fqn) and node.resource_type != "source" and _named((".".join(node.fqn),), value)


def _tag(node: Node, value: str) -> bool:
    return any(fnmatchcase(tag, value) for tag in node.tags)


def _layer(node: Node, value: str) -> bool:
    return node.layer is not None and fnmatchcase(node.layer, value)


def _source(node: Node, value: str) -> bool:
    return node.kind == "load" and any(fnmatchcase(source, value) for source in node.sources)


def _path(node: Node, value: str) -> bool:
    wanted = value.removeprefix("./").rstrip("/")
    for path in node.paths:
        if path == wanted or path.startswith(wanted + "/") or (_glob(wanted) and fnmatchcase(path, wanted)):
            return True
    return False


def _resource_type(node: Node, value: str) -> bool:
    return fnmatchcase(node.resource_type, value)


_TESTS: dict[str, Callable[[Node, str], bool]] = {
    "name": _name,
    "fqn": _fqn,
    "tag": _tag,
    "layer": _layer,
    "source": _source,
    "path": _path,
    "resource_type": _resource_type,
}
