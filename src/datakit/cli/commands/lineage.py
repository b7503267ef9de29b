"""`datakit lineage COLUMN`: where a column comes from and what it feeds, edge by edge, with how."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from datakit.cli.state import EnvironmentOption, JsonOption, ProjectOption, state

if TYPE_CHECKING:
    from rich.tree import Tree

    from datakit.lineage import Edge, Graph, Trace
    from datakit.lineage.trace import Direction


def lineage(
    column: Annotated[
        str, typer.Argument(help="A column: table.column, schema.table.column, or its full name.")
    ],
    upstream: Annotated[bool, typer.Option("--upstream", help="Only where it comes from.")] = False,
    downstream: Annotated[bool, typer.Option("--downstream", help="Only what it feeds.")] = False,
    compile: Annotated[
        bool, typer.Option("--compile", help="Have dbt compile the models first (SQL of models never run).")
    ] = False,
    project: ProjectOption = None,
    environment: EnvironmentOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print a column's lineage: each edge from the source to gold, how it is made, the checks on it."""
    from datakit.config import load_project
    from datakit.errors import UsageError
    from datakit.lineage import build_lineage, find_column, trace

    if upstream and downstream:
        raise UsageError("give --upstream or --downstream, not both (neither: both directions)")
    direction: Direction = "upstream" if upstream else "downstream" if downstream else "both"
    loaded = load_project(state.project_dir(project), environment=environment)
    graph = build_lineage(loaded, compile=compile)
    found = trace(graph, find_column(graph, column), direction)
    if as_json:
        from datakit.cli.output import print_json

        print_json(found.as_dict(graph))
        return
    _print(graph, found, direction)


def _print(graph: Graph, found: Trace, direction: str) -> None:
    from rich.tree import Tree

    from datakit.cli.output import console

    table, column = found.column
    layer = graph.tables[table].layer
    if direction in ("upstream", "both"):
        tree = Tree(f"[bold]{table}.{column}[/] [dim]({layer})[/] comes from")
        _up(graph, found, tree, (table, column), set())
        if not tree.children:
            tree.add(_role_text(graph, table, column))
        console.print(tree)
    if direction in ("downstream", "both"):
        tree = Tree(f"[bold]{table}.{column}[/] [dim]({layer})[/] feeds")
        _down(found, tree, (table, column), set())
        if not tree.children:
            tree.add("[dim]nothing downstream[/]")
        console.print(tree)
    if found.checks:
        checks = Tree("checks reading it" + (" or its lineage" if direction != "downstream" else ""))
        for check in found.checks:
            checks.add(f"{check.name} [dim]on {check.table} ({check.origin}, {check.severity})[/]")
        console.print(checks)


def _up(graph: Graph, found: Trace, tree: Tree, ref: tuple[str, str], seen: set[tuple[str, str]]) -> None:
    seen.add(ref)
    for edge in found.upstream:
        if (edge.target, edge.target_column) != ref:
            continue
        branch = tree.add(_edge_text(edge, edge.source, edge.source_column, "from"))
        if edge.source_column is not None and (edge.source, edge.source_column) not in seen:
            _up(graph, found, branch, (edge.source, edge.source_column), seen)
    rows = [e for e in found.upstream if e.target == ref[0] and e.target_column is None]
    if rows and ref == found.column:
        shaped = tree.add("[dim]its rows are[/]")
        for edge in rows:
            shaped.add(_edge_text(edge, edge.source, edge.source_column, ""))


def _down(found: Trace, tree: Tree, ref: tuple[str, str], seen: set[tuple[str, str]]) -> None:
    seen.add(ref)
    for edge in found.downstream:
        if edge.source != ref[0] or edge.source_column not in (ref[1], None):
            continue
        branch = tree.add(_edge_text(edge, edge.target, edge.target_column, "into"))
        if edge.target_column is not None and (edge.target, edge.target_column) not in seen:
            _down(found, branch, (edge.target, edge.target_column), seen)


def _edge_text(edge: Edge, table: str, column: str | None, word: str) -> str:
    from rich.markup import escape

    if column:
        what = f"{table}.{column}"
    else:
        what = f"{table} (its rows)" if word == "into" else f"{table} (a column)"
    how = str(edge.how).replace("_", " ")
    text = f"[cyan]{how}[/] {word} {escape(what)}".replace("  ", " ")
    text += f" [dim]\\[{escape(edge.via)}][/]"
    if edge.expression and edge.how not in ("copied",):
        text += f" [dim]{escape(_short(edge.expression))}[/]"
    return text


def _role_text(graph: Graph, table: str, column: str) -> str:
    info = graph.tables[table].column(column)
    role = info.role if info is not None else "data"
    return {
        "audit": "[dim]filled by the loader (audit column)[/]",
        "loader": "[dim]filled by the loader when the source gives none (mixin time)[/]",
        "constant": "[dim]a constant (no column feeds it)[/]",
    }.get(role, "[dim]nothing upstream: a source column[/]")


def _short(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
