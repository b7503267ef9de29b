"""REST API sources end to end, from the local HTTP API of `tests.http_api` into each destination."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from datakit.connectors import ReadRequest, TableRef
from datakit.connectors.rest.params import (
    ApiKeyAuthParams,
    AuthParams,
    PageNumberPaginator,
    RestParams,
    RestResourceParams,
    RetryParams,
)
from datakit.connectors.rest.source import RestSource
from datakit.contracts.model import Layer
from datakit.errors import DatakitError
from datakit.load.infer import ContractToInfer
from datakit.load.loader import load_resource
from datakit.load.plan import IncrementalPlan, ResourcePlan
from tests.http_api import FakeApi, Req, Resp, running_api
from tests.matrix import Target

PAGE = 10
SECRET = "k3y-6f1d0c9a-never-shown"


@pytest.fixture
def api() -> Iterator[FakeApi]:
    with running_api() as server:
        yield server


class Events:
    """`/events?page=N&since=C`: records with a growing `updated`, a nested object and a list."""

    def __init__(self, n: int) -> None:
        self.records = [self.record(i) for i in range(1, n + 1)]
        self.broken_page: int | None = None
        self.inclusive = True  # `since` compares with >= (False: >, as some APIs do)

    @staticmethod
    def record(i: int) -> dict[str, Any]:
        return {"id": i, "updated": i * 10, "user": {"name": f"u{i}"}, "tags": ["a", str(i)]}

    def add(self, n: int) -> None:
        start = len(self.records) + 1
        self.records += [self.record(i) for i in range(start, start + n)]

    def __call__(self, req: Req) -> Resp:
        page = int(req.query.get("page", "1"))
        if page == self.broken_page:
            return Resp(200, b'{"data": [{"id": 1, "updated": ')
        since = int(req.query.get("since", "0"))
        chosen = [r for r in self.records if r["updated"] > since - (1 if self.inclusive else 0)]
        return Resp(200, {"data": chosen[(page - 1) * PAGE : page * PAGE]})


def rest_plan(
    api: FakeApi,
    dest: Target,
    *,
    disposition: str = "append",
    incremental: bool = False,
    auth: AuthParams | None = None,
) -> ResourcePlan:
    """A plan as `plans_for` makes it for a REST resource without a datakit (contract inferred)."""
    resource = RestResourceParams(
        name="events",
        endpoint="/events",
        data_path="data",
        paginator=PageNumberPaginator(),
        primary_key=["id"],
        child_tables=False,
        cursor_field="updated" if incremental else None,
        cursor_param="since" if incremental else None,
    )
    params = RestParams(
        base_url=api.url,
        auth=auth,
        timeout=2.0,
        retry=RetryParams(max_attempts=2, backoff_factor=0.0, max_delay=0.0, max_retry_after=0.05),
        resources=[resource],
    )
    source = RestSource(params)
    request = ReadRequest(table=TableRef("events"), batch_size=1000)
    return ResourcePlan(
        pipeline="rest_test",
        resource="events",
        source=source,
        request=request,
        contract=ContractToInfer("events", ("id",), Layer.BRONZE, "api"),
        target=dest.table("events"),
        source_label="api.events",
        write_disposition=disposition,  # type: ignore[arg-type]
        incremental=IncrementalPlan("updated") if incremental else None,
    )


def test_pages_load_with_flattened_columns(dest: Target, api: FakeApi) -> None:
    api.route("/events")(Events(25))

    result = load_resource(rest_plan(api, dest), dest.destination)

    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (25, 25, 0)
    assert dest.count("events") == 25
    (row,) = dest.query(f'SELECT id, "updated", user__name, tags FROM {dest.q("events")} WHERE id = 7')
    assert row[:3] == (7, 70, "u7")
    assert json.loads(row[3]) == ["a", "7"]  # lists land as JSON text (child tables are not loaded)


def test_second_incremental_run_fetches_only_new_records(dest: Target, api: FakeApi) -> None:
    events = Events(25)
    api.route("/events")(events)
    first = load_resource(rest_plan(api, dest, incremental=True), dest.destination)
    events.add(5)
    plan = rest_plan(api, dest, incremental=True)  # the contract is inferred from the load's first page
    api.requests.clear()

    second = load_resource(plan, dest.destination)
    asked = {r.query.get("since") for r in api.requests}
    nothing_new = load_resource(plan, dest.destination)
    events.inclusive = False
    empty = load_resource(plan, dest.destination)  # no page to infer from: the table's contract stands in

    assert (first.rows_loaded, first.cursor) == (25, 250)
    # the boundary record is re-read (the lower bound is inclusive) and not duplicated
    assert (second.rows_read, second.cursor) == (6, 300)
    assert asked == {"250"}
    assert (nothing_new.rows_read, nothing_new.cursor) == (1, 300)
    assert (empty.rows_read, empty.status, empty.cursor) == (0, "succeeded", 300)
    assert dest.count("events") == 30
    assert dest.query(f"SELECT count(DISTINCT id), max(id) FROM {dest.q('events')}") == [(30, 30)]


def test_malformed_json_mid_way_leaves_the_target_unchanged(dest: Target, api: FakeApi) -> None:
    events = Events(25)
    api.route("/events")(events)
    load_resource(rest_plan(api, dest, disposition="replace"), dest.destination)
    events.add(5)
    events.broken_page = 2
    plan = rest_plan(api, dest, disposition="replace")  # page 1 still infers the contract

    with pytest.raises(DatakitError) as raised:
        load_resource(plan, dest.destination)

    assert "JSON" in str(raised.value)
    assert dest.count("events") == 25
    assert dest.query(
        "SELECT status FROM _datakit.loads WHERE target = $1 ORDER BY started_at",
        [str(dest.table("events"))],
    ) == [("succeeded",), ("failed",)]


def test_secrets_never_in_errors_logs_or_load_records(
    dest: Target, api: FakeApi, caplog: pytest.LogCaptureFixture
) -> None:
    events = Events(3)

    def guarded(req: Req) -> Resp:
        if req.query.get("api_key") != SECRET:
            return Resp(401, {"error": "unauthorized"})
        if req.query.get("page", "1") == "2":
            return Resp(400, {"error": f"bad request for key {SECRET}"})
        return events(req)

    api.route("/events")(guarded)
    auth = ApiKeyAuthParams(name="api_key", location="query", key=SECRET)  # type: ignore[arg-type]
    caplog.set_level(logging.DEBUG)
    plan = rest_plan(api, dest, auth=auth)

    with pytest.raises(DatakitError) as raised:
        load_resource(plan, dest.destination)

    message = f"{raised.value} {raised.value.hint or ''}"
    assert "400" in message
    assert SECRET not in message
    assert SECRET not in caplog.text
    errors = dest.query("SELECT error FROM _datakit.loads WHERE target = $1", [str(dest.table("events"))])
    assert len(errors) == 1
    assert SECRET not in str(errors[0][0])


def test_a_project_rest_source_loads_with_its_secret(
    api: FakeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Config -> plans: the secret comes from the mapping, the contract is inferred, rows land."""
    from datakit.config import load_project
    from datakit.config.scaffold import init_project
    from datakit.load.resolve import plans_for

    events = Events(12)

    def guarded(req: Req) -> Resp:
        if req.headers.get("authorization") != f"Bearer {SECRET}":
            return Resp(401, {"error": "unauthorized"})
        return events(req)

    api.route("/events")(guarded)
    root = tmp_path / "wh"
    init_project(root)
    mapping = root / "config" / "secrets_mapping.yaml"
    mapping.write_text(mapping.read_text() + "  api_token:\n    env_var: DK_TEST_API_TOKEN\n")
    (root / "config" / "sources" / "events_api.yaml").write_text(
        "source:\n  name: events_api\n  type: rest_api\n  connection:\n"
        f"    base_url: {api.url}\n"
        "    auth: {type: bearer, credentials_secret_key: api_token}\n"
        "    retry: {max_attempts: 1}\n"
        "  resources:\n"
        "    - name: events\n      endpoint: /events\n      data_path: data\n"
        "      paginator: {type: page_number}\n      primary_key: [id]\n"
        "      incremental: {cursor_field: updated, param: since}\n"
    )
    (root / "config" / "pipelines" / "events_bronze.yaml").write_text(
        "pipeline:\n  name: events_bronze\n  source: {name: events_api}\n"
        "  destination: {name: warehouse, layer: bronze}\n"
    )
    monkeypatch.setenv("DK_TEST_API_TOKEN", SECRET)

    destination, (plan,) = plans_for(load_project(root), "events_bronze")
    result = load_resource(plan, destination)

    assert str(plan.target) == "br__events_api__main.events"
    assert SECRET not in repr(plan.source)
    assert (result.rows_loaded, result.cursor) == (12, 120)
    with duckdb.connect(str(root / "warehouse.duckdb")) as conn:
        assert conn.execute(f"SELECT count(*) FROM {plan.target}").fetchone() == (12,)

    # reflect writes the inferred contract as a datakit; the pipeline then names it
    from datakit.load.reflect import reflect_source

    reflected = reflect_source(load_project(root), "events_api", root / "datakits" / "events_api", sample=5)
    module = (reflected.package / "main.py").read_text()
    assert reflected.tables == ["events"]
    assert "class Events(" in module
    assert "id: int = Field(primary_key=True" in module
    events.add(3)
    with pytest.raises(DatakitError, match="names no datakit, but datakit 'events_api' is named like"):
        plans_for(load_project(root), "events_bronze")  # a new datakit changes nothing by itself
    pipeline = root / "config" / "pipelines" / "events_bronze.yaml"
    pipeline.write_text(pipeline.read_text() + "  datakit: events_api\n")
    destination, (kit_plan,) = plans_for(load_project(root), "events_bronze")
    assert kit_plan.contract.system == "events_api"
    again = load_resource(kit_plan, destination)
    assert (again.rows_read, again.cursor) == (4, 150)  # the boundary record and the three new ones


def child_plan(api: FakeApi, dest: Target, disposition: str) -> ResourcePlan:
    plan = rest_plan(api, dest, disposition=disposition)
    assert isinstance(plan.source, RestSource)
    params = plan.source.params
    resource = params.resources[0].model_copy(update={"child_tables": True})
    source = RestSource(params.model_copy(update={"resources": [resource]}))
    return ResourcePlan(**{**plan.__dict__, "source": source})


@pytest.mark.parametrize("disposition", ["merge", "replace"])
def test_lists_load_as_child_tables_in_the_same_transaction(
    dest: Target, api: FakeApi, disposition: str
) -> None:
    events = Events(12)
    api.route("/events")(events)
    first = load_resource(child_plan(api, dest, disposition), dest.destination)
    events.records[0]["tags"] = ["only"]  # a parent's list shrinks: its children are replaced whole
    again = load_resource(child_plan(api, dest, disposition), dest.destination)

    child = str(dest.table("events__tags"))
    assert dict(first.child_rows) == {child: 24}
    assert dict(again.child_rows) == {child: 23}
    assert dest.count("events") == 12
    parent_columns = dest.query(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2",
        [dest.schema, "events"],
    )
    assert ("tags",) not in parent_columns
    rows = dest.query(
        f'SELECT "_dk_parent__id", "_dk_list_idx", "value" FROM {dest.q("events__tags")} '
        'WHERE "_dk_parent__id" IN (1, 2) ORDER BY 1, 2'
    )
    assert rows == [(1, 0, "only"), (2, 0, "a"), (2, 1, "2")]
    assert dest.count("events__tags") == 23


def test_child_rows_of_a_re_read_window_are_not_duplicated(dest: Target, api: FakeApi) -> None:
    events = Events(12)
    api.route("/events")(events)

    def plan() -> ResourcePlan:
        base = child_plan(api, dest, "append")
        assert isinstance(base.source, RestSource)
        params = base.source.params
        resource = params.resources[0].model_copy(update={"cursor_field": "updated", "cursor_param": "since"})
        source = RestSource(params.model_copy(update={"resources": [resource]}))
        return ResourcePlan(**{**base.__dict__, "source": source, "incremental": IncrementalPlan("updated")})

    load_resource(plan(), dest.destination)
    events.add(2)
    second = load_resource(plan(), dest.destination)

    assert second.rows_read == 3  # the boundary event 12 again, and 13, 14
    assert dest.count("events") == 14
    assert dest.count("events__tags") == 28
    assert dest.query(f'SELECT count(*) FROM {dest.q("events__tags")} WHERE "_dk_parent__id" = 12') == [(2,)]
