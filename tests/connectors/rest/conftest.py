"""Fixtures of the REST source tests: the local HTTP API of `tests.http_api`, and parameter helpers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from datakit.connectors.rest.params import RestParams, RestResourceParams, RetryParams
from tests.http_api import FakeApi, Req, Resp, Route, running_api

__all__ = ["FakeApi", "Req", "Resp", "Route"]


@pytest.fixture
def api() -> Iterator[FakeApi]:
    with running_api() as server:
        yield server


FAST_RETRY = RetryParams(max_attempts=4, backoff_factor=0.0, max_delay=0.0, max_retry_after=0.05)


def params(api: FakeApi, *resources: RestResourceParams, **kwargs: Any) -> RestParams:
    """Source parameters for `api` with fast retries (tests must not sleep for real)."""
    kwargs.setdefault("retry", FAST_RETRY)
    kwargs.setdefault("timeout", 2.0)
    return RestParams(base_url=api.url, resources=list(resources), **kwargs)


def resource(name: str = "items", endpoint: str = "/items", **kwargs: Any) -> RestResourceParams:
    return RestResourceParams(name=name, endpoint=endpoint, **kwargs)


def rows(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"id": i, "name": f"n{i}"} for i in range(start, start + n)]
