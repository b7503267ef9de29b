"""Every failed request names its URL, as sent, with the API key in the query string masked."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest
from pydantic import SecretStr

from datakit.connectors import ConnectorError
from datakit.connectors.rest import RestError, RestSource, RestUnavailable
from datakit.connectors.rest.params import ApiKeyAuthParams, PageNumberPaginator, RestParams, RetryParams
from tests.connectors.rest.conftest import FakeApi, Req, Resp, params, resource
from tests.connectors.rest.helpers import read_rows

KEY = "q-key-41c7d2-never-shown"
AUTH = ApiKeyAuthParams(name="api_key", location="query", key=SecretStr(KEY))


@pytest.fixture
def released() -> Iterator[threading.Event]:
    """Set when the test ends: a route that waits on it never answers while the client waits."""
    event = threading.Event()
    yield event
    event.set()


def fail(api: FakeApi, route: Callable[[Req], Resp], **kwargs: object) -> ConnectorError:
    """The error of reading `/items` (page 2 is the one that fails) with the key in the query string."""

    def paged(req: Req) -> Resp:
        if req.query.get("page") == "1":
            return Resp(body={"data": {"items": [{"id": 1}]}})
        return route(req)

    api.routes["/items"] = paged
    res = resource(data_path="data.items", paginator=PageNumberPaginator(), params={"status": "open"})
    retry = {"max_attempts": 2, "backoff_factor": 0}
    source = RestSource(params(api, res, auth=AUTH, retry=retry, **kwargs))  # type: ignore[arg-type]
    with pytest.raises(ConnectorError) as raised:
        read_rows(source)
    return raised.value


def shown(api: FakeApi) -> str:
    return f"{api.url}/items?status=open&page=2&api_key=***"


def assert_names_the_url(error: ConnectorError, url: str) -> None:
    assert url in str(error)
    assert KEY not in f"{error} {error.hint or ''} {getattr(error, 'url', '')}"
    assert getattr(error, "url", None) == url


def test_an_http_error(api: FakeApi) -> None:
    error = fail(api, lambda _req: Resp(404, {"error": "no such page"}))
    assert isinstance(error, RestError) and error.status == 404
    assert_names_the_url(error, shown(api))


def test_a_server_error_after_its_retries(api: FakeApi) -> None:
    error = fail(api, lambda _req: Resp(503, {"error": "busy"}))
    assert isinstance(error, RestUnavailable) and "failed after 2 attempts: HTTP 503" in str(error)
    assert_names_the_url(error, shown(api))


def test_a_timeout(api: FakeApi, released: threading.Event) -> None:
    def hang(_req: Req) -> Resp:
        released.wait()
        return Resp(body={"data": {"items": []}})

    error = fail(api, hang, timeout=0.2)
    assert isinstance(error, RestUnavailable) and "timed out" in str(error)
    assert_names_the_url(error, shown(api))


def test_a_connection_error() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    res = resource(data_path="data.items", params={"status": "open"})
    source = RestSource(
        RestParams(base_url=base, auth=AUTH, retry=RetryParams(max_attempts=1), resources=[res])
    )
    with pytest.raises(RestUnavailable) as raised:
        read_rows(source)
    assert "connection failed" in str(raised.value)
    assert_names_the_url(raised.value, f"{base}/items?status=open&api_key=***")


def test_invalid_json(api: FakeApi) -> None:
    error = fail(api, lambda _req: Resp(200, b"<html>maintenance</html>"))
    assert isinstance(error, RestError) and "returned invalid JSON" in str(error)
    assert_names_the_url(error, shown(api))


def test_a_body_that_is_not_utf8(api: FakeApi) -> None:
    error = fail(api, lambda _req: Resp(200, b'{"data": {"items": [{"id": "\xff\xfe"}]}}'))
    assert isinstance(error, RestError) and "not UTF-8" in str(error)
    assert_names_the_url(error, shown(api))


def test_records_missing_at_the_data_path(api: FakeApi) -> None:
    error = fail(api, lambda _req: Resp(200, {"error": {"message": "quota"}, "status": "failed"}))
    assert isinstance(error, RestError)
    assert "has no 'data.items'" in str(error) and "error, status" in str(error)
    assert error.hint is not None and "data_path" in error.hint
    assert_names_the_url(error, shown(api))


def test_an_empty_or_null_list_at_the_data_path_is_no_error(api: FakeApi) -> None:
    bodies = iter([{"data": {"items": [{"id": 1}]}}, {"data": {"items": None}}])
    api.routes["/items"] = lambda _req: Resp(body=next(bodies))
    res = resource(data_path="data.items", paginator=PageNumberPaginator())
    assert read_rows(RestSource(params(api, res))) == [{"id": 1}]
