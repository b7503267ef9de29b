"""Every pagination style, configured and detected, and the guards against pages that never end."""

from __future__ import annotations

from typing import Any

import pytest

from datakit.connectors.rest import RestError, RestSource
from datakit.connectors.rest.params import (
    CursorPaginator,
    LinkHeaderPaginator,
    NextUrlPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    SinglePage,
)
from tests.connectors.rest.conftest import FakeApi, Req, Resp, params, resource, rows
from tests.connectors.rest.helpers import ids, read_rows

TOTAL = 23


def _page_number(api: FakeApi, *, with_total: bool) -> None:
    @api.route("/items")
    def _(req: Req) -> Resp:
        page, size = int(req.query.get("page", "1")), int(req.query.get("per_page", 10))
        start = (page - 1) * size
        body: dict[str, Any] = {"data": rows(max(0, min(size, TOTAL - start)), start)}
        if with_total:
            body["total_pages"] = -(-TOTAL // size)
        return Resp(body=body)


def test_page_number_stops_on_an_empty_page(api: FakeApi) -> None:
    _page_number(api, with_total=False)
    source = RestSource(params(api, resource(paginator=PageNumberPaginator())))
    assert ids(read_rows(source)) == list(range(TOTAL))
    assert [r.query["page"] for r in api.requests] == ["1", "2", "3", "4"]  # page 4 is empty


def test_page_number_with_a_size_stops_on_a_short_page(api: FakeApi) -> None:
    _page_number(api, with_total=False)
    paginator = PageNumberPaginator(size_param="per_page", size=10)
    source = RestSource(params(api, resource(paginator=paginator)))
    assert ids(read_rows(source)) == list(range(TOTAL))
    assert len(api.requests) == 3


def test_page_number_with_a_total_in_the_body_is_detected(api: FakeApi) -> None:
    _page_number(api, with_total=True)
    source = RestSource(params(api, resource()))  # auto: `total_pages` in the body
    assert ids(read_rows(source)) == list(range(TOTAL))
    assert [r.query.get("page") for r in api.requests] == [None, "2", "3"]


def test_offset_limit(api: FakeApi) -> None:
    @api.route("/items")
    def _(req: Req) -> Resp:
        offset, limit = int(req.query["offset"]), int(req.query["limit"])
        return Resp(body={"results": rows(max(0, min(limit, TOTAL - offset)), offset), "count": TOTAL})

    source = RestSource(params(api, resource(paginator=OffsetPaginator(limit=5, total_path="count"))))
    assert ids(read_rows(source)) == list(range(TOTAL))
    assert [r.query["offset"] for r in api.requests] == ["0", "5", "10", "15", "20"]


def _cursor_api(api: FakeApi, key: str = "next_cursor") -> None:
    @api.route("/items")
    def _(req: Req) -> Resp:
        start = int(req.query.get("cursor", "0"))
        nxt = start + 10 if start + 10 < TOTAL else None
        return Resp(body={"items": rows(min(10, TOTAL - start), start), key: str(nxt) if nxt else None})


def test_cursor_in_the_body(api: FakeApi) -> None:
    _cursor_api(api, "after")
    paginator = CursorPaginator(cursor_path="after", cursor_param="cursor")
    source = RestSource(params(api, resource(paginator=paginator)))
    assert ids(read_rows(source)) == list(range(TOTAL))
    assert [r.query.get("cursor") for r in api.requests] == [None, "10", "20"]


def test_cursor_is_detected(api: FakeApi) -> None:
    _cursor_api(api)
    assert ids(read_rows(RestSource(params(api, resource())))) == list(range(TOTAL))


def _next_url_api(api: FakeApi, absolute: bool) -> None:
    @api.route("/items")
    def _(req: Req) -> Resp:
        start = int(req.query.get("from", "0"))
        nxt = f"/items?from={start + 10}" if start + 10 < TOTAL else None
        if nxt and absolute:
            nxt = api.url + nxt
        return Resp(body={"data": rows(min(10, TOTAL - start), start), "links": {"next": nxt}})


@pytest.mark.parametrize("absolute", [True, False])
def test_next_url_in_the_body(api: FakeApi, absolute: bool) -> None:
    _next_url_api(api, absolute)
    paginator = NextUrlPaginator(next_url_path="links.next")
    assert ids(read_rows(RestSource(params(api, resource(paginator=paginator))))) == list(range(TOTAL))
    assert ids(read_rows(RestSource(params(api, resource())))) == list(range(TOTAL))  # detected


def _link_api(api: FakeApi) -> None:
    @api.route("/items")
    def _(req: Req) -> Resp:
        page = int(req.query.get("page", "1"))
        headers = {}
        if page < 3:
            headers["Link"] = (
                f'<{api.url}/items?page={page + 1}>; rel="next", <{api.url}/items?page=3>; rel="last"'
            )
        return Resp(body=rows(10, (page - 1) * 10), headers=headers)


def test_link_header(api: FakeApi) -> None:
    _link_api(api)
    source = RestSource(params(api, resource(paginator=LinkHeaderPaginator())))
    assert ids(read_rows(source)) == list(range(30))
    assert ids(read_rows(RestSource(params(api, resource())))) == list(range(30))  # detected


def test_single_page_makes_one_request(api: FakeApi) -> None:
    _link_api(api)
    source = RestSource(params(api, resource(paginator=SinglePage())))
    assert ids(read_rows(source)) == list(range(10))
    assert len(api.requests) == 1


def test_a_never_ending_pager_stops_at_max_pages(api: FakeApi) -> None:
    @api.route("/items")
    def _(req: Req) -> Resp:
        n = int(req.query.get("cursor", "0"))
        return Resp(body={"items": rows(1, n), "next_cursor": str(n + 1)})

    source = RestSource(params(api, resource(max_pages=7)))
    with pytest.raises(RestError, match="stopped after max_pages=7") as info:
        read_rows(source)
    assert len(api.requests) == 7
    assert "max_pages" in (info.value.hint or "")


def test_an_api_ignoring_the_page_parameter_is_stopped(api: FakeApi) -> None:
    @api.route("/items")
    def _(req: Req) -> Resp:
        return Resp(body=rows(5))

    source = RestSource(params(api, resource(paginator=PageNumberPaginator())))
    with pytest.raises(RestError, match="page 2 repeats page 1"):
        read_rows(source)


def test_a_next_link_pointing_back_is_stopped(api: FakeApi) -> None:
    @api.route("/items")
    def _(req: Req) -> Resp:
        page = int(req.query.get("page", "1"))
        return Resp(body={"data": rows(2, page * 2), "next": f"/items?page={1 if page == 2 else 2}"})

    with pytest.raises(RestError, match="page 4 would request the same URL as page 2"):
        read_rows(RestSource(params(api, resource())))


def test_a_next_link_to_another_host_is_refused(api: FakeApi) -> None:
    @api.route("/items")
    def _(req: Req) -> Resp:
        return Resp(body={"data": rows(2), "next": "http://elsewhere.invalid/items?page=2"})

    with pytest.raises(RestError, match="another host"):
        read_rows(RestSource(params(api, resource())))
