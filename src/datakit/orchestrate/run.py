"""`run_job`: the Python function behind `datakit run job` — compile, open the store, execute."""

from __future__ import annotations

from typing import TYPE_CHECKING

from datakit.orchestrate.executor import Executor, RunResult
from datakit.orchestrate.plan import compile_job
from datakit.orchestrate.steps import LocalRunner

if TYPE_CHECKING:
    from datakit.config.project import Project


def run_job(
    project: Project,
    job_name: str,
    *,
    allow_concurrent: bool = False,
    resume: int | None = None,
    full_refresh: bool = False,
    tick_key: str | None = None,
) -> RunResult:
    """Run job `job_name` of `project` now, each step in a child process, recorded in the state store."""
    from datakit.orchestrate.store import open_store

    plan = compile_job(project, job_name)
    store = open_store(project)
    try:
        runner = LocalRunner(project.root, project.environment, full_refresh=full_refresh)
        return Executor(store, runner).run(
            plan, allow_concurrent=allow_concurrent, resume=resume, tick_key=tick_key
        )
    finally:
        store.close()
