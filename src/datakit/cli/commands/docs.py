"""`datakit docs build` and `datakit docs serve`: the project's documentation as a static site."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from datakit.cli.state import EnvironmentOption, ProjectOption, state

app = typer.Typer(help="Documentation of every table, column and check.", no_args_is_help=True)
OutOption = Annotated[
    Path | None,
    typer.Option("--out", "-o", help="Folder of the site (default: .datakit/docs).", file_okay=False),
]
CompileOption = Annotated[
    bool, typer.Option("--compile", help="Have dbt compile the models first (SQL of models never run).")
]
OfflineOption = Annotated[
    bool, typer.Option("--offline", help="Open no database: no last loads, freshness or catalog types.")
]


@app.command("build")
def build(
    out: OutOption = None,
    compile: CompileOption = False,
    offline: OfflineOption = False,
    project: ProjectOption = None,
    environment: EnvironmentOption = None,
) -> None:
    """Write the docs site: tables, columns, lineage graph, checks and last loads, per warehouse."""
    from datakit.cli.output import say
    from datakit.config import load_project
    from datakit.docs import build_docs
    from datakit.errors import display_path

    loaded = load_project(state.project_dir(project), environment=environment)
    result = build_docs(loaded, out, compile=compile, live=not offline)
    say(
        f"✓ docs of {result.tables} tables, {result.columns} columns and {result.checks} checks in "
        f"{result.seconds:.1f}s: open {display_path(result.index)}",
        "green",
    )
    for warning in result.warnings:
        say(f"  ! {warning}", "yellow")


@app.command("serve")
def serve(
    out: OutOption = None,
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1.")] = 8322,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    compile: CompileOption = False,
    offline: OfflineOption = False,
    project: ProjectOption = None,
    environment: EnvironmentOption = None,
) -> None:
    """Build the docs, then serve them over HTTP until Ctrl-C (the site also opens as plain files)."""
    from datakit.cli.output import say
    from datakit.config import load_project
    from datakit.docs import build_docs, serve_docs

    loaded = load_project(state.project_dir(project), environment=environment)
    result = build_docs(loaded, out, compile=compile, live=not offline)
    for warning in result.warnings:
        say(f"  ! {warning}", "yellow")
    serve_docs(result.index.parent, host=host, port=port, ready=lambda url: say(f"✓ docs on {url}", "green"))
