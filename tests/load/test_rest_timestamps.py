"""ISO-8601 text from a REST API lands as timestamps, its cursor compares as a time, and goes back to the
API in the API's own style; on each destination."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from datakit.connectors import ReadRequest, TableRef
from datakit.connectors.rest.params import PageNumberPaginator, RestParams, RestResourceParams, RetryParams
from datakit.connectors.rest.source import RestSource
from datakit.contracts.model import Layer
from datakit.load.infer import ContractToInfer
from datakit.load.loader import load_resource
from datakit.load.plan import IncrementalPlan, ResourcePlan
from tests.http_api import FakeApi, Req, Resp, running_api
from tests.matrix import Target

PAGE = 5
START = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def api() -> Iterator[FakeApi]:
    with running_api() as server:
        yield server


class Stamps:
    """`/stamps?page=N&since=T`: records whose `updated_at` is ISO-8601 text, compared by the API as times."""

    def __init__(self, n: int) -> None:
        self.records = [self.record(i) for i in range(1, n + 1)]

    @staticmethod
    def record(i: int, updated_at: str | None = None) -> dict[str, Any]:
        when = START + timedelta(minutes=5 * i)
        return {
            "id": i,
            "updated_at": updated_at or when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "local": "2024-05-01T08:00:00",  # no offset: a naive timestamp
            "day": "2024-05-01",  # a date without a time stays text
        }

    def __call__(self, req: Req) -> Resp:
        page = int(req.query.get("page", "1"))
        since = req.query.get("since")
        chosen = [r for r in self.records if since is None or _time(r["updated_at"]) >= _time(since)]
        return Resp(200, {"data": chosen[(page - 1) * PAGE : page * PAGE]})


def _time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return datetime.max.replace(tzinfo=UTC)  # the API keeps records it cannot read


def stamps_plan(api: FakeApi, dest: Target, batch_size: int = 1000) -> ResourcePlan:
    """A REST resource without a datakit, incremental on `updated_at`, as `plans_for` makes it."""
    resource = RestResourceParams(
        name="stamps",
        endpoint="/stamps",
        data_path="data",
        paginator=PageNumberPaginator(),
        primary_key=["id"],
        cursor_field="updated_at",
        cursor_param="since",
    )
    retry = RetryParams(max_attempts=1)
    params = RestParams(base_url=api.url, timeout=5.0, retry=retry, resources=[resource])
    return ResourcePlan(
        pipeline="rest_stamps",
        resource="stamps",
        source=RestSource(params),
        request=ReadRequest(table=TableRef("stamps"), batch_size=batch_size),
        contract=ContractToInfer("stamps", ("id",), Layer.BRONZE, "api"),
        target=dest.table("stamps"),
        source_label="api.stamps",
        write_disposition="merge",
        incremental=IncrementalPlan("updated_at"),
    )


def column_types(dest: Target, table: str) -> dict[str, str]:
    rows = dest.query(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = $1 AND table_name = $2",
        [dest.schema, table],
    )
    return {str(name): str(kind).lower() for name, kind in rows}


def test_iso_text_lands_as_timestamps_and_the_cursor_goes_back_in_the_api_style(
    dest: Target, api: FakeApi
) -> None:
    stamps = Stamps(12)
    # 10:25Z written with an offset: as text it sorts after every other value, as a time it does not
    stamps.records[4]["updated_at"] = "2024-05-01T12:25:00+02:00"
    api.route("/stamps")(stamps)

    first = load_resource(stamps_plan(api, dest), dest.destination)
    stamps.records += [Stamps.record(13), Stamps.record(14)]
    api.requests.clear()
    second = load_resource(stamps_plan(api, dest), dest.destination)

    types = column_types(dest, "stamps")
    assert "with time zone" in types["updated_at"]
    assert "timestamp" in types["local"] and "with time zone" not in types["local"]
    assert types["day"] in ("text", "varchar", "character varying")
    assert first.cursor == datetime(2024, 5, 1, 11, 0, tzinfo=UTC)  # the latest time, not the largest text
    cursors = "SELECT cursor_type FROM _datakit.cursors WHERE target = $1"
    assert dest.query(cursors, [str(dest.table("stamps"))]) == [("datetime",)]
    # the saved cursor is sent as the API writes times, on every request of the run
    assert {r.query.get("since") for r in api.requests} == {"2024-05-01T11:00:00Z"}
    assert (second.rows_read, second.cursor) == (3, datetime(2024, 5, 1, 11, 10, tzinfo=UTC))
    assert dest.query(f"SELECT min(updated_at), count(*) FROM {dest.q('stamps')} WHERE id = 5") == [
        (datetime(2024, 5, 1, 10, 25, tzinfo=UTC), 1)
    ]
    assert dest.count("stamps") == 14


def test_a_value_that_is_no_timestamp_is_a_rejected_row_not_a_failed_load(dest: Target, api: FakeApi) -> None:
    stamps = Stamps(12)
    stamps.records[8]["updated_at"] = "not yet"  # page 2, after the sample the contract comes from
    api.route("/stamps")(stamps)

    result = load_resource(stamps_plan(api, dest, batch_size=PAGE), dest.destination)

    assert (result.status, result.rows_read, result.rows_loaded, result.rows_rejected) == (
        "succeeded",
        12,
        11,
        1,
    )
    assert dest.count("stamps") == 11
    rejected = dest.query(f'SELECT "id", "updated_at" FROM {dest.q("stamps__rejected")}')
    assert [(str(i), str(v)) for i, v in rejected] == [("9", "not yet")]
