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
    from datakit.load.state import CommittedLoad
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
    resolved: list[ResourcePlan] = []
    destination: Destination | None = None
    for resource in step.params.resources:  # one by one: a resource's bad config is its own failure
        try:
            destination, (plan,) = plans_for(project, pipeline, resources=[resource], tenant=tenant)
        except Exception as exc:
            failures[resource] = exc
            outcomes[resource] = {"status": "failed", "error": _message(exc)}
            continue
        resolved.append(plan)
    if destination is not None:
        loaded, failed = load_plans(destination, resolved, full_refresh=full_refresh, runs=runs, say=say)
        outcomes.update(loaded)
        failures.update(failed)
    ordered = {resource: outcomes[resource] for resource in step.params.resources}
    details: dict[str, Any] = {"resources": ordered}
    if failures:
        failed_names = [resource for resource in ordered if resource in failures]
        names, first = ", ".join(failed_names), failed_names[0]
        raise GroupFailed(
            f"{len(failures)} of {len(ordered)} resources of pipeline {pipeline} failed ({names}); "
            f"{pipeline}.{first}: {_message(failures[first])}",
            transient=all(is_transient(exc) for exc in failures.values()),
            details=details,
        )
    rows = {count: sum(int(o.get(count, 0)) for o in ordered.values()) for count in _COUNTS}
    return {"rows": rows, "details": details}


def load_plans(
    destination: Destination,
    plans: list[ResourcePlan],
    *,
    full_refresh: bool,
    runs: tuple[str, ...],
    say: Callable[[str], None],
) -> tuple[dict[str, dict[str, Any]], dict[str, Exception]]:
    """Load `plans` one after the other on one held connection of `destination`: the schemas made and
    the committed loads asked for once, then each load in its own transaction. Each resource's outcome
    as JSON values, and the errors of those that failed (the others go on)."""
    from datakit.load import state

    outcomes: dict[str, dict[str, Any]] = {}
    failures: dict[str, Exception] = {}
    if not plans:
        return outcomes, failures
    step_ids = {plan.resource: f"{plan.pipeline}.{plan.resource}" for plan in plans}  # as ungrouped
    state_schema = plans[0].state_schema  # one pipeline: one destination, one tenant
    with destination.held():
        try:
            schemas = tuple(dict.fromkeys(p.target.schema for p in plans if p.target.schema))
            state.prepare(destination, schemas, state_schema=state_schema)
            done = state.committed_loads(
                destination, list(step_ids.values()), runs, state_schema=state_schema
            )
        except Exception as exc:  # the destination is unreachable: every resource failed for it
            for plan in plans:
                failures[plan.resource] = exc
                outcomes[plan.resource] = {"status": "failed", "error": _message(exc)}
            return outcomes, failures
        for plan in plans:
            step_id = step_ids[plan.resource]
            try:
                outcomes[plan.resource] = _load_one(
                    destination, plan, full_refresh, runs, done.get(step_id), say
                )
            except Exception as exc:
                failures[plan.resource] = exc
                outcomes[plan.resource] = {"status": "failed", "error": _message(exc)}
                say(f"{step_id} failed: {_message(exc)}")
    return outcomes, failures


def _load_one(
    destination: Destination,
    plan: ResourcePlan,
    full_refresh: bool,
    runs: tuple[str, ...],
    done: CommittedLoad | None,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """One resource's load, or `done`, the committed load of an earlier try; its outcome as JSON values."""
    from datakit.load.loader import load_resource
    from datakit.load.plan import RunOptions

    step_id = f"{plan.pipeline}.{plan.resource}"
    if done is not None:
        by = f"run {done.run_id} already (load {done.load_id})"
        say(f"{step_id} -> {plan.target} was loaded by {by}: not loaded again")
        counts = (done.rows_read, done.rows_loaded, done.rows_rejected)
        return {"status": "reused", **dict(zip(_COUNTS, counts, strict=True)), "load_id": done.load_id}
    run_id = runs[0] if runs else None
    options = RunOptions(
        full_refresh=full_refresh, run_id=run_id, step_id=step_id if runs else None, prepared=True
    )
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
