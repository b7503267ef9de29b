"""`datakit validate`: check every file and every reference, report all problems at once."""

from __future__ import annotations

from typing import Annotated

import typer

from datakit.cli.state import EnvironmentOption, JsonOption, ProjectOption, state
from datakit.errors import ExitCode


def validate(
    project: ProjectOption = None,
    environment: EnvironmentOption = None,
    check_secrets: Annotated[
        bool, typer.Option("--check-secrets", help="Also require every required secret to be set.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Validate the project's YAML: shapes, references, cycles, schedules, secrets."""
    from datakit.cli.output import print_json, print_problems, say
    from datakit.config import validate_project

    result = validate_project(
        state.project_dir(project),
        environment=environment,
        check_secrets=check_secrets,
        check_warehouses=True,
    )
    assert result.project is not None
    proj = result.project
    if result.ok:  # datakits are Python: import them only once the YAML is sound
        from datakit.datakits.checks import check_datakit_references

        result.problems.extend(check_datakit_references(proj))
    counts = {kind: len(objects) for kind, objects in proj.objects.items()}
    if as_json:
        print_json(
            {
                "valid": result.ok,
                "project": proj.config.name,
                "environment": proj.environment,
                "counts": counts,
                "problems": [p.as_dict() for p in result.problems],
            }
        )
    else:
        print_problems(result.problems)
        if result.ok:
            summary = ", ".join(f"{n} {_noun(kind, n)}" for kind, n in counts.items())
            say(
                f"✓ project '{proj.config.name}' is valid (environment {proj.environment}): {summary}",
                "green",
            )
        else:
            n = len(result.errors)
            say(f"✗ {n} problem{'s' if n != 1 else ''} found", "red")
    if not result.ok:
        raise typer.Exit(int(ExitCode.INVALID))


def _noun(kind: str, count: int) -> str:
    """`3 sources`, `1 check suite`: the kind's title, in the plural when it is not one."""
    from datakit.config.models import KINDS

    noun = KINDS[kind].title.lower() if kind in KINDS else kind
    return noun if count == 1 else f"{noun}s"
