"""Nested JSON from a REST API, per resource: objects as columns or JSON, lists as child tables (to any
depth, named as dlt names them) or JSON; end to end into each destination."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from datakit.connectors import ReadRequest, TableRef
from datakit.connectors.rest.params import RestParams, RestResourceParams, RetryParams, SinglePage
from datakit.connectors.rest.source import RestSource
from datakit.contracts.model import Layer
from datakit.load.infer import ContractToInfer
from datakit.load.loader import load_resource
from datakit.load.plan import ResourcePlan
from tests.http_api import FakeApi, Resp, running_api
from tests.matrix import Target


@pytest.fixture
def api() -> Iterator[FakeApi]:
    with running_api() as server:
        yield server


def orders() -> list[dict[str, Any]]:
    return [
        {
            "id": 1,
            "customer": {"name": "ann", "address": {"city": "Oslo", "phones": ["1", "2"]}},
            "lines": [
                {"sku": "a", "qty": 2, "taxes": [{"code": "vat", "rate": 25}]},
                {"sku": "b", "qty": 1, "taxes": [{"code": "vat", "rate": 25}, {"code": "eco", "rate": 1}]},
            ],
            "grid": [[1, 2], [3]],
        },
        {"id": 2, "customer": None, "lines": [{"sku": "c", "qty": 5, "taxes": []}], "grid": []},
    ]


def plan(api: FakeApi, dest: Target, *, child_tables: bool, flatten: bool) -> ResourcePlan:
    resource = RestResourceParams(
        name="orders",
        endpoint="/orders",
        paginator=SinglePage(),
        primary_key=["id"],
        child_tables=child_tables,
        flatten=flatten,
    )
    params = RestParams(
        base_url=api.url, timeout=5.0, retry=RetryParams(max_attempts=1), resources=[resource]
    )
    return ResourcePlan(
        pipeline="rest_nesting",
        resource="orders",
        source=RestSource(params),
        request=ReadRequest(table=TableRef("orders"), batch_size=1000),
        contract=ContractToInfer("orders", ("id",), Layer.BRONZE, "api"),
        target=dest.table("orders"),
        source_label="api.orders",
        write_disposition="merge",
    )


def columns(dest: Target, table: str) -> list[str]:
    """The data columns of `table` (audit columns aside), in order."""
    rows = dest.query(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 "
        "ORDER BY ordinal_position",
        [dest.schema, table],
    )
    return [str(name) for (name,) in rows if not str(name).startswith("_dk_")]


def test_lists_become_child_tables_to_any_depth(dest: Target, api: FakeApi) -> None:
    data = orders()
    api.routes["/orders"] = lambda _req: Resp(body=data)

    first = load_resource(plan(api, dest, child_tables=True, flatten=True), dest.destination)
    data[0]["lines"].pop()  # line b and its two taxes go; merge replaces a parent's lists whole
    second = load_resource(plan(api, dest, child_tables=True, flatten=True), dest.destination)

    children = {name.split(".")[-1]: rows for name, rows in first.child_rows}
    assert children == {
        "orders__customer__address__phones": 2,
        "orders__grid": 2,
        "orders__grid__list": 3,
        "orders__lines": 3,
        "orders__lines__taxes": 3,
    }
    assert columns(dest, "orders") == ["id", "customer__name", "customer__address__city"]
    lines, taxes, grid = dest.q("orders__lines"), dest.q("orders__lines__taxes"), dest.q("orders__grid__list")
    assert dest.query(
        f"SELECT l.sku, t.code, t.rate FROM {lines} l JOIN {taxes} t "
        'ON t."_dk_parent__id" = l."_dk_parent__id" AND t."_dk_list_idx__lines" = l."_dk_list_idx" '
        "ORDER BY 1, 2"
    ) == [("a", "vat", 25)]
    grid_rows = f'SELECT "_dk_list_idx__grid", "_dk_list_idx", "value" FROM {grid} ORDER BY 1, 2'
    assert dest.query(grid_rows) == [(0, 0, 1), (0, 1, 2), (1, 0, 3)]
    assert dict(second.child_rows)[str(dest.table("orders__lines__taxes"))] == 1
    assert dest.count("orders__lines") == 2
    assert dest.count("orders__lines__taxes") == 1


def test_objects_and_lists_can_stay_json(dest: Target, api: FakeApi) -> None:
    api.routes["/orders"] = lambda _req: Resp(body=orders())

    result = load_resource(plan(api, dest, child_tables=False, flatten=False), dest.destination)

    assert result.child_rows == ()
    assert columns(dest, "orders") == ["id", "customer", "lines", "grid"]
    (customer, lines, grid) = dest.query(
        f"SELECT customer, lines, grid FROM {dest.q('orders')} WHERE id = 1"
    )[0]
    assert json.loads(customer) == orders()[0]["customer"]
    assert json.loads(lines) == orders()[0]["lines"]
    assert json.loads(grid) == [[1, 2], [3]]
    assert dest.query(f"SELECT customer FROM {dest.q('orders')} WHERE id = 2") == [(None,)]


def test_each_resource_of_the_config_chooses() -> None:
    from datakit.config.models.sources import RestApiSource
    from datakit.config.secrets import Secrets
    from datakit.connectors.from_config_rest import rest_params

    source = RestApiSource.model_validate(
        {
            "name": "shop",
            "type": "rest_api",
            "connection": {"base_url": "https://api.example.com"},
            "resources": [
                {"name": "orders", "endpoint": "/orders", "primary_key": ["id"], "child_tables": True},
                {"name": "events", "endpoint": "/events", "flatten": False},
            ],
        }
    )
    orders, events = rest_params(source, Secrets({}, "dev")).resources
    assert (orders.child_tables, orders.flatten) == (True, True)
    assert (events.child_tables, events.flatten) == (False, False)
