"""`datakit trigger pause|unpause NAME`: stop a trigger from starting runs, and let it again.

The pause is kept in the state store, so every `datakit serve` of the project honours it, across
restarts; each is written to the audit log (`datakit.orchestrate.actions`, as the status pages do it).
"""

from __future__ import annotations

from typing import Annotated

import typer

from datakit.cli.state import EnvironmentOption, ProjectOption, state

app = typer.Typer(help="Pause and unpause triggers.", no_args_is_help=True)

NameArgument = Annotated[
    str, typer.Argument(help="Trigger name; `name.warehouse` for one tenant's firing of it.")
]


@app.command("pause")
def pause(name: NameArgument, project: ProjectOption = None, environment: EnvironmentOption = None) -> None:
    """Pause a trigger: its ticks start no run until it is unpaused (no catch-up of them afterwards)."""
    from datakit.cli.output import say
    from datakit.config import load_project
    from datakit.orchestrate.actions import cli_actor, pause_trigger
    from datakit.orchestrate.store import open_store

    loaded = load_project(state.project_dir(project), environment=environment)
    store = open_store(loaded)
    try:
        changed = pause_trigger(loaded, store, name, cli_actor())
    finally:
        store.close()
    say(f"✓ trigger {name} paused" if changed else f"trigger {name} was paused already", "green")


@app.command("unpause")
def unpause(name: NameArgument, project: ProjectOption = None, environment: EnvironmentOption = None) -> None:
    """Unpause a trigger: it fires again from its next tick."""
    from datakit.cli.output import say
    from datakit.config import load_project
    from datakit.orchestrate.actions import cli_actor, unpause_trigger
    from datakit.orchestrate.store import open_store

    loaded = load_project(state.project_dir(project), environment=environment)
    store = open_store(loaded)
    try:
        changed = unpause_trigger(loaded, store, name, cli_actor())
    finally:
        store.close()
    say(f"✓ trigger {name} unpaused" if changed else f"trigger {name} was not paused", "green")
