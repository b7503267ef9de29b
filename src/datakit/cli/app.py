"""The typer application: global options, command registration and the one error handler.

Commands are thin: they parse, call a library function, and print. Every error datakit raises on purpose
is a `DatakitError`; `main` turns it into a message and a named exit code, never a traceback (unless
`--debug`). Modules that import heavy libraries are imported inside the commands, so `--help` is fast.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from datakit import __version__
from datakit.cli.commands import airflow as airflow_cmd
from datakit.cli.commands import (
    backfill,
    demo,
    deploy,
    docs,
    kit,
    lineage,
    listing,
    plan,
    reflect,
    run,
    runs,
    schema,
    serve,
    trigger,
    validate,
)
from datakit.cli.commands import init as init_cmd
from datakit.cli.commands import prefect as prefect_cmd
from datakit.cli.state import ProjectOption, state
from datakit.errors import DatakitError, ExitCode

app = typer.Typer(
    name="datakit",
    help="Layered data warehouses from YAML and typed data contracts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"datakit {__version__}")
        raise typer.Exit()


@app.callback()
def _global(
    project: ProjectOption = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[  # noqa: ARG001 - handled eagerly by its callback
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Layered data warehouses from YAML and typed data contracts.

    The project is found by walking up from the current directory to the nearest datakit.yaml,
    unless --project is given. ENVIRONMENT (dev, stage, prod) selects overlays and secrets.
    """
    from datakit.cli.output import fit_consoles

    fit_consoles()
    state.project = project
    state.debug = debug


app.command("validate")(validate.validate)
app.command("list")(listing.list_project)
app.command("schema")(schema.schema)
app.command("init")(init_cmd.init)
app.command("demo")(demo.demo)
app.command("deploy")(deploy.deploy)
app.command("reflect")(reflect.reflect)
app.command("serve")(serve.serve)
app.command("lineage")(lineage.lineage)
app.add_typer(run.app, name="run")
app.add_typer(plan.app, name="plan")
app.add_typer(runs.app, name="runs")
app.add_typer(trigger.app, name="trigger")
app.add_typer(airflow_cmd.app, name="airflow")
app.add_typer(prefect_cmd.app, name="prefect")
app.add_typer(docs.app, name="docs")
app.add_typer(kit.app, name="kit")
app.add_typer(backfill.app, name="backfill")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the app, map errors to messages and exit codes."""
    from datakit.cli.output import error

    try:
        app(args=argv, prog_name="datakit")
    except DatakitError as exc:
        if state.debug:
            raise
        error(f"error: {exc}")
        sys.exit(int(exc.exit_code))
    except KeyboardInterrupt:
        error("interrupted")
        sys.exit(130)
    except Exception as exc:  # a bug, not bad input: still no traceback unless asked
        if state.debug:
            raise
        error(f"internal error: {type(exc).__name__}: {exc}\n  rerun with --debug for the traceback")
        sys.exit(int(ExitCode.INVALID))
