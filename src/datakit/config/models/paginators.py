"""`paginator:` of a REST resource: how the next page is asked for. One class per `type:`, in a union.

The vocabulary mirrors dlt's rest_api paginators (and `datakit.connectors.rest.params`, which the loader
builds from these): `auto` detects the style from the first response.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from datakit.config.models.common import StrictModel


class AutoPaginator(StrictModel):
    """Detect the style from the first response (next link, cursor, page count...)."""

    type: Literal["auto"] = "auto"


class SinglePagePaginator(StrictModel):
    """The endpoint returns everything in one response."""

    type: Literal["single_page"]


class PageNumberPaginator(StrictModel):
    """`?page=1,2,3...`; stops on an empty page, or after `total_path` pages when the body says so."""

    type: Literal["page_number"]
    page_param: str = Field("page", min_length=1)
    start: int = 1
    size_param: str | None = None
    size: Annotated[int, Field(ge=1)] | None = None
    total_path: str | None = Field(None, description="Dotted path to the number of pages in the body.")


class OffsetPaginator(StrictModel):
    """`?offset=0&limit=100`; stops on a short page, or at `total_path` records when the body says so."""

    type: Literal["offset"]
    offset_param: str = Field("offset", min_length=1)
    limit_param: str = Field("limit", min_length=1)
    limit: Annotated[int, Field(ge=1)] = 100
    total_path: str | None = Field(None, description="Dotted path to the number of records in the body.")


class CursorPaginator(StrictModel):
    """A cursor read from the body at `cursor_path`, sent back as `cursor_param`; stops when empty."""

    type: Literal["cursor"]
    cursor_path: str = Field("next_cursor", min_length=1)
    cursor_param: str = Field("cursor", min_length=1)


class NextUrlPaginator(StrictModel):
    """The next page's URL read from the body at `next_url_path`; stops when empty."""

    type: Literal["next_url"]
    next_url_path: str = Field("next", min_length=1)


class LinkHeaderPaginator(StrictModel):
    """RFC 8288 `Link: <url>; rel="next"` (GitHub style); stops when the header has no such link."""

    type: Literal["link_header"]
    rel: str = Field("next", min_length=1)


Paginator = Annotated[
    AutoPaginator
    | SinglePagePaginator
    | PageNumberPaginator
    | OffsetPaginator
    | CursorPaginator
    | NextUrlPaginator
    | LinkHeaderPaginator,
    Field(discriminator="type"),
]
