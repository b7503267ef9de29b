"""Pagination: turn one endpoint into the sequence of its pages, whatever style the API pages in.

Each style is a small `Pager` that, given the response to the current page, says what to request next or
that the pages are over. `AutoPaginator` picks a style from the first response (`detect`): a `Link`
header with rel="next" wins, then a next-page URL in the body (`next`, `next_url`, `links.next`,
`_links.next.href`, `paging.next`), then a cursor (`next_cursor`, `cursor.next`, `meta.next_cursor`,
`next_page_token`, `nextPageToken`), then page numbers when the body reports `total_pages`; otherwise the
endpoint is one page. Styles that have no reliable marker (offset, page numbers without a total) must be
configured.

Two guards stop pages that never end, each with an error that says which page and why: a request
identical to an earlier one (a next link or cursor pointing back) or a page whose body repeats the
previous one byte for byte (an API that ignores the page parameter), and `max_pages`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urljoin, urlsplit

import httpx

from datakit.connectors.rest.client import RestClient
from datakit.connectors.rest.errors import RestError
from datakit.connectors.rest.jsonpage import PageParser
from datakit.connectors.rest.params import (
    AutoPaginator,
    CursorPaginator,
    LinkHeaderPaginator,
    NextUrlPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    PaginatorParams,
    SinglePage,
)
from datakit.connectors.rest.records import NoDataPath, dig

if TYPE_CHECKING:
    import pyarrow as pa

_SNIPPET = 200


@dataclass(frozen=True, slots=True)
class PageRequest:
    """What to ask for: a URL (relative to base_url, or absolute) and its query parameters."""

    url: str
    params: dict[str, Any] = field(default_factory=dict)

    def key(self) -> str:
        return self.url + "?" + json.dumps(self.params, sort_keys=True, default=str)


@dataclass(frozen=True, slots=True)
class Page:
    """One fetched page: the response, its JSON body (minus the records) and the records found in it."""

    number: int
    response: httpx.Response
    body: Any
    records: list[Any] | pa.StructArray

    @property
    def empty(self) -> bool:
        return len(self.records) == 0


class Pager(Protocol):
    def next(self, page: Page, current: PageRequest) -> PageRequest | None:
        """The request of the page after `page`, or None when `page` was the last."""
        ...


class _Single:
    def next(self, page: Page, current: PageRequest) -> PageRequest | None:  # noqa: ARG002
        return None


class _PageNumber:
    def __init__(self, p: PageNumberPaginator) -> None:
        self.p = p

    def first(self, request: PageRequest) -> PageRequest:
        params = {**request.params, self.p.page_param: self.p.start}
        if self.p.size_param and self.p.size:
            params[self.p.size_param] = self.p.size
        return PageRequest(request.url, params)

    def next(self, page: Page, current: PageRequest) -> PageRequest | None:
        number = int(current.params.get(self.p.page_param, self.p.start))
        if page.empty or (self.p.size and len(page.records) < self.p.size):
            return None
        if self.p.total_path is not None:
            total = dig(page.body, self.p.total_path)
            if total is not None and number - self.p.start + 1 >= int(total):
                return None
        return PageRequest(current.url, {**current.params, self.p.page_param: number + 1})


class _Offset:
    def __init__(self, p: OffsetPaginator) -> None:
        self.p = p

    def first(self, request: PageRequest) -> PageRequest:
        return PageRequest(
            request.url, {**request.params, self.p.offset_param: 0, self.p.limit_param: self.p.limit}
        )

    def next(self, page: Page, current: PageRequest) -> PageRequest | None:
        offset = int(current.params.get(self.p.offset_param, 0)) + len(page.records)
        if len(page.records) < self.p.limit:
            return None
        if self.p.total_path is not None:
            total = dig(page.body, self.p.total_path)
            if total is not None and offset >= int(total):
                return None
        return PageRequest(current.url, {**current.params, self.p.offset_param: offset})


class _Cursor:
    def __init__(self, p: CursorPaginator) -> None:
        self.p = p

    def next(self, page: Page, current: PageRequest) -> PageRequest | None:
        cursor = dig(page.body, self.p.cursor_path)
        if cursor in (None, "") or page.empty:
            return None
        return PageRequest(current.url, {**current.params, self.p.cursor_param: cursor})


class _NextUrl:
    def __init__(self, p: NextUrlPaginator) -> None:
        self.p = p

    def next(self, page: Page, current: PageRequest) -> PageRequest | None:  # noqa: ARG002
        url = dig(page.body, self.p.next_url_path)
        if not url or not isinstance(url, str):
            return None
        return PageRequest(urljoin(str(page.response.url), url))  # the next URL carries its own query


class _LinkHeader:
    def __init__(self, p: LinkHeaderPaginator) -> None:
        self.p = p

    def next(self, page: Page, current: PageRequest) -> PageRequest | None:  # noqa: ARG002
        link = page.response.links.get(self.p.rel, {}).get("url")
        return PageRequest(urljoin(str(page.response.url), link)) if link else None


_NEXT_URL_PATHS = ("next", "next_url", "nextUrl", "links.next", "_links.next.href", "paging.next")
_CURSOR_PATHS = {
    "next_cursor": "cursor",
    "cursor.next": "cursor",
    "meta.next_cursor": "cursor",
    "pagination.next_cursor": "cursor",
    "response_metadata.next_cursor": "cursor",
    "next_page_token": "page_token",
    "nextPageToken": "pageToken",
}
_TOTAL_PAGES_PATHS = ("total_pages", "meta.total_pages", "pagination.total_pages", "page_count")


def detect(page: Page) -> PaginatorParams:
    """The pagination style the first page shows (see the module docstring for the order)."""
    if "next" in page.response.links:
        return LinkHeaderPaginator()
    if isinstance(page.body, dict):
        for path in _NEXT_URL_PATHS:
            value = dig(page.body, path)
            if isinstance(value, str) and (value.startswith(("http://", "https://", "/", "?"))):
                return NextUrlPaginator(next_url_path=path)
        for path, param in _CURSOR_PATHS.items():
            if dig(page.body, path) not in (None, ""):
                return CursorPaginator(cursor_path=path, cursor_param=param)
        for path in _TOTAL_PAGES_PATHS:
            if isinstance(dig(page.body, path), int):
                return PageNumberPaginator(total_path=path)
    return SinglePage()


def _pager(params: PaginatorParams) -> Pager:
    if isinstance(params, PageNumberPaginator):
        return _PageNumber(params)
    if isinstance(params, OffsetPaginator):
        return _Offset(params)
    if isinstance(params, CursorPaginator):
        return _Cursor(params)
    if isinstance(params, NextUrlPaginator):
        return _NextUrl(params)
    if isinstance(params, LinkHeaderPaginator):
        return _LinkHeader(params)
    return _Single()


def pages(
    client: RestClient,
    method: str,
    request: PageRequest,
    paginator: PaginatorParams,
    parser: PageParser,
    *,
    max_pages: int,
    json_body: Any = None,
    label: str = "",
) -> Iterator[Page]:
    """Every page of an endpoint, fetched one at a time (only the current page is in memory)."""
    pager: Pager | None = None if isinstance(paginator, AutoPaginator) else _pager(paginator)
    if isinstance(pager, _PageNumber | _Offset):
        request = pager.first(request)
    origin = _origin(client, request.url)
    seen: dict[str, int] = {}
    previous_content: bytes | None = None
    number = 1
    current: PageRequest | None = request
    while current is not None:
        if number > max_pages:
            raise RestError(
                f"{label}: stopped after max_pages={max_pages} pages; the API kept returning a next page",
                url=client.secrets.url(current.url),
                table=label,
                hint="raise max_pages if the data really is that large, or check the paginator settings",
            )
        key = current.key()
        if key in seen:
            raise RestError(
                f"{label}: page {number} would request the same URL as page {seen[key]} "
                f"({client.secrets.url(current.url)}); the pagination loops",
                url=client.secrets.url(current.url),
                table=label,
            )
        seen[key] = number
        if _origin(client, current.url) != origin:
            raise RestError(
                f"{label}: page {number} points to another host ({client.secrets.url(current.url)}); "
                "datakit does not send credentials there",
                url=client.secrets.url(current.url),
                table=label,
            )
        response = client.request(method, current.url, params=current.params or None, json=json_body)
        body, records = parse_page(parser, response, client, label)
        content = response.content
        # The previous page's bytes (one more page in memory) compared directly: lengths, then memcmp
        # only when they agree; hashing every page cost ~4% of a 1M-record load's reading thread.
        if content == previous_content:
            raise RestError(
                f"{label}: page {number} repeats page {number - 1} exactly; the API ignores the "
                "pagination parameters or the paginator is misconfigured",
                url=client.secrets.url(str(response.url)),
                table=label,
            )
        previous_content = content
        page = Page(number, response, body, records)
        if pager is None:
            pager = _pager(detect(page))
        yield page
        current = pager.next(page, current)
        number += 1


def parse_page(
    parser: PageParser, response: httpx.Response, client: RestClient, label: str
) -> tuple[Any, list[Any] | pa.StructArray]:
    """Body and records of `response`, or an error that says where the JSON broke and how it starts."""
    url = client.secrets.url(str(response.url))
    where = f"{label}: {response.request.method} {url}"
    try:
        return parser.parse(response.content)
    except json.JSONDecodeError as exc:
        start = client.secrets.text(response.text[:_SNIPPET])
        raise RestError(
            f"{where} returned invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
            f"the body starts with: {start!r}",
            url=url,
            table=label,
        ) from None
    except UnicodeDecodeError as exc:
        raise RestError(
            f"{where} returned a body that is not UTF-8 JSON ({exc.reason} at byte {exc.start})",
            url=url,
            table=label,
        ) from None
    except NoDataPath as exc:
        raise RestError(
            f"{where}: the body {exc}",
            url=url,
            table=label,
            hint="check the resource's data_path (where the records are in the JSON), or whether the API "
            "answered with an error",
        ) from None


def _origin(client: RestClient, url: str) -> str:
    parts = urlsplit(str(client.base_url.join(url)))
    return f"{parts.scheme}://{parts.netloc}"
