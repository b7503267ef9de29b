"""Retries: 429 (honouring Retry-After), 5xx, timeouts and connection errors; other 4xx fail at once."""

from __future__ import annotations

import socket
import threading

import pytest

from datakit.connectors.rest import RestError, RestSource, RestUnavailable
from datakit.connectors.rest.client import backoff
from datakit.connectors.rest.params import RestParams, RetryParams, SinglePage
from tests.connectors.rest.conftest import FakeApi, Req, Resp, params, resource, rows
from tests.connectors.rest.helpers import ids, read_rows
from tests.waits import GUARD


def _flaky(api: FakeApi, failures: list[Resp]) -> None:
    """The first requests get `failures`, then the API answers."""
    queue = list(failures)

    @api.route("/items")
    def _(req: Req) -> Resp:
        return queue.pop(0) if queue else Resp(body=rows(3))


def _source(api: FakeApi, sleeps: list[float], **kwargs: object) -> RestSource:
    return RestSource(params(api, resource(paginator=SinglePage()), **kwargs), sleep=sleeps.append)


def test_429_waits_as_long_as_retry_after_says_capped(api: FakeApi) -> None:
    _flaky(
        api,
        [Resp(429, {"error": "slow down"}, {"Retry-After": "0.01"}), Resp(429, {}, {"Retry-After": "3600"})],
    )
    sleeps: list[float] = []
    assert ids(read_rows(_source(api, sleeps))) == [0, 1, 2]
    assert sleeps == [0.01, 0.05]  # the second Retry-After capped at max_retry_after
    assert len(api.requests) == 3


def test_5xx_are_retried_then_succeed(api: FakeApi) -> None:
    _flaky(api, [Resp(500, {"error": "boom"}), Resp(502, b"bad gateway"), Resp(503, {})])
    sleeps: list[float] = []
    assert ids(read_rows(_source(api, sleeps))) == [0, 1, 2]
    assert len(api.requests) == 4 and len(sleeps) == 3


def test_timeouts_are_retried_then_succeed(api: FakeApi) -> None:
    answer_first = threading.Event()  # the first request is answered only after the test
    requests: list[Req] = []

    @api.route("/items")
    def _(req: Req) -> Resp:
        requests.append(req)
        if len(requests) == 1:
            answer_first.wait(GUARD)
        return Resp(body=rows(3))

    sleeps: list[float] = []
    try:
        assert ids(read_rows(_source(api, sleeps))) == [0, 1, 2]  # the tests' client timeout: 2 s
    finally:
        answer_first.set()
    assert len(sleeps) == 1 and len(requests) == 2


def test_retries_run_out_with_a_transient_error(api: FakeApi) -> None:
    _flaky(api, [Resp(503, {})] * 10)
    with pytest.raises(RestUnavailable, match=r"failed after 4 attempts: HTTP 503") as info:
        read_rows(_source(api, []))
    assert info.value.transient and info.value.status == 503
    assert len(api.requests) == 4


def test_a_refused_connection_is_retried_then_reported() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed when the block ends: nothing listens there
    sleeps: list[float] = []
    retry = RetryParams(max_attempts=3, backoff_factor=0.0)
    source = RestSource(
        RestParams(base_url=f"http://127.0.0.1:{port}", resources=[resource()], retry=retry),
        sleep=sleeps.append,
    )
    with pytest.raises(RestUnavailable, match="connection failed"):
        read_rows(source)
    assert len(sleeps) == 2


@pytest.mark.parametrize("status", [400, 403, 404, 422])
def test_other_4xx_fail_at_once_with_url_and_snippet(api: FakeApi, status: int) -> None:
    _flaky(api, [Resp(status, {"error": "no such thing", "detail": "x" * 1000})])
    source = RestSource(params(api, resource(paginator=SinglePage(), params={"q": "a"})))
    with pytest.raises(RestError) as info:
        read_rows(source)
    message = str(info.value)
    assert f"GET {api.url}/items?q=a returned HTTP {status}" in message
    assert "no such thing" in message and len(message) < 600  # a snippet, not the whole body
    assert info.value.status == status and not info.value.transient
    assert len(api.requests) == 1


def test_backoff_grows_exponentially_with_jitter() -> None:
    retry = RetryParams(backoff_factor=1.0, max_delay=5.0)
    for attempt, full in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (8, 5.0)]:
        delays = {backoff(retry, attempt) for _ in range(20)}
        assert all(full / 2 <= d <= full for d in delays)
        assert len(delays) > 1  # jittered
    assert backoff(retry, 1, "Thu, 01 Jan 1970 00:00:00 GMT") == 0.0  # an HTTP date in the past
    assert backoff(retry, 1, "7") == 7.0
