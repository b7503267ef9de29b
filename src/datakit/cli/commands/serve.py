"""`datakit serve`: the scheduler, the webhook endpoint and the status pages, until SIGTERM or Ctrl-C."""

from __future__ import annotations

import ipaddress
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
        str, typer.Option("--host", help="Address to listen on (the pages have no login: keep it local).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8321,
    grace: Annotated[
        float,
        typer.Option("--grace", min=0, help="Seconds running runs may take to finish on shutdown."),
    ] = 30.0,
    poll: Annotated[float, typer.Option("--poll", min=0.1, help="Seconds between scheduler polls.")] = 1.0,
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
    if not _loopback(host):
        say(
            f"! listening on {host}: anyone who can reach it can read the status pages and run history",
            "yellow",
        )
    options = ServeOptions(host=host, port=port, poll_every=poll, grace=grace)
    run_server(loaded, options, on_ready=lambda url: say(f"✓ serving {loaded.config.name} on {url}", "green"))


def _log_to_stderr(level: LogLevel) -> None:
    """The daemon's log, one timestamped line per event (secrets masked by datakit's handler)."""
    import logging

    from datakit.log import configure

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    configure(getattr(logging, level.value.upper()), handler)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
