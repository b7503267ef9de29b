"""`run_job`: the Python function behind `datakit run job` — compile, open the store, execute, notify."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from datakit.orchestrate.executor import Executor, RunResult
from datakit.orchestrate.notify import Notifier
from datakit.orchestrate.plan import compile_job
from datakit.orchestrate.steps import LocalRunner

if TYPE_CHECKING:
    from datakit.config.project import Project
    from datakit.orchestrate.store import StateStore


def run_job(
    project: Project,
    job_name: str,
    *,
    allow_concurrent: bool = False,
    resume: int | None = None,
    full_refresh: bool = False,
    tick_key: str | None = None,
    store: StateStore | None = None,
    on_started: Callable[[int], None] | None = None,
    cancel: threading.Event | None = None,
) -> RunResult:
    """Run job `job_name` of `project` now, each step in a child process, recorded in the state store.

    The job's notification channels hear of the run's end, and of an SLA miss while it runs. A daemon
    passes its own `store` (left open), learns the run id as soon as the run is committed
    (`on_started`), and may stop the run by setting `cancel`.
    """
    from datakit.orchestrate.store import open_store

    plan = compile_job(project, job_name)
    notifier = Notifier.for_job(project, plan.job)
    own_store = store is None
    state = open_store(project) if store is None else store
    try:
        runner = LocalRunner(project.root, project.environment, full_refresh=full_refresh)
        executor = Executor(state, runner, notify=notifier, cancel=cancel)
        return executor.run(
            plan, allow_concurrent=allow_concurrent, resume=resume, tick_key=tick_key, on_started=on_started
        )
    finally:
        if own_store:
            state.close()
