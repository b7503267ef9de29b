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
