"""`datakit serve`: the scheduler, the webhook endpoint and the status pages, until SIGTERM or Ctrl-C."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from datakit.cli.state import EnvironmentOption, ProjectOption, state


class LogLevel(StrEnum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


def serve(
    host: Annotated[
        str,
        typer.Option(
            "--host", help="Address to listen on; beyond 127.0.0.1 every page needs a login (serve.users)."
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8321,
    grace: Annotated[
        float,
        typer.Option("--grace", min=0, help="Seconds running runs may take to finish on shutdown."),
    ] = 30.0,
    poll: Annotated[float, typer.Option("--poll", min=0.1, help="Seconds between scheduler polls.")] = 1.0,
    auth: Annotated[
        str,
        typer.Option(
            "--auth",
            help="`users`: actions need a login as one of serve.users (datakit.yaml); `none`: anyone on "
            "this machine may act (127.0.0.1 only).",
        ),
    ] = "users",
    log_level: Annotated[
        LogLevel,
        typer.Option("--log-level", help="What the daemon logs (stderr): runs started, prunes, failures."),
    ] = LogLevel.info,
    project: ProjectOption = None,
    environment: EnvironmentOption = None,
) -> None:
    """Run the scheduler, the webhook endpoint (POST /hooks/<trigger>) and the status pages."""
    from datakit.cli.output import say
    from datakit.config import load_project
    from datakit.server.serve import ServeOptions
    from datakit.server.serve import serve as run_server

    _log_to_stderr(log_level)
    loaded = load_project(state.project_dir(project), environment=environment)
    from datakit.integrations.cancel import cancel_in_engine

    options = ServeOptions(
        host=host, port=port, poll_every=poll, grace=grace, auth=auth, engine_cancel=cancel_in_engine
    )

    def ready(url: str) -> None:
        say(f"✓ serving {loaded.config.name} on {url}", "green")
        if auth == "none":
            say(
                "! --auth none: ANYONE who can open this address on this machine may start, cancel and "
                "pause runs, without a login",
                "bold red",
            )
        elif not loaded.config.serve.users:
            say("  the pages are read-only: add serve.users to datakit.yaml to act on them", "yellow")
        else:
            say(f"  log in at {url}/login to act ({len(loaded.config.serve.users)} user(s))")

    run_server(loaded, options, on_ready=ready)


def _log_to_stderr(level: LogLevel) -> None:
    """The daemon's log, one timestamped line per event (secrets masked by datakit's handler)."""
    import logging

    from datakit.log import configure

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    configure(getattr(logging, level.value.upper()), handler)
