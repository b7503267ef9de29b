"""`datakit kit new|build|check`: datakits as versioned Python packages that other teams pin."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from datakit.cli.state import JsonOption
from datakit.errors import ExitCode

if TYPE_CHECKING:
    from datakit.datakits.compare import Comparison

app = typer.Typer(help="Create, build and check datakits published as packages.", no_args_is_help=True)


@app.command("new")
def kit_new(
    name: Annotated[str, typer.Argument(help="The datakit's name (lower case, e.g. crm).")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Folder to create (default ./NAME).")
    ] = None,
    package: Annotated[
        str | None, typer.Option("--package", help="Distribution name (default NAME-datakit).")
    ] = None,
) -> None:
    """Scaffold a datakit distribution: pyproject, contracts, transforms, factories, tests."""
    from datakit.cli.output import say
    from datakit.datakits.scaffold import new_datakit

    root = new_datakit(name, out, package=package)
    say(f"✓ datakit {name!r} created in {root}", "green")
    say(f"  next: cd {root} && pip install -e '.[test]' && pytest && datakit kit build .")


@app.command("build")
def kit_build(
    path: Annotated[
        Path, typer.Argument(help="The datakit's source tree (the folder of its pyproject.toml).")
    ],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Where the wheel goes (default PATH/dist).")
    ] = None,
    isolation: Annotated[
        bool,
        typer.Option("--isolation/--no-isolation", help="Install the build backend in a fresh environment."),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Check the datakit and build its wheel, with a manifest of its contracts in the wheel's metadata."""
    from datakit.cli.output import print_json, say
    from datakit.datakits.build import build_datakit

    built = build_datakit(path, out, isolation=isolation)
    manifest = built.manifest
    if as_json:
        print_json({"wheel": str(built.wheel), "manifest": manifest.to_json()})
        return
    say(
        f"✓ {built.wheel} (datakit {manifest.datakit} {manifest.version}: {len(manifest.tables)} tables, "
        f"{len(manifest.transforms)} transforms)",
        "green",
    )


@app.command("check")
def kit_check(
    path: Annotated[Path, typer.Argument(help="The new version: a datakit folder, or a wheel.")],
    against: Annotated[
        str, typer.Option("--against", help="The old version: a wheel, a folder, or a git ref (v1.0.0).")
    ],
    as_json: JsonOption = False,
) -> None:
    """Classify every change since OLD as breaking or compatible; exit 1 when a breaking change comes
    without a new major version."""
    from datakit.datakits.compare import check_datakit

    comparison = check_datakit(path, against)
    if as_json:
        _print_json(comparison)
    else:
        _print(comparison)
    if not comparison.ok:
        raise typer.Exit(int(ExitCode.INVALID))


def _print(comparison: Comparison) -> None:
    from rich.table import Table

    from datakit.cli.output import console, say

    old, new = comparison.old, comparison.new
    before, after = old.version or "(unversioned)", new.version or "(unversioned)"
    say(f"datakit {new.datakit}: {before} ({old.origin}) -> {after}")
    if comparison.changes:
        table = Table(title="Changes", show_lines=False)
        for column in ("impact", "table", "column", "change"):
            table.add_column(column)
        for change in comparison.changes:
            style = "red" if change.impact == "breaking" else "green"
            table.add_row(
                f"[{style}]{change.impact}[/{style}]", change.table, change.column or "", change.what
            )
        console.print(table)
    else:
        say("no changes")
    say(("✓ " if comparison.ok else "✗ ") + comparison.verdict, "green" if comparison.ok else "red")


def _print_json(comparison: Comparison) -> None:
    from datakit.cli.output import print_json

    print_json(
        {
            "datakit": comparison.new.datakit,
            "old": {"version": comparison.old.version, "origin": comparison.old.origin},
            "new": {"version": comparison.new.version, "origin": comparison.new.origin},
            "ok": comparison.ok,
            "verdict": comparison.verdict,
            "changes": [
                {"impact": str(c.impact), "table": c.table, "column": c.column, "change": c.what}
                for c in comparison.changes
            ],
        }
    )
