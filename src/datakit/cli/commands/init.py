"""`datakit init DIR`: scaffold a project that validates and runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def init(
    directory: Annotated[Path, typer.Argument(help="Folder to create the project in (created if missing).")],
    name: Annotated[
        str | None, typer.Option("--name", help="Project name (default: the folder name).")
    ] = None,
) -> None:
    """Create a project: config folders, an example SQLite source, a DuckDB warehouse, a job, triggers."""
    from datakit.cli.output import say
    from datakit.config.scaffold import init_project
    from datakit.errors import display_path

    created = init_project(directory, name=name)
    for path in created:
        say(f"created {display_path(path)}")
    say(f"✓ project ready: cd {display_path(directory.resolve())} && datakit validate", "green")
