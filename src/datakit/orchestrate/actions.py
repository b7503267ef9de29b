"""What an operator does to runs and triggers — cancel a run, pause or unpause a trigger — as the CLI and
the status pages both do it, each action and its refusal written to the audit log.

Starting, resuming and retrying are runs like any other: `datakit run job` calls `run_job` and the daemon
`Launcher.launch`, both through `Executor.run` with the same options and the same one-active-run rule;
`audited` records who asked for them.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from datakit.errors import DatakitError, NotFoundError, did_you_mean
from datakit.log import get_logger
from datakit.orchestrate.store.records import ACTIVE, LOCAL

if TYPE_CHECKING:
    from datakit.config.project import Project
    from datakit.orchestrate.store import RunRecord, StateStore

log = get_logger(__name__)
T = TypeVar("T")


def cli_actor() -> str:
    """Who acts from a terminal: `cli:<the OS user>`."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name for this uid (a container)
        return "cli:unknown"


def audited(
    store: StateStore,
    actor: str,
    action: str,
    target: str,
    do: Callable[[], T],
    *,
    client: str | None = None,
    detail: Callable[[T], str | None] | None = None,
) -> T:
    """`do()`, recorded in the audit log as done (`ok`) or refused with its reason (and re-raised)."""
    try:
        result = do()
    except DatakitError as exc:
        store.record_audit(actor, action, target, outcome="refused", detail=exc.message, client=client)
        raise
    store.record_audit(actor, action, target, detail=detail(result) if detail else None, client=client)
    return result


EngineCancel = Callable[["RunRecord", str], None]
"""Asks the engine that executes a run (Prefect, Airflow) to cancel it, for an actor; raises a
DatakitError saying how to cancel it there when it cannot (`datakit.integrations.cancel`)."""


def cancel_run(
    store: StateStore,
    run_id: int,
    actor: str,
    *,
    stop_here: Callable[[int], bool] | None = None,
    client: str | None = None,
    engine_cancel: EngineCancel | None = None,
) -> None:
    """Cancel active run `run_id`: the request is recorded (its executor, in whichever process, polls it
    and kills the run's steps; the run ends `cancelled`), and `stop_here` stops it at once when this
    process runs it. A run that is not active is refused.

    A run another engine executes (Prefect, Airflow) is cancelled there first, through `engine_cancel`:
    its flow or DAG run is stopped by its own scheduler (a Prefect runner kills the flow's process),
    and datakit's own request stops the steps of a flow running in a process that polls it. When the
    engine cannot be asked, nothing is recorded and the error says how to cancel the run there.
    """

    def do() -> None:
        run = store.get_run(run_id)
        if run.status not in ACTIVE:
            raise DatakitError(f"run {run_id} is {run.status}, not running: nothing to cancel")
        if run.engine != LOCAL:
            if engine_cancel is None:
                raise DatakitError(
                    f"run {run_id} is executed by {run.engine}: cancel it there",
                    hint=f"datakit runs cancel {run_id} asks {run.engine} to",
                )
            engine_cancel(run, actor)
        if not store.request_cancel(run_id, actor):
            raise DatakitError(f"run {run_id} is {run.status}, not running: nothing to cancel")
        if stop_here is not None:
            stop_here(run_id)
        log.warning("run %d of job %s: cancel requested by %s", run_id, run.job, actor)

    audited(store, actor, "cancel", f"run {run_id}", do, client=client)


def check_trigger(project: Project, name: str) -> str:
    """`name` as a trigger's firing name (`nightly`, or a tenant's `nightly.acme`); NotFoundError with
    the closest names when the project has no such trigger."""
    base, _, warehouse = name.partition(".")
    if base not in project.triggers:
        raise NotFoundError(
            f"no trigger {base!r}",
            hint=did_you_mean(base, project.triggers) or "`datakit list` shows the project's triggers",
        )
    if warehouse and warehouse not in project.warehouses:
        raise NotFoundError(
            f"no warehouse {warehouse!r} for trigger {base!r}",
            hint=did_you_mean(warehouse, project.warehouses) or f"pause {base!r} for every warehouse",
        )
    return name


def pause_trigger(
    project: Project, store: StateStore, name: str, actor: str, *, client: str | None = None
) -> bool:
    """Pause trigger `name` (it starts nothing until unpaused); False when it already was paused."""

    def do() -> bool:
        return store.pause_trigger(check_trigger(project, name), actor)

    return audited(store, actor, "pause", f"trigger {name}", do, client=client, detail=_already("paused"))


def unpause_trigger(
    project: Project, store: StateStore, name: str, actor: str, *, client: str | None = None
) -> bool:
    """Unpause trigger `name`; False when it was not paused."""

    def do() -> bool:
        return store.unpause_trigger(check_trigger(project, name))

    return audited(
        store, actor, "unpause", f"trigger {name}", do, client=client, detail=_already("not paused")
    )


def _already(state: str) -> Callable[[bool], str | None]:
    return lambda changed: None if changed else f"it was {state} already"
