"""`serve`: the daemon — scheduler, webhook endpoint and status pages in one process, stopped cleanly.

Threads, not processes: the scheduler polls (cheap), the web server waits on sockets, and each run's
steps already run in child processes of their own. uvicorn runs in a thread of its own, so it does not
take over the process's signals: SIGTERM and SIGINT reach `serve`, which then stops in this order —
no more ticks (the scheduler finishes its poll), no more requests (the web server closes), then running
runs get `grace` seconds to finish before they are cancelled and recorded as failed. Every run ends
recorded; a second signal during the grace period cancels at once.

The daemon keeps its run history within the project's retention (`retention:` in datakit.yaml): at
start-up and every `prune_every`, old runs, spent ticks and expired delivery ids go, and the store
shrinks (`datakit.orchestrate.retention`).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

from datakit.config.project import Project
from datakit.errors import DatakitError
from datakit.log import get_logger
from datakit.orchestrate.actions import EngineCancel
from datakit.orchestrate.launch import Launcher
from datakit.orchestrate.retention import RetentionSweeper
from datakit.orchestrate.store import StateStore, open_store
from datakit.orchestrate.triggers import Tick
from datakit.server.app import create_app, webhook_secrets
from datakit.server.auth import auth_policy
from datakit.server.limits import DEFAULT_LIMITS, HttpLimits
from datakit.server.scheduler import Scheduler

log = get_logger(__name__)

DEFAULT_PORT = 8321


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    poll_every: float = 1.0
    grace: float = 30.0
    limits: HttpLimits = DEFAULT_LIMITS
    forget_every: float = 600.0
    """Seconds between sweeps of expired webhook delivery ids from the store (its size stays bounded
    by the ids of the last 7 days)."""
    auth: str = "users"
    """`users` (log in as one of `serve.users`; without any, the pages are read-only) or `none` (anyone
    on this machine may act; loopback only)."""
    engine_cancel: EngineCancel | None = None
    """How the cancel action reaches the engine of a run datakit does not execute (Prefect, Airflow):
    the CLI passes `datakit.integrations.cancel.cancel_in_engine` (this layer cannot import it)."""


def serve(
    project: Project,
    options: ServeOptions = ServeOptions(),  # frozen, so sharing the default is safe
    *,
    stop: threading.Event | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Run until SIGTERM/SIGINT (or `stop` is set); `on_ready(url)` once the port is listening."""
    from datakit.server.protocol import web_server

    secrets = webhook_secrets(project)  # before anything starts: a missing secret refuses the start
    policy = auth_policy(project, options.host, auth=options.auth)  # and so does an open network
    stop = stop or threading.Event()
    store = open_store(project)
    launcher = Launcher(project, store)

    def launch(tick: Tick, warehouse: str | None) -> int:
        return launcher.launch(tick.job, tick_key=tick.key, warehouse=warehouse)

    scheduler = Scheduler(project, store, launch)
    app = create_app(
        project,
        store,
        launch,
        secrets,
        limits=options.limits,
        active=launcher.running_here,
        operator=launcher,
        policy=policy,
        engine_cancel=options.engine_cancel,
    )
    server = web_server(app, options.host, options.port, options.limits)
    web = threading.Thread(target=server.run, name="datakit-web", daemon=True)
    restore = _on_signals(stop, launcher) if threading.current_thread() is threading.main_thread() else None
    try:
        web.start()
        _wait_listening(server, web, options)
        url = f"http://{options.host}:{options.port}"
        log.info("serving %s on %s (%d triggers)", project.config.name, url, len(project.triggers))
        if policy.none:
            log.warning(
                "--auth none: anyone who can open %s on this machine may start, cancel and pause", url
            )
        if on_ready is not None:
            on_ready(url)
        ticker = threading.Thread(
            target=scheduler.run_forever, args=(stop, options.poll_every), name="datakit-scheduler"
        )
        ticker.start()
        forget_at = 0.0
        retention = RetentionSweeper(project, store)
        while not stop.wait(0.5):
            if not web.is_alive():
                raise DatakitError("the web server stopped unexpectedly")
            retention.due()
            if time.monotonic() >= forget_at:
                _forget_expired_deliveries(store)
                forget_at = time.monotonic() + options.forget_every
        ticker.join()
    finally:
        stop.set()
        server.should_exit = True
        web.join(10.0)
        launcher.stop(options.grace)
        store.close()
        if restore is not None:
            restore()
        log.info("stopped")


def _forget_expired_deliveries(store: StateStore) -> None:
    """Drop webhook delivery ids past their expiry; a failure waits for the next sweep."""
    try:
        forgotten = store.forget_deliveries()
    except Exception as exc:  # the daemon outlives a busy or unreachable store
        log.warning("forgetting expired webhook deliveries failed: %s", exc)
        return
    if forgotten:
        log.info("forgot %d expired webhook delivery record(s)", forgotten)


def _wait_listening(server: object, web: threading.Thread, options: ServeOptions) -> None:
    """Until uvicorn listens; a thread that died first could not bind (port in use, bad host)."""
    while not getattr(server, "started", False):
        if not web.is_alive():
            raise DatakitError(
                f"cannot listen on {options.host}:{options.port}",
                hint="is another process using the port? choose one with --port",
            )
        time.sleep(0.02)


def _on_signals(stop: threading.Event, launcher: Launcher) -> Callable[[], None]:
    """SIGTERM/SIGINT stop the daemon; a second one cancels running runs without waiting."""

    def handle(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            log.warning("second %s: cancelling running runs now", signal.Signals(signum).name)
            launcher.cancel_now()
            return
        log.info("%s: stopping (no new ticks; running runs may finish)", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
