"""Options shared by every command (`--project` is accepted before or after the command name)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer


@dataclass
class CliState:
    project: Path | None = None
    debug: bool = False

    def project_dir(self, override: Path | None) -> Path | None:
        return override or self.project


state = CliState()

ProjectOption = Annotated[
    Path | None,
    typer.Option(
        "--project",
        "-p",
        help="Project directory (default: nearest datakit.yaml upwards).",
        file_okay=False,
        show_default=False,
    ),
]
EnvironmentOption = Annotated[
    str | None,
    typer.Option("--env", "-e", help="Environment: dev, stage or prod (default: $ENVIRONMENT, else dev)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
SelectOption = Annotated[
    list[str] | None,
    typer.Option(
        "--select",
        "-s",
        help="Only these loads, dbt nodes and checks (dbt's grammar: +x, x+, 2+x, @x, tag:, layer:, "
        "source:, path:, state:failed); repeatable, or space-separated.",
        show_default=False,
    ),
]
ExcludeOption = Annotated[
    list[str] | None,
    typer.Option("--exclude", help="Leave these out (same grammar as --select).", show_default=False),
]
YesOption = Annotated[
    bool, typer.Option("--yes", "-y", help="Confirm what prod refuses without it (--full-refresh).")
]
