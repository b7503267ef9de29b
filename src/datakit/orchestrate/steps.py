"""What each kind of step does, and the runner that carries steps out in child processes.

A step runner is any callable `Step -> StepOutput` that raises on failure; the executor does not care
how a step runs. Tests plug in cheap in-process runners; `LocalRunner` — the default — runs every step
in a child process (`subproc`), so a step's timeout kills it for real and a crash in a driver cannot
take the executor down with it. The child loads the project itself (the plan carries names, never
open connections), which also keeps one resource's connections out of another's process.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datakit.errors import DatakitError
from datakit.orchestrate.plan import Step
from datakit.orchestrate.subproc import kill_all, run_in_child


@dataclass(frozen=True)
class StepOutput:
    """What a finished step reports: row counts (loads), the tail of its log, structured results."""

    rows: dict[str, int] = field(default_factory=dict)
    log: str = ""
    details: dict[str, Any] | None = None
    """JSON-able results kept in run history: dbt's per-node results, check results."""


StepRunner = Callable[[Step], StepOutput]


@dataclass(frozen=True)
class LocalRunner:
    """Runs each step of a project's plan in a child process, with the step's timeout."""

    project_root: Path
    environment: str
    full_refresh: bool = False

    def __call__(self, step: Step) -> StepOutput:
        if step.kind == "load":
            kwargs = {
                "project_root": str(self.project_root),
                "environment": self.environment,
                "pipeline": step.params["pipeline"],
                "resource": step.params["resource"],
                "full_refresh": self.full_refresh,
            }
            result, log = run_in_child(
                "datakit.orchestrate.steps:load_step", kwargs, timeout=step.timeout, cwd=self.project_root
            )
            return StepOutput(rows={k: int(v) for k, v in result.items()}, log=log)
        raise DatakitError(f"step {step.id!r}: unknown kind {step.kind!r}")  # pragma: no cover

    def cancel(self) -> None:
        """Kill the running steps' processes (the executor calls this when the run is interrupted)."""
        kill_all()


def load_step(
    project_root: str, environment: str, pipeline: str, resource: str, full_refresh: bool = False
) -> dict[str, Any]:
    """(In the child process.) Load one resource of one pipeline; the row counts of the load."""
    from datakit import log as datakit_log
    from datakit.config import load_project
    from datakit.load.loader import load_resource
    from datakit.load.plan import RunOptions
    from datakit.load.resolve import plans_for

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    datakit_log.configure(logging.INFO, handler)
    project = load_project(Path(project_root), environment=environment)
    destination, plans = plans_for(project, pipeline, resources=[resource])
    (plan,) = plans
    print(f"loading {pipeline}.{resource} -> {plan.target}", file=sys.stderr, flush=True)
    result = load_resource(plan, destination, RunOptions(full_refresh=full_refresh))
    print(
        f"loaded {result.target}: read {result.rows_read}, loaded {result.rows_loaded}, "
        f"rejected {result.rows_rejected}",
        file=sys.stderr,
        flush=True,
    )
    return {
        "rows_read": result.rows_read,
        "rows_loaded": result.rows_loaded,
        "rows_rejected": result.rows_rejected,
    }
