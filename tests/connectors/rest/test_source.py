"""`RestSource` end to end against the local API: records, incremental, dependent resources, schemas."""

from __future__ import annotations

import logging
from typing import Any

import pyarrow as pa
import pytest
from pydantic import SecretStr

from datakit.connectors import ConnectorError, ReadRequest, SchemaMismatch, Source, TableRef
from datakit.connectors.base import Incremental
from datakit.connectors.rest import RestError, RestSource
from datakit.connectors.rest.params import ApiKeyAuthParams, PageNumberPaginator, SinglePage
from tests.connectors.rest.conftest import FakeApi, Req, Resp, params, resource, rows
from tests.connectors.rest.helpers import ids, read_rows

EVENTS: list[dict[str, Any]] = [
    {"id": i, "updated_at": f"2024-01-{i:02d}T00:00:00Z", "v": i * 10} for i in range(1, 11)
]


def _events_api(api: FakeApi) -> None:
    """Events after `since` (inclusive, as many APIs do), three per page."""

    @api.route("/events")
    def _(req: Req) -> Resp:
        since = req.query.get("since")
        matching = [e for e in EVENTS if since is None or e["updated_at"] >= since]
        page = int(req.query.get("page", "1"))
        return Resp(body={"data": {"items": matching[(page - 1) * 3 : page * 3]}})


def _events_source(api: FakeApi) -> RestSource:
    res = resource(
        "events",
        "/events",
        data_path="data.items",
        paginator=PageNumberPaginator(),
        cursor_field="updated_at",
        cursor_param="since",
        primary_key=["id"],
    )
    return RestSource(params(api, res))


def test_is_a_source_and_lists_its_resources(api: FakeApi) -> None:
    source = RestSource(params(api, resource("a", "/a"), resource("b", "/b")))
    assert isinstance(source, Source)
    assert source.tables() == [TableRef("a"), TableRef("b")]
    assert source.estimate_rows(TableRef("a")) is None


def test_records_at_a_dotted_path(api: FakeApi) -> None:
    _events_api(api)
    assert ids(read_rows(_events_source(api), "events")) == list(range(1, 11))


def test_incremental_second_read_fetches_only_new_records(api: FakeApi) -> None:
    _events_api(api)
    source = _events_source(api)
    first = read_rows(source, "events", cursor="updated_at")
    assert ids(first) == list(range(1, 11))
    assert "since" not in api.requests[0].query  # first run: no lower bound
    cursor = source.last_cursor["events"]
    assert cursor == "2024-01-10T00:00:00Z"

    EVENTS.append({"id": 11, "updated_at": "2024-01-11T00:00:00Z", "v": 110})
    try:
        api.requests.clear()
        second = read_rows(source, "events", cursor="updated_at", lower=cursor)
    finally:
        EVENTS.pop()
    assert ids(second) == [11]  # the API's >= returned event 10 again; it is dropped client side
    assert api.requests[0].query["since"] == cursor
    assert source.last_cursor["events"] == "2024-01-11T00:00:00Z"


def test_incremental_initial_value_is_sent_on_the_first_run(api: FakeApi) -> None:
    _events_api(api)
    res = resource(
        "events",
        "/events",
        data_path="data.items",
        paginator=PageNumberPaginator(),
        cursor_field="updated_at",
        cursor_param="since",
        initial_value="2024-01-08T00:00:00Z",
    )
    assert ids(read_rows(RestSource(params(api, res)), "events")) == [9, 10]
    assert api.requests[0].query["since"] == "2024-01-08T00:00:00Z"


def test_incremental_on_a_numeric_cursor_filters_client_side(api: FakeApi) -> None:
    @api.route("/items")
    def _(req: Req) -> Resp:  # ignores every parameter
        return Resp(body=rows(6))

    res = resource(paginator=SinglePage(), cursor_field="id")
    source = RestSource(params(api, res))
    assert ids(read_rows(source, cursor="id", lower=3)) == [4, 5]
    assert source.last_cursor["items"] == 5


def test_dependent_resource_requests_once_per_parent(api: FakeApi) -> None:
    @api.route("/users")
    def _(req: Req) -> Resp:
        return Resp(body=[{"id": 1, "name": "ann"}, {"id": 2, "name": "bob"}, {"id": 3, "name": "cy"}])

    for user in (1, 2, 3):
        api.routes[f"/users/{user}/orders"] = lambda _req, u=user: Resp(  # type: ignore[misc]
            body={"orders": [{"order": u * 100 + k} for k in range(u)]}
        )
    users = resource("users", "/users", paginator=SinglePage())
    orders = resource("orders", "/users/{id}/orders", parent="users", paginator=SinglePage())
    got = read_rows(RestSource(params(api, users, orders)), "orders")
    assert got == [
        {"order": 100, "_dk_parent__id": 1},
        {"order": 200, "_dk_parent__id": 2},
        {"order": 201, "_dk_parent__id": 2},
        {"order": 300, "_dk_parent__id": 3},
        {"order": 301, "_dk_parent__id": 3},
        {"order": 302, "_dk_parent__id": 3},
    ]
    assert api.paths() == ["/users", "/users/1/orders", "/users/2/orders", "/users/3/orders"]


def test_unknown_parent_is_reported(api: FakeApi) -> None:
    with pytest.raises(ConnectorError, match="unknown resource 'user'") as info:
        RestSource(params(api, resource("users", "/users"), resource("o", "/u/{id}", parent="user")))
    assert info.value.hint == "did you mean 'users'?"


NESTED = [
    {
        "id": 1,
        "user": {"name": "ann", "address": {"city": "Oslo"}},
        "tags": ["a", "b"],
        "lines": [{"sku": "x", "qty": 2}],
    },
    {"id": 2, "user": None, "tags": [], "lines": [{"sku": "y", "qty": 1}, {"sku": "z", "qty": 5}]},
]


def test_nested_records_flatten_into_columns_and_child_tables(api: FakeApi) -> None:
    api.routes["/orders"] = lambda _req: Resp(body=NESTED)
    source = RestSource(
        params(api, resource("orders", "/orders", primary_key=["id"], paginator=SinglePage()))
    )
    request = ReadRequest(table=TableRef("orders"))
    tables: dict[str, list[dict[str, Any]]] = {}
    for name, batch in source.read_tables(request):
        tables.setdefault(name, []).extend(batch.to_pylist())
    assert tables["orders"] == [
        {"id": 1, "user__name": "ann", "user__address__city": "Oslo"},
        {"id": 2, "user__name": None, "user__address__city": None},
    ]
    assert tables["orders__tags"] == [
        {"_dk_parent__id": 1, "_dk_list_idx": 0, "value": "a"},
        {"_dk_parent__id": 1, "_dk_list_idx": 1, "value": "b"},
    ]
    assert tables["orders__lines"] == [
        {"_dk_parent__id": 1, "_dk_list_idx": 0, "sku": "x", "qty": 2},
        {"_dk_parent__id": 2, "_dk_list_idx": 0, "sku": "y", "qty": 1},
        {"_dk_parent__id": 2, "_dk_list_idx": 1, "sku": "z", "qty": 5},
    ]
    assert read_rows(source, "orders__lines")[2]["sku"] == "z"  # a child table read on its own


def test_malformed_json_is_a_clear_error(api: FakeApi) -> None:
    api.routes["/items"] = lambda _req: Resp(body=b'{"data": [{"id": 1}, {"id": 2,,]}')
    with pytest.raises(
        RestError, match=r"returned invalid JSON \(Expecting .* at line 1 column 31\)"
    ) as info:
        read_rows(RestSource(params(api, resource())))
    assert '{"data": [{"id": 1}' in str(info.value)  # the start of the body


def test_malformed_json_on_a_later_page_yields_nothing_of_that_page(api: FakeApi) -> None:
    def route(req: Req) -> Resp:
        page = int(req.query.get("page", "1"))
        return Resp(body=b"<html>oops" if page == 2 else {"data": rows(2, page * 2)})

    api.routes["/items"] = route
    batches = RestSource(params(api, resource(paginator=PageNumberPaginator()))).read(
        ReadRequest(table=TableRef("items"), batch_size=1000)
    )
    with pytest.raises(RestError, match="invalid JSON"):
        list(batches)


def test_batches_are_bounded_and_gathered_across_pages(api: FakeApi) -> None:
    def route(req: Req) -> Resp:
        page = int(req.query.get("page", "1"))
        return Resp(body={"data": rows(7, (page - 1) * 7) if page <= 5 else []})

    api.routes["/items"] = route
    source = RestSource(params(api, resource(paginator=PageNumberPaginator())))
    batches = list(source.read(ReadRequest(table=TableRef("items"), batch_size=10)))
    assert [b.num_rows for b in batches] == [10, 10, 10, 5]
    assert ids(pa.Table.from_batches(batches).to_pylist()) == list(range(35))


def test_a_given_schema_casts_and_drops_extra_fields(api: FakeApi) -> None:
    api.routes["/items"] = lambda _req: Resp(body=[{"id": 1, "name": "a", "extra": True}, {"id": 2}])
    schema = pa.schema([pa.field("id", pa.int32()), pa.field("name", pa.string())])
    source = RestSource(params(api, resource(paginator=SinglePage())))
    request = ReadRequest(table=TableRef("items"), schema=schema)
    assert source.arrow_schema(request) == schema
    batches = list(source.read(request))
    assert batches[0].schema == schema
    assert batches[0].to_pylist() == [{"id": 1, "name": "a"}, {"id": 2, "name": None}]


def test_inferred_schema_and_columns(api: FakeApi) -> None:
    api.routes["/items"] = lambda _req: Resp(body=[{"id": 1, "name": "a", "gone": None}])
    source = RestSource(params(api, resource(paginator=SinglePage())))
    columns = source.columns(TableRef("items"))
    assert [(c.name, c.arrow_type) for c in columns] == [
        ("id", pa.int64()),
        ("name", pa.string()),
        ("gone", pa.string()),
    ]
    picked = read_rows(source, columns=["name"])
    assert picked == [{"name": "a"}]
    assert source.count(ReadRequest(table=TableRef("items"))) == 1


def test_the_schema_covers_the_first_batch_and_a_later_field_fails_clearly(api: FakeApi) -> None:
    def route(req: Req) -> Resp:
        page = int(req.query.get("page", "1"))
        data = {1: [{"id": 1, "n": None}], 2: [{"id": 2, "n": 2.5, "late": "x"}], 3: [{"id": 3, "n": 3}]}
        return Resp(body={"data": data.get(page, [])})

    api.routes["/items"] = route
    source = RestSource(params(api, resource(paginator=PageNumberPaginator())))
    request = ReadRequest(table=TableRef("items"), batch_size=3)  # the sample: pages 1 to 3
    assert source.arrow_schema(request) == pa.schema(
        [pa.field("id", pa.int64()), pa.field("n", pa.float64()), pa.field("late", pa.string())]
    )
    assert read_rows(source, batch_size=3) == [
        {"id": 1, "n": None, "late": None},
        {"id": 2, "n": 2.5, "late": "x"},
        {"id": 3, "n": 3.0, "late": None},
    ]
    with pytest.raises(SchemaMismatch, match="late appeared after the schema was inferred"):
        read_rows(source, batch_size=1)  # the sample is page 1 alone


def test_unknown_resource_and_unsupported_requests(api: FakeApi) -> None:
    source = RestSource(params(api, resource("users", "/users")))
    with pytest.raises(ConnectorError, match="unknown REST resource 'user'") as info:
        list(source.read(ReadRequest(table=TableRef("user"))))
    assert info.value.hint == "did you mean 'users'?"
    with pytest.raises(ConnectorError, match="cannot order"):
        list(source.read(ReadRequest(table=TableRef("users"), order_by=["id"])))
    with pytest.raises(ConnectorError, match="not SQL queries"):
        list(source.read(ReadRequest(query="select 1")))


def test_secrets_never_reach_logs_or_errors(api: FakeApi, caplog: pytest.LogCaptureFixture) -> None:
    key = "Key-zz9-plural-Z-alpha"
    failed: list[int] = []

    def route(req: Req) -> Resp:
        page = int(req.query.get("page", "1"))
        if page == 2 and not failed:
            failed.append(page)
            return Resp(503, {"echo": req.query})  # retried, and logged with its URL
        if page == 3:
            return Resp(400, {"echo": req.query})  # fails, with a snippet that echoes the key
        return Resp(body={"data": rows(2, page * 2)})

    api.routes["/items"] = route
    caplog.set_level(logging.DEBUG)
    auth = ApiKeyAuthParams(name="token", location="query", key=SecretStr(key))
    res = resource(paginator=PageNumberPaginator())
    source = RestSource(params(api, res, auth=auth, retry={"max_attempts": 2, "backoff_factor": 0}))
    with pytest.raises(ConnectorError) as info:
        read_rows(source)
    assert api.requests[0].query["token"] == key  # it was sent
    assert "HTTP 503" in caplog.text  # the retry was logged...
    assert key not in caplog.text  # ...without the key (httpx logs every URL at INFO)
    assert key not in str(info.value) and key not in repr(source.params)
    assert "items?page=3&token=*** returned HTTP 400" in str(info.value)  # the URL as sent, masked
    assert '"token": "***"' in str(info.value)  # the echoed key in the snippet is masked


def test_incremental_compares_typed_cursors_when_the_schema_types_them(api: FakeApi) -> None:
    from datetime import UTC, datetime

    _events_api(api)
    schema = pa.schema(
        [
            pa.field("id", pa.int64()),
            pa.field("updated_at", pa.timestamp("us", tz="UTC")),
            pa.field("v", pa.int64()),
        ]
    )
    source = _events_source(api)
    lower = datetime(2024, 1, 8, tzinfo=UTC)
    got = read_rows(source, "events", cursor="updated_at", lower=lower, schema=schema)
    assert ids(got) == [9, 10]
    assert source.last_cursor["events"] == datetime(2024, 1, 10, tzinfo=UTC)
    assert api.requests[0].query["since"] == "2024-01-08T00:00:00Z"  # the API's style, not isoformat()


def test_incremental_drops_the_child_rows_of_old_records(api: FakeApi) -> None:
    api.routes["/orders"] = lambda _req: Resp(
        body=[{"id": 1, "lines": [{"sku": "old"}]}, {"id": 2, "lines": [{"sku": "new"}, {"sku": "new2"}]}]
    )
    res = resource("orders", "/orders", primary_key=["id"], paginator=SinglePage(), cursor_field="id")
    source = RestSource(params(api, res))
    request = ReadRequest(table=TableRef("orders"), incremental=Incremental("id", 1))
    tables: dict[str, list[dict[str, Any]]] = {}
    for name, batch in source.read_tables(request):
        tables.setdefault(name, []).extend(batch.to_pylist())
    assert ids(tables["orders"]) == [2]
    assert [r["sku"] for r in tables["orders__lines"]] == ["new", "new2"]
