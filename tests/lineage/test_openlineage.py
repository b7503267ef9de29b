"""OpenLineage events of a real job run, received over HTTP on 127.0.0.1 and checked against the spec.

The demo job runs with `openlineage:` in datakit.yaml pointing at a receiver in this process. Every
event must validate against the OpenLineage JSON Schema (the event and each facet; the schemas are
in tests/fixtures/openlineage), runs and steps must start and end in order under their parent, and the
column lineage in the events must be the lineage `datakit lineage` computes for the same project.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from datakit.config.project import Project
from datakit.errors import DatakitError
from datakit.lineage import How, build_lineage

pytest.importorskip("openlineage.client", reason="the optional extra datakit[openlineage] is not installed")

SCHEMAS = Path(__file__).parents[1] / "fixtures" / "openlineage"
FACET_SCHEMAS = {
    ("run", "parent"): "ParentRunFacet",
    ("run", "errorMessage"): "ErrorMessageRunFacet",
    ("run", "processing_engine"): "ProcessingEngineRunFacet",
    ("run", "tags"): "TagsRunFacet",  # the client's own (from its environment)
    ("job", "jobType"): "JobTypeJobFacet",
    ("job", "tags"): "TagsJobFacet",
    ("dataset", "schema"): "SchemaDatasetFacet",
    ("dataset", "columnLineage"): "ColumnLineageDatasetFacet",
    ("input", "dataQualityAssertions"): "DataQualityAssertionsDatasetFacet",
}


class _Receiver(BaseHTTPRequestHandler):
    events: list[dict[str, Any]]
    arrived: threading.Condition

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with self.arrived:
            sent = {"path": self.path, "auth": self.headers.get("Authorization")}
            self.events.append(sent | json.loads(body))
            self.arrived.notify_all()
        self.send_response(201)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        del format, args


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    events: list[dict[str, Any]] = []
    handler = type("Receiver", (_Receiver,), {"events": events, "arrived": threading.Condition()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", events
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def emitted(
    receiver: tuple[str, list[dict[str, Any]]], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Project, list[dict[str, Any]]]:
    """The demo job run once with OpenLineage on; the project and the events received, in order."""
    import os

    from datakit.config import load_project
    from datakit.demo.project import create_demo_project
    from datakit.orchestrate.run import run_job

    url, events = receiver
    root = create_demo_project(tmp_path_factory.mktemp("openlineage") / "demo", scale=0.05)
    with (root / "datakit.yaml").open("a") as config:
        config.write(
            "openlineage:\n  namespace: demo\n"
            f"  transport: {{type: http, url: '{url}', api_key_secret_key: lineage_key}}\n"
        )
    (root / "config" / "secrets_mapping.yaml").write_text(
        "secrets:\n  lineage_key: {env_var: DEMO_LINEAGE_KEY, required: false}\n"
    )
    os.environ["DEMO_LINEAGE_KEY"] = "lineage-key-1234"
    try:
        project = load_project(root)
        assert run_job(project, "demo").ok
    finally:
        del os.environ["DEMO_LINEAGE_KEY"]
    return project, list(events)


def test_every_event_validates_against_the_openlineage_schema(
    emitted: tuple[Project, list[dict[str, Any]]],
) -> None:
    import jsonschema
    from referencing import Registry, Resource

    schemas = {p.stem: json.loads(p.read_text()) for p in SCHEMAS.glob("*.json")}
    registry = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema)) for schema in schemas.values()
    )
    event_schema = jsonschema.Draft202012Validator(schemas["OpenLineage"], registry=registry)
    _, events = emitted
    assert len(events) == 2 + 4 * 2  # the run's and each step's start and end
    checked: set[str] = set()
    for received in events:
        event = {k: v for k, v in received.items() if k not in ("path", "auth")}
        event_schema.validate(event)
        groups = [("run", event["run"].get("facets", {})), ("job", event["job"].get("facets", {}))]
        for dataset in event.get("inputs", []) + event.get("outputs", []):
            groups += [("dataset", dataset.get("facets", {})), ("input", dataset.get("inputFacets", {}))]
        for group, facets in groups:
            for name, facet in facets.items():
                schema = schemas[FACET_SCHEMAS[(group, name)]]
                jsonschema.Draft202012Validator(schema, registry=registry).validate({name: facet})
                checked.add(name)
    ours = {name for _, name in FACET_SCHEMAS} - {"tags"}
    assert checked >= ours - {"errorMessage"}  # nothing failed in this run


def test_runs_and_steps_start_and_end_under_their_parent(
    emitted: tuple[Project, list[dict[str, Any]]],
) -> None:
    _, events = emitted
    assert {e["path"] for e in events} == {"/api/v1/lineage"}
    assert {e["auth"] for e in events} == {"Bearer lineage-key-1234"}
    run = [e for e in events if e["job"]["name"] == "demo"]
    assert [e["eventType"] for e in run] == ["START", "COMPLETE"]
    assert events[0] is run[0] and events[-1] is run[1]
    job_run = run[0]["run"]["runId"]
    steps: dict[str, list[str]] = {}
    for event in events[1:-1]:
        assert event["job"]["namespace"] == "demo"
        assert event["run"]["facets"]["parent"]["run"]["runId"] == job_run
        parent = event["run"]["facets"]["parent"]["job"]
        assert (parent["namespace"], parent["name"]) == ("demo", "demo")
        steps.setdefault(event["job"]["name"], []).append(event["eventType"])
    for step in ("demo.silver", "demo.silver_checks", "demo.gold", "demo.dvdrental_bronze.*"):
        assert steps[step] == ["START", "COMPLETE"], step
    assert len(steps) == 1 + 3  # the pipeline's loads (one step: one DuckDB file), two dbt, one checks


def test_the_events_carry_the_column_lineage_of_datakit_lineage(
    emitted: tuple[Project, list[dict[str, Any]]],
) -> None:
    from datakit.config.tenancy import tenant_context
    from datakit.lineage.openlineage import dataset_name

    project, events = emitted
    graph = build_lineage(project)
    tenant = tenant_context(project, None)
    names = {dataset_name(project, table, tenant): table.id for table in graph.tables.values()}
    ends = [e for e in events if e["eventType"] == "COMPLETE"]
    outputs = {(o["namespace"], o["name"]): o for e in ends for o in e.get("outputs", [])}
    compared = 0
    for table in graph.tables.values():
        if table.kind not in ("loaded", "model"):
            continue
        dataset = outputs[dataset_name(project, table, tenant)]
        expected = {
            (e.target_column, e.source, e.source_column)
            for e in graph.edges
            if e.target == table.id and e.target_column and e.source_column and e.how is not How.UNKNOWN
        }
        fields = dataset["facets"].get("columnLineage", {}).get("fields", {})
        got = {
            (column, names[(field["namespace"], field["name"])], field["field"])
            for column, lineage in fields.items()
            for field in lineage["inputFields"]
        }
        assert got == expected, table.id
        compared += 1
    assert compared == 15 + 25  # every bronze table and every silver and gold model

    warehouse = f"duckdb://{project.root / 'warehouse.duckdb'}"
    fact = outputs[(warehouse, "warehouse.gold.fact_payment")]["facets"]["columnLineage"]
    (field,) = fact["fields"]["amount"]["inputFields"]
    assert (field["name"], field["field"]) == ("warehouse.silver.payment", "amount")
    how = field["transformations"][0]
    assert (how["type"], how["subtype"]) == ("DIRECT", "IDENTITY")
    joins = {(d["name"], d["field"], d["transformations"][0]["subtype"]) for d in fact["dataset"]}
    assert ("warehouse.silver.rental", "inventory_id", "JOIN") in joins
    loads = next(e for e in ends if e["job"]["name"] == "demo.dvdrental_bronze.*")
    sqlite = f"sqlite://{project.root / 'data' / 'dvdrental.sqlite'}"
    assert {(i["namespace"], i["name"]) for i in loads["inputs"]} >= {(sqlite, "payment"), (sqlite, "rental")}
    assert len(loads["inputs"]) == len(loads["outputs"]) == 15  # every resource of the grouped step
    payment = outputs[(warehouse, "warehouse.br__pagila__public.payment")]
    fields = {f["name"] for f in payment["facets"]["schema"]["fields"]}
    assert fields >= {"amount", "_dk_load_id", "_dk_record_hash"}


def test_checks_report_their_assertions(emitted: tuple[Project, list[dict[str, Any]]]) -> None:
    _, events = emitted
    (done,) = [e for e in events if e["job"]["name"] == "demo.silver_checks" and e["eventType"] == "COMPLETE"]
    customer = next(i for i in done["inputs"] if i["name"] == "warehouse.silver.customer")
    assertions = customer["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert {(a["assertion"], a["success"], a.get("column")) for a in assertions} == {
        ("not_null(customer_id)", True, "customer_id"),
        ("not_null(email)", True, "email"),
        ("unique(customer_id)", True, "customer_id"),
    }


def test_file_transport_and_a_failing_step(tmp_path: Path) -> None:
    from datakit.config import load_project
    from datakit.lineage.openlineage import Emitter, StepEvent, step_observer
    from tests.pagila_project import copy_pagila_project

    root = copy_pagila_project(tmp_path)
    with (root / "datakit.yaml").open("a") as config:
        config.write("openlineage:\n  transport: {type: file, path: lineage/events.jsonl}\n")
    observe = step_observer(load_project(root))
    assert observe is not None
    params = {"pipeline": "pagila_bronze_pg", "resource": "payment", "warehouse": "acme"}
    observe(StepEvent("start", "pagila_warehouse", 7, "acme", "pagila_bronze_pg.payment", "load", params))
    observe(
        StepEvent("fail", "pagila_warehouse", 7, "acme", "pagila_bronze_pg.payment", "load", params, "boom")
    )
    assert isinstance(observe, Emitter) and observe.flush()  # sent by the emitter's own thread
    lines = (root / "lineage" / "events.jsonl").read_text().splitlines()
    start, fail = (json.loads(line) for line in lines)
    assert (start["eventType"], fail["eventType"]) == ("START", "FAIL")
    assert start["run"]["runId"] == fail["run"]["runId"]
    assert fail["run"]["facets"]["errorMessage"]["message"] == "boom"
    assert (fail["job"]["namespace"], fail["job"]["name"]) == (
        "pagila",
        "acme.pagila_warehouse.pagila_bronze_pg.payment",
    )
    output = fail["outputs"][0]  # the tenant's own schema on its stand-in destination
    assert (output["namespace"], output["name"]) == (
        "postgres://127.0.0.1:5432",
        "pagila_warehouse.acme_br__pagila__public.payment",
    )


def test_a_grouped_load_step_carries_every_resources_datasets(tmp_path: Path) -> None:
    """A step loading several resources (`group_resources`) reads and writes each of them."""
    from datakit.config import load_project
    from datakit.lineage.openlineage import Emitter, StepEvent, step_observer
    from tests.pagila_project import copy_pagila_project

    root = copy_pagila_project(tmp_path)
    with (root / "datakit.yaml").open("a") as config:
        config.write("openlineage:\n  transport: {type: file, path: lineage/events.jsonl}\n")
    observe = step_observer(load_project(root))
    assert isinstance(observe, Emitter)
    params = {"pipeline": "pagila_bronze_pg", "resource": "payment", "also": ["rental", "staff"]}
    step = "pagila_bronze_pg.payment+rental+staff"
    observe(StepEvent("start", "pagila_warehouse", 7, None, step, "load", params))
    observe(StepEvent("complete", "pagila_warehouse", 7, None, step, "load", params))
    assert observe.flush()
    for line in (root / "lineage" / "events.jsonl").read_text().splitlines():
        event = json.loads(line)
        assert [d["name"].rsplit(".", 1)[-1] for d in event["inputs"]] == ["payment", "rental", "staff"]
        outputs = [d["name"] for d in event["outputs"]]
        assert outputs == [f"pagila_warehouse.br__pagila__public.{t}" for t in ("payment", "rental", "staff")]


def test_a_receiver_that_is_down_is_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import socket

    from datakit.config import load_project
    from datakit.lineage.openlineage import Emitter, StepEvent, step_observer
    from tests.pagila_project import copy_pagila_project

    with socket.socket() as probe:  # a port nobody listens on any more
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    root = copy_pagila_project(tmp_path)
    with (root / "datakit.yaml").open("a") as config:
        url = f"http://127.0.0.1:{port}"
        config.write(f"openlineage:\n  transport: {{type: http, url: '{url}', timeout: 1}}\n")
    observe = step_observer(load_project(root))
    assert isinstance(observe, Emitter)
    observe(StepEvent("start", "pagila_daily", 1))
    observe(StepEvent("complete", "pagila_daily", 1))  # returns: a run never fails for its lineage
    assert observe.flush(timeout=120)
    sent = [r.getMessage() for r in caplog.records if "OpenLineage event not sent" in r.getMessage()]
    assert len(sent) == 2 and "start pagila_daily" in sent[0]


def test_a_missing_extra_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from datakit.config import load_project
    from datakit.lineage.openlineage import step_observer
    from tests.pagila_project import copy_pagila_project

    root = copy_pagila_project(tmp_path)
    with (root / "datakit.yaml").open("a") as config:
        config.write("openlineage:\n  transport: {type: console}\n")
    monkeypatch.setitem(sys.modules, "openlineage.client", None)
    with pytest.raises(DatakitError, match="openlineage-python is not installed") as error:
        step_observer(load_project(root))
    assert error.value.hint == "pip install 'datakit[openlineage]', or remove the `openlineage:` block"


def _short(name: str) -> str:
    """`warehouse.silver.payment` -> `silver.payment` (the catalog), a source's name as it is."""
    return name.split(".", 1)[1] if name.startswith("warehouse.") else name
