"""(In the step process.) A grouped load step: several resources of one pipeline, one connection.

What the group shares is what costs a small load most: the process, the project and the destination
connection (`Destination.held`). What it does not share is what makes a load safe: each resource is
resolved, loaded and recorded on its own — its own transaction, its own record in `_datakit.loads`
under its own step id (`<pipeline>.<resource>`), so a resumed or retried run skips exactly the
resources whose load committed (`committed_load`), as it would with one step per resource.

A resource that fails (its configuration, its source, its load) is reported as that resource's
failure and the others go on: nothing of theirs is undone. The step then fails with an error naming
the failed resources (transient only when every failure is, so a retry is for what a retry can fix),
and its details — the run page's table — hold every resource's outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from datakit.errors import DatakitError

if TYPE_CHECKING:
    from datakit.config.project import Project
    from datakit.config.tenancy import Tenant
    from datakit.connectors import Destination
    from datakit.load.plan import ResourcePlan
    from datakit.orchestrate.stepkinds import LoadStep

_COUNTS = ("rows_read", "rows_loaded", "rows_rejected")


class GroupFailed(DatakitError):
    """Some resources of a grouped load step failed; `details` has every resource's outcome."""

    def __init__(self, message: str, *, transient: bool, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.transient = transient
        self.details = details


def load_group(
    project: Project,
    step: LoadStep,
    tenant: Tenant,
    full_refresh: bool,
    runs: tuple[str, ...],
    say: Callable[[str], None],
) -> dict[str, Any]:
    """Load each resource of `step` in turn on one destination connection; the summed row counts and
    each resource's outcome (`details.resources`), or `GroupFailed` when any resource failed."""
    from datakit.load.resolve import plans_for
    from datakit.orchestrate.retry import is_transient

    pipeline = step.params.pipeline
    outcomes: dict[str, dict[str, Any]] = {}
    failures: dict[str, Exception] = {}
    resolved: list[tuple[str, ResourcePlan]] = []
    destination: Destination | None = None
    for resource in step.params.resources:  # one by one: a resource's bad config is its own failure
        try:
            destination, (plan,) = plans_for(project, pipeline, resources=[resource], tenant=tenant)
        except Exception as exc:
            failures[resource] = exc
            outcomes[resource] = {"status": "failed", "error": _message(exc)}
            continue
        resolved.append((resource, plan))
    if destination is not None:
        with destination.held():
            for resource, plan in resolved:
                try:
                    outcomes[resource] = _load_one(destination, plan, full_refresh, runs, say)
                except Exception as exc:
                    failures[resource] = exc
                    outcomes[resource] = {"status": "failed", "error": _message(exc)}
                    say(f"{pipeline}.{resource} failed: {_message(exc)}")
    ordered = {resource: outcomes[resource] for resource in step.params.resources}
    details: dict[str, Any] = {"resources": ordered}
    if failures:
        names = ", ".join(failures)
        first = next(iter(failures))
        raise GroupFailed(
            f"{len(failures)} of {len(ordered)} resources of pipeline {pipeline} failed ({names}); "
            f"{pipeline}.{first}: {_message(failures[first])}",
            transient=all(is_transient(exc) for exc in failures.values()),
            details=details,
        )
    rows = {count: sum(int(o.get(count, 0)) for o in ordered.values()) for count in _COUNTS}
    return {"rows": rows, "details": details}


def _load_one(
    destination: Destination,
    plan: ResourcePlan,
    full_refresh: bool,
    runs: tuple[str, ...],
    say: Callable[[str], None],
) -> dict[str, Any]:
    """One resource's load, or the committed load of an earlier try; its outcome as JSON values."""
    from datakit.load.loader import load_resource
    from datakit.load.plan import RunOptions
    from datakit.load.state import committed_load

    step_id = f"{plan.pipeline}.{plan.resource}"  # the id an ungrouped step would have (`plan`)
    options = RunOptions(full_refresh=full_refresh)
    if runs:
        done = committed_load(destination, step_id, runs, state_schema=plan.state_schema)
        if done is not None:
            say(
                f"{step_id} -> {plan.target} was loaded by run {done.run_id} already "
                f"(load {done.load_id}): not loaded again"
            )
            counts = (done.rows_read, done.rows_loaded, done.rows_rejected)
            return {"status": "reused", **dict(zip(_COUNTS, counts, strict=True)), "load_id": done.load_id}
        options = RunOptions(full_refresh=full_refresh, run_id=runs[0], step_id=step_id)
    say(f"loading {step_id} -> {plan.target}")
    result = load_resource(plan, destination, options)
    say(
        f"loaded {result.target}: read {result.rows_read}, loaded {result.rows_loaded}, "
        f"rejected {result.rows_rejected}"
    )
    counts = (result.rows_read, result.rows_loaded, result.rows_rejected)
    return {"status": "succeeded", **dict(zip(_COUNTS, counts, strict=True)), "load_id": result.load_id}


def _message(exc: Exception) -> str:
    from datakit.log import redact

    return redact(str(exc) if isinstance(exc, DatakitError) else f"{type(exc).__name__}: {exc}")
