"""OpenLineage run events of a job run and of each of its steps, sent through `openlineage-python`.

Off unless `datakit.yaml` has an `openlineage:` block (`pip install 'datakit[openlineage]'`; the
client is imported only then). The executor hands every run and step transition to `step_observer`'s
callable as plain data (`StepEvent`); this module turns it into a RunEvent: START when it starts,
COMPLETE or FAIL when it ends. A step's run has the job's run as its parent (ParentRunFacet, with the
job run as root too). Its datasets come from the lineage graph, so the events carry the same column
lineage as `datakit lineage`:

* a load step reads its source table and writes its table (schema and columnLineage facets);
* a dbt step writes the models dbt reports it built (read again from dbt's artifacts once it ended, so
  their compiled SQL is the one just run), and reads what those models read;
* a checks step reads the tables its checks read, each with a dataQualityAssertions facet.

Sending never fails nor slows a run: events are built and sent in order by a thread of their own (the
executor only queues them; building a dbt step's datasets reads dbt's artifacts again), an error of
the transport is a warning in the log, and the end of a run waits at most `FLUSH_TIMEOUT` seconds for
its events to be out.
"""

from __future__ import annotations

import datetime
import queue
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from datakit.errors import DatakitError
from datakit.lineage.model import Edge, Graph, How, Table
from datakit.log import get_logger, redact

if TYPE_CHECKING:
    from datakit.config.models.project import OpenLineageSettings
    from datakit.config.project import Project
    from datakit.config.tenancy import Tenant

log = get_logger(__name__)
PRODUCER = "https://github.com/datakit/datakit"
FLUSH_TIMEOUT = 10.0
"""Seconds the end of a run waits for its events to be sent (a receiver that is down costs no more)."""
HTTP_RETRY = {
    "total": 2,
    "backoff_factor": 0.5,
    "status_forcelist": [429, 500, 502, 503, 504],
    "allowed_methods": ["POST"],
}
"""The client's default retries 5 times per event; a run sends dozens, so a dead receiver would stall."""
Phase = Literal["start", "complete", "fail"]
_TRANSFORMATIONS: dict[How, tuple[str, str]] = {
    How.COPIED: ("DIRECT", "IDENTITY"),
    How.RENAMED: ("DIRECT", "IDENTITY"),
    How.CAST: ("DIRECT", "TRANSFORMATION"),
    How.TRANSFORMED: ("DIRECT", "TRANSFORMATION"),
    How.AGGREGATED: ("DIRECT", "AGGREGATION"),
    How.JOINED_ON: ("INDIRECT", "JOIN"),
    How.FILTERED_BY: ("INDIRECT", "FILTER"),
}


@dataclass(frozen=True)
class StepEvent:
    """A transition of a run (`step_id` None) or of one of its steps, as the executor saw it."""

    phase: Phase
    job: str
    run_id: int
    warehouse: str | None = None
    step_id: str | None = None
    kind: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    details: Mapping[str, Any] | None = None
    at: float = field(default_factory=time.time)
    run_key: str | None = None
    """The run's name unique across state stores and stable across processes (an engine's run id,
    `airflow:<dag id>:<run id>`; a local run's `<id>-<uid>`): its events' OpenLineage run ids are
    derived from it, so the START and COMPLETE of a step sent by two processes name one run."""


def step_observer(project: Project) -> Callable[[StepEvent], None] | None:
    """The callable that sends `project`'s events, or None when OpenLineage is not configured."""
    settings = project.config.openlineage
    if settings is None or not settings.enabled:
        return None
    return Emitter(project, settings)


class Emitter:
    """Builds and sends the events of the runs of one project (one per executor)."""

    def __init__(self, project: Project, settings: OpenLineageSettings, client: Any = None) -> None:
        self.project = project
        self.namespace = settings.namespace or project.config.name
        self.client = client if client is not None else _client(project, settings)
        self._salt = uuid.uuid4().hex  # for events without a run key (run ids repeat across stores)
        self._graph: Graph | None = None
        self._queue: queue.Queue[StepEvent] = queue.Queue()
        self._pending = 0
        self._idle = threading.Condition()
        self._sender = threading.Thread(target=self._send_all, name="datakit-openlineage", daemon=True)
        self._sender.start()

    def __call__(self, event: StepEvent) -> None:
        """Queue `event`; the end of a run also waits (a bounded time) until every event is sent."""
        with self._idle:
            self._pending += 1
        self._queue.put(event)
        if event.step_id is None and event.phase != "start":
            self.flush()

    def flush(self, timeout: float = FLUSH_TIMEOUT) -> bool:
        """Wait until the queued events are sent (or failed); False when `timeout` passed first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def _send_all(self) -> None:
        while True:
            event = self._queue.get()
            try:
                self.client.emit(self.event(event))
            except Exception as exc:  # never fail a run for its lineage
                what = event.step_id or event.job
                log.warning("OpenLineage event not sent (%s %s): %s", event.phase, what, redact(str(exc)))
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def event(self, event: StepEvent) -> Any:
        """The RunEvent of `event` (an openlineage.client RunEvent)."""
        from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
        from openlineage.client.facet_v2 import (
            error_message_run,
            job_type_job,
            parent_run,
            processing_engine_run,
        )

        from datakit import __version__

        job_name = self._job_name(event)
        run_facets: dict[str, Any] = {
            "processing_engine": processing_engine_run.ProcessingEngineRunFacet(
                version=__version__, name="datakit", openlineageAdapterVersion=__version__
            )
        }
        if event.step_id is not None:
            parent_job = self._job_name(StepEvent(event.phase, event.job, event.run_id, event.warehouse))
            parent_id = self._run_uuid(event, None)
            run_facets["parent"] = parent_run.ParentRunFacet(
                run=parent_run.Run(runId=parent_id),
                job=parent_run.Job(namespace=self.namespace, name=parent_job),
                root=parent_run.Root(
                    run=parent_run.RootRun(runId=parent_id),
                    job=parent_run.RootJob(namespace=self.namespace, name=parent_job),
                ),
            )
        if event.phase == "fail" and event.error:
            run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                message=redact(event.error), programmingLanguage="python"
            )
        job_facets: dict[str, Any] = {
            "jobType": job_type_job.JobTypeJobFacet(
                processingType="BATCH", integration="DATAKIT", jobType="STEP" if event.step_id else "JOB"
            )
        }
        inputs, outputs = self._datasets(event) if event.step_id is not None else ([], [])
        states = {"start": RunState.START, "complete": RunState.COMPLETE, "fail": RunState.FAIL}
        return RunEvent(
            eventType=states[event.phase],
            eventTime=datetime.datetime.fromtimestamp(event.at, datetime.UTC).isoformat(),
            run=Run(runId=self._run_uuid(event, event.step_id), facets=run_facets),
            job=Job(namespace=self.namespace, name=job_name, facets=job_facets),
            inputs=inputs,
            outputs=outputs,
            producer=PRODUCER,
        )

    # -- datasets --------------------------------------------------------------------------------------

    def graph(self, fresh: bool = False) -> Graph:
        """The project's lineage graph (built again when `fresh`: after dbt compiled new SQL)."""
        if self._graph is None or fresh:
            from datakit.lineage.build import build_lineage

            self._graph = build_lineage(self.project)
        return self._graph

    def _datasets(self, event: StepEvent) -> tuple[list[Any], list[Any]]:
        from datakit.config.tenancy import tenant_context

        tenant = tenant_context(self.project, event.warehouse)
        params = event.params
        if event.kind == "load":  # a grouped step (`also`) reads and writes each of its resources'
            graph = self.graph()
            pipeline = str(params.get("pipeline"))
            resources = [params.get("resource"), *(params.get("also") or ())]
            ends = [e for e in (graph.loads.get((pipeline, str(r))) for r in resources) if e is not None]
            return (
                [self._input(graph, source, tenant) for source, _ in ends],
                [self._output(graph, target, tenant) for _, target in ends],
            )
        if event.kind == "dbt" and event.phase != "start":
            graph = self.graph(fresh=True)
            by_node = {_dbt_node(t): t.id for t in graph.tables.values() if _dbt_node(t)}
            nodes = (event.details or {}).get("nodes", [])
            built = [
                by_node[n["unique_id"]]
                for n in nodes
                if n.get("resource_type") in ("model", "seed", "snapshot") and n.get("unique_id") in by_node
            ]
            read = sorted({e.source for t in built for e in graph.into_table(t)} - set(built))
            return (
                [self._input(graph, t, tenant) for t in read],
                [self._output(graph, t, tenant) for t in built],
            )
        if event.kind == "checks":
            graph = self.graph()
            suite = self.project.resolve_name("checks", str(params.get("suite"))) or str(params.get("suite"))
            checks = [c for c in graph.checks if c.origin == f"checks {suite}"]
            tables = sorted({t for c in checks for t, _ in c.reads if t in graph.tables})
            results = {str(r.get("name")): r for r in (event.details or {}).get("checks", [])}
            return [self._input(graph, t, tenant, checks, results) for t in tables], []
        return [], []

    def _input(
        self,
        graph: Graph,
        table_id: str,
        tenant: Tenant,
        checks: list[Any] | None = None,
        results: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Any:
        from openlineage.client.event_v2 import InputDataset
        from openlineage.client.facet_v2 import data_quality_assertions_dataset as dq

        table = graph.tables[table_id]
        namespace, name = self.dataset_name(table, tenant)
        input_facets: dict[str, Any] = {}
        assertions = [
            dq.Assertion(
                assertion=check.name,
                success=results[check.name].get("status") == "passed",
                column=next((c for t, c in check.reads if t == table_id and c), None),
            )
            for check in checks or []
            if check.table == table_id and results is not None and check.name in results
        ]
        if assertions:
            facet = dq.DataQualityAssertionsDatasetFacet(assertions=assertions)
            input_facets["dataQualityAssertions"] = facet
        return InputDataset(
            namespace=namespace, name=name, facets=self._schema(table), inputFacets=input_facets
        )

    def _output(self, graph: Graph, table_id: str, tenant: Tenant) -> Any:
        from openlineage.client.event_v2 import OutputDataset
        from openlineage.client.facet_v2 import column_lineage_dataset as cl

        table = graph.tables[table_id]
        namespace, name = self.dataset_name(table, tenant)
        fields: dict[str, list[Any]] = {}
        rows: list[Any] = []
        for edge in graph.into_table(table_id):
            if edge.source_column is None or edge.how not in _TRANSFORMATIONS:
                continue  # an unknown edge names no column: nothing to say field by field
            field = self._input_field(graph, edge, tenant)
            if edge.target_column is None:
                rows.append(field)
            else:
                fields.setdefault(edge.target_column, []).append(field)
        facets = self._schema(table)
        if fields or rows:
            facets["columnLineage"] = cl.ColumnLineageDatasetFacet(
                fields={column: cl.Fields(inputFields=inputs) for column, inputs in fields.items()},
                dataset=rows,
            )
        return OutputDataset(namespace=namespace, name=name, facets=facets)

    def _input_field(self, graph: Graph, edge: Edge, tenant: Tenant) -> Any:
        from openlineage.client.facet_v2 import column_lineage_dataset as cl

        namespace, name = self.dataset_name(graph.tables[edge.source], tenant)
        kind, subtype = _TRANSFORMATIONS[edge.how]
        description = f"{edge.how} [{edge.via}]" + (f": {edge.expression}" if edge.expression else "")
        return cl.InputField(
            namespace=namespace,
            name=name,
            field=str(edge.source_column),
            transformations=[cl.Transformation(type=kind, subtype=subtype, description=description)],
        )

    def _schema(self, table: Table) -> dict[str, Any]:
        from openlineage.client.facet_v2 import schema_dataset

        if not table.columns:
            return {}
        fields = [
            schema_dataset.SchemaDatasetFacetFields(name=c.name, type=c.type, description=c.description)
            for c in table.columns
        ]
        return {"schema": schema_dataset.SchemaDatasetFacet(fields=fields)}

    def dataset_name(self, table: Table, tenant: Tenant) -> tuple[str, str]:
        """(namespace, name) of a table by OpenLineage's naming: where it lives, then what it is called."""
        return dataset_name(self.project, table, tenant)

    # -- names -----------------------------------------------------------------------------------------

    def _job_name(self, event: StepEvent) -> str:
        parts = [event.warehouse, event.job, event.step_id]
        return ".".join(p for p in parts if p)

    def _run_uuid(self, event: StepEvent, step_id: str | None) -> str:
        return run_uuid(event.run_key or f"{self._salt}:{event.run_id}", step_id)


def run_uuid(run_key: str, step_id: str | None) -> str:
    """The OpenLineage run id of a run (`step_id` None) or of one of its steps: the same in every
    process that sends an event about it (a name-based uuid)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"datakit:{run_key}:{step_id or ''}"))


def dataset_name(project: Project, table: Table, tenant: Tenant) -> tuple[str, str]:
    """OpenLineage's (namespace, name) of a table of `project`, as `tenant` has it (its stand-in
    destination, its prefixed schemas); see `datakit.connectors.addresses`."""
    from datakit.connectors.addresses import dataset_address

    if table.kind == "source":
        config: Any = project.source(table.system)
        schema = table.schema
    else:
        config = project.destination(tenant.destination_for(table.system))
        schema = tenant.schema(table.schema) if table.schema else None
    return dataset_address(config, table.system, schema, table.name, project.path)


def _dbt_node(table: Table) -> str | None:
    """The dbt unique_id of a table dbt builds."""
    origin = table.origin or ""
    return origin.removeprefix("dbt ") if origin.startswith("dbt ") else None


def _client(project: Project, settings: OpenLineageSettings) -> Any:
    """An OpenLineageClient for the configured transport; a clear error when the extra is missing."""
    try:
        from openlineage.client import OpenLineageClient
    except ImportError:
        raise DatakitError(
            "datakit.yaml enables openlineage, but openlineage-python is not installed",
            hint="pip install 'datakit[openlineage]', or remove the `openlineage:` block",
        ) from None
    from datakit.config.models.project import OpenLineageFile, OpenLineageHttp

    transport = settings.transport
    config: dict[str, Any]
    if isinstance(transport, OpenLineageHttp):
        config = {"type": "http", "url": transport.url, "endpoint": transport.endpoint}
        config |= {"timeout": transport.timeout, "retry": HTTP_RETRY}
        if transport.api_key_secret_key:
            from datakit.connectors.from_config import project_secrets

            key = project_secrets(project).resolve(transport.api_key_secret_key)
            if key is not None:
                config["auth"] = {"type": "api_key", "apiKey": key.get_secret_value()}
    elif isinstance(transport, OpenLineageFile):
        path: Path = project.path(transport.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        config = {"type": "file", "log_file_path": str(path), "append": True}
    else:
        config = {"type": "console"}
    return OpenLineageClient(config={"transport": config})
