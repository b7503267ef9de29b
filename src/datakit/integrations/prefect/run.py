"""`datakit prefect run job`: one flow run now, in this process, and what it recorded."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any
from uuid import UUID

from datakit.integrations.prefect.flows import ENGINE, job_flow
from datakit.integrations.prefect.plans import FlowOptions

if TYPE_CHECKING:
    from datakit.config.project import Project


@dataclass(frozen=True)
class FlowOutcome:
    """The flow run (Prefect's view) and the datakit run it recorded (None when it recorded none)."""

    flow_run_id: str
    flow_run_name: str
    state: str
    run_id: int | None
    status: str | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.state == "COMPLETED"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def run_now(
    project: Project,
    job: str,
    *,
    warehouse: str | None = None,
    full_refresh: bool = False,
    resume: int | None = None,
    chosen: FlowOptions | None = None,
    confirmed: bool = False,
) -> FlowOutcome:
    """Run job `job` (for `warehouse`) as its Prefect flow, now, against the configured Prefect API;
    `chosen`: a selection or a backfill window (`plans.py`), checked before the flow run starts, as is a
    full refresh in prod without `confirmed` (`--yes`: `refuse_full_refresh`)."""
    from datakit.config.tenancy import tenant_context
    from datakit.integrations.prefect.plans import flow_plan
    from datakit.orchestrate.run import refuse_full_refresh
    from datakit.orchestrate.store import open_store
    from datakit.orchestrate.store.external import ExternalRuns

    if full_refresh:
        refuse_full_refresh(project, confirmed)
    chosen = replace(chosen or FlowOptions(), resume=resume)
    tenant = tenant_context(project, warehouse)
    name = tenant.require_job(project.resolve_name("job", job) or job)
    store = open_store(project)
    try:  # a bad selector or window is the CLI's error here, not a failed flow run
        flow_plan(project, name, tenant.name, chosen, store)
    finally:
        store.close()
    flow = job_flow(tenant.name, name, project.job(name).description)
    state: Any = flow(  # a State, with return_state
        project_root=str(project.root.resolve()),
        environment=project.environment,
        full_refresh=full_refresh,
        resume=resume,
        **chosen.parameters(),
        **({"confirm_full_refresh": True} if full_refresh and confirmed else {}),
        return_state=True,
    )
    flow_run_id = str(state.state_details.flow_run_id)
    store = open_store(project)
    try:
        run_id = ExternalRuns(store).find(f"{ENGINE}:{flow_run_id}")
        status = None if run_id is None else store.get_run(run_id).status
    finally:
        store.close()
    error = None
    if not state.is_completed():
        failure = state.result(raise_on_failure=False)
        error = str(failure) if isinstance(failure, BaseException) else state.message
    return FlowOutcome(flow_run_id, _flow_run_name(flow_run_id), state.type.value, run_id, status, error)


def _flow_run_name(flow_run_id: str) -> str:
    from prefect import get_client

    with get_client(sync_client=True) as client:
        return str(client.read_flow_run(UUID(flow_run_id)).name)
