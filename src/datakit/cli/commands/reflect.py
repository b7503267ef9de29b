"""`datakit reflect`: a live source database -> a datakit package of SQLModel classes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from datakit.cli.state import EnvironmentOption, JsonOption, ProjectOption, state


def reflect(
    source: Annotated[str, typer.Option("--source", "-s", help="Source to read the schema of.")],
    out: Annotated[
        Path,
        typer.Option(
            "--out", "-o", help="Package folder to write, e.g. datakits/<system> (from the project root)."
        ),
    ],
    schema: Annotated[
        str | None, typer.Option("--schema", help="Schema to reflect (default: the source's).")
    ] = None,
    tables: Annotated[
        str | None, typer.Option("--tables", help="Comma-separated tables (default: every table).")
    ] = None,
    sample: Annotated[
        int,
        typer.Option(
            "--sample",
            min=1,
            help="REST API and files sources: infer each resource's contract from this many records.",
        ),
    ] = 1000,
    project: ProjectOption = None,
    environment: EnvironmentOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write a formatted, importable datakit package of the source's tables (types, keys, FKs, rules).

    REST API and files sources have no catalog: their contracts are inferred from a sample of records.
    """
    from datakit.cli.output import print_json, say
    from datakit.config import load_project
    from datakit.load.reflect import reflect_source

    loaded = load_project(state.project_dir(project), environment=environment)
    names = [name.strip() for name in tables.split(",") if name.strip()] if tables else None
    result = reflect_source(loaded, source, loaded.path(out), schema=schema, tables=names, sample=sample)
    if as_json:
        print_json({"package": str(result.package), "schema": result.schema, "tables": result.tables})
        return
    say(
        f"✓ {len(result.tables)} tables of {source}.{result.schema} written to {result.package}",
        "green",
    )
    kit = result.package.name
    for name, pipeline in sorted(loaded.pipelines.items()):
        if loaded.resolve_name("source", pipeline.source.ref) == source and pipeline.datakit is None:
            file = loaded.origins[("pipeline", name)].file
            shown = file.relative_to(loaded.root) if file.is_relative_to(loaded.root) else file
            say(f"  pipeline {name!r} names no datakit: add `datakit: {kit}` to {shown} to use these")
