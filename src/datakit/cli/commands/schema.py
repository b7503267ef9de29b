"""`datakit schema`: JSON Schemas for editors, generated from the config models."""

from __future__ import annotations

from datakit.cli.state import ProjectOption, state


def schema(project: ProjectOption = None) -> None:
    """Write .vscode/schemas/*.schema.json and map them in .vscode/settings.json (yaml.schemas)."""
    from datakit.cli.output import say
    from datakit.config.loader import project_dir
    from datakit.config.schema import write_schemas
    from datakit.errors import display_path

    root = project_dir(state.project_dir(project))
    for path in write_schemas(root):
        say(f"wrote {display_path(path)}")
