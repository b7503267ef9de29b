"""ISO-8601 text: which sampled fields are timestamps, how they compare, how a bound is written back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pyarrow as pa
import pytest

from datakit.connectors import ReadRequest, TableRef
from datakit.connectors.base import Incremental
from datakit.connectors.rest import RestSource
from datakit.connectors.rest.params import PageNumberPaginator, SinglePage
from datakit.connectors.rest.timestamps import HINT, NAIVE, ZONED, Style, mark, parse
from tests.connectors.rest.conftest import FakeApi, Req, Resp, params, resource
from tests.connectors.rest.helpers import ids, read_rows

WHEN = datetime(2024, 5, 1, 10, 15, 30, tzinfo=UTC)


def test_parse_reads_every_iso_form_as_utc_and_nothing_else() -> None:
    text = pa.array(
        [
            "2024-05-01T10:15:30Z",
            "2024-05-01 12:15:30+02:00",
            "2024-05-01T12:15:30+0200",
            "2024-05-01T10:15:30.123456789Z",  # nanoseconds: truncated
            "2024-05-01T10:15:30",  # no offset: UTC
            "2024-05-01",  # no time: not a timestamp
            "2024-13-01T10:15:30Z",  # impossible
            "soon",
            None,
        ]
    )
    got = parse(text).to_pylist()
    assert got[:3] == [WHEN] * 3
    assert got[3] == WHEN.replace(microsecond=123456)
    assert got[4] == WHEN
    assert got[5:] == [None, None, None, None]


def test_mark_hints_text_fields_whose_every_value_is_a_timestamp() -> None:
    sample = pa.RecordBatch.from_pydict(
        {
            "zoned": ["2024-05-01T10:00:00Z", None, "2024-05-01T11:00:00+02:00"],
            "naive": ["2024-05-01T10:00:00", "2024-05-01 11:00", None],
            "day": ["2024-05-01", "2024-05-02", None],
            "mixed": ["2024-05-01T10:00:00Z", "later", None],
            "empty": pa.array([None, None, None], pa.string()),
            "n": [1, 2, 3],
        }
    )
    hints = {f.name: (f.metadata or {}).get(HINT) for f in mark(sample.schema, sample)}
    assert hints == {"zoned": ZONED, "naive": NAIVE, "day": None, "mixed": None, "empty": None, "n": None}


@pytest.mark.parametrize(
    ("initial", "value", "sent"),
    [
        (None, WHEN, "2024-05-01T10:15:30Z"),
        (None, WHEN.replace(microsecond=500000), "2024-05-01T10:15:30.5Z"),
        (None, WHEN.replace(tzinfo=None), "2024-05-01T10:15:30"),  # a naive cursor stays naive
        ("2024-01-01 00:00:00+00:00", WHEN, "2024-05-01 10:15:30+00:00"),
        ("2024-01-01T00:00:00.000Z", WHEN, "2024-05-01T10:15:30.000Z"),
        ("2024-01-01T00:00:00+0200", WHEN, "2024-05-01T12:15:30+0200"),
        ("2024-01-01T00:00", WHEN.replace(second=0), "2024-05-01T10:15"),
        ("2024-01-01T00:00:00", WHEN, "2024-05-01T10:15:30"),
        ("not a time", WHEN, "2024-05-01T10:15:30Z"),
    ],
)
def test_a_bound_is_written_in_the_style_of_the_initial_value(
    initial: str | None, value: datetime, sent: str
) -> None:
    assert Style.of(initial).format(value) == sent


def test_style_keeps_another_offset() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert (
        Style.of("2024-01-01T00:00:00-05:00").format(WHEN.astimezone(plus_two)) == "2024-05-01T05:15:30-05:00"
    )


def test_text_cursors_compare_as_times(api: FakeApi) -> None:
    records = [
        {"id": 1, "at": "2024-05-01T10:00:00Z"},
        {"id": 2, "at": "2024-05-01T12:30:00+02:00"},  # 10:30Z, the largest text
        {"id": 3, "at": "2024-05-01T10:45:00.5Z"},
        {"id": 4, "at": "garbled"},  # kept: the contract's validator rejects it, with its reason
    ]
    api.routes["/items"] = lambda _req: Resp(body=records)
    source = RestSource(params(api, resource(paginator=SinglePage(), cursor_field="at")))

    got = read_rows(source, cursor="at", lower=datetime(2024, 5, 1, 10, 15, tzinfo=UTC))

    assert ids(got) == [2, 3, 4]
    assert source.last_cursor["items"] == "2024-05-01T10:45:00.5Z"  # the latest, as the API wrote it


def test_the_schema_read_ahead_is_not_requested_again(api: FakeApi) -> None:
    def route(req: Req) -> Resp:
        page = int(req.query.get("page", "1"))
        return Resp(body={"data": [{"id": page, "at": f"2024-05-01T10:{page}0:00Z"}] if page <= 3 else []})

    api.routes["/items"] = route
    source = RestSource(
        params(api, resource(paginator=PageNumberPaginator(), cursor_field="at", cursor_param="since"))
    )
    request = ReadRequest(table=TableRef("items"), incremental=Incremental("at", WHEN, inclusive=True))

    schema = source.arrow_schema(request)
    assert source.arrow_schema(request) == schema  # asked twice: still the one page read ahead
    rows = [row for batch in source.read(request) for row in batch.to_pylist()]
    again = [row for batch in source.read(request) for row in batch.to_pylist()]  # a new read asks again

    assert schema.field("at").metadata == {HINT: ZONED}
    assert [row["id"] for row in rows] == [row["id"] for row in again] == [2, 3]  # 10:10 < WHEN
    pages = [(r.query["page"], r.query["since"]) for r in api.requests]
    assert pages == [(str(n), "2024-05-01T10:15:30Z") for n in (1, 2, 3, 4)] * 2


@pytest.mark.parametrize(
    ("lower", "expected"), [("2024-05-01T10:15:00+00:00", [2, 3]), ("2024-05-01", [1, 2, 3])]
)
def test_a_typed_cursor_takes_iso_text_or_a_date_as_its_bound(
    api: FakeApi, lower: str, expected: list[int]
) -> None:
    records = [{"id": i, "at": f"2024-05-01T10:{i}0:00Z"} for i in (1, 2, 3)]
    api.routes["/items"] = lambda _req: Resp(body=records)
    source = RestSource(params(api, resource(paginator=SinglePage(), cursor_field="at")))
    schema = pa.schema([pa.field("id", pa.int64()), pa.field("at", pa.timestamp("us", tz="UTC"))])
    assert ids(read_rows(source, cursor="at", lower=lower, schema=schema)) == expected
