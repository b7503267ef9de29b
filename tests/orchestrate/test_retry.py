"""Backoff delays (computed with injected randomness, never by sleeping) and the transient rule."""

from __future__ import annotations

import pytest

from datakit.connectors.errors import ConnectionLost, ConnectorError
from datakit.connectors.rest.errors import RestError
from datakit.errors import ConfigError, DatakitError
from datakit.load.errors import LoadError
from datakit.orchestrate.retry import backoff_delay, is_transient
from datakit.orchestrate.stepkinds import RetryPolicy


def test_constant_delay_without_backoff() -> None:
    policy = RetryPolicy(max_attempts=4, retry_delay=30)
    assert [backoff_delay(policy, n, lambda: 0.9) for n in (1, 2, 3)] == [30, 30, 30]


@pytest.mark.parametrize(("rand", "expected"), [(0.0, [5, 10, 20, 40, 50]), (1.0, [10, 20, 40, 80, 100])])
def test_exponential_backoff_with_jitter_and_cap(rand: float, expected: list[float]) -> None:
    policy = RetryPolicy(max_attempts=9, retry_delay=10, exponential_backoff=True, max_retry_delay=100)
    assert [backoff_delay(policy, n, lambda: rand) for n in range(1, 6)] == expected


@pytest.mark.parametrize(
    "error",
    [
        ConnectionLost("server closed the connection unexpectedly"),
        RestError("HTTP 503 from api", status=503),
        RestError("too many", status=429),
        TimeoutError("read timed out"),
    ],
)
def test_transient(error: Exception) -> None:
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        ConfigError([]),
        ConnectorError('syntax error at or near "selec"'),
        RestError("HTTP 404 not found", status=404),
        DatakitError("column amount: 12 values violate the contract"),
        ValueError("bad value"),
        # the words of a transient failure in a terminal error's message do not make it transient
        LoadError("loading x failed: could not serialize access"),
    ],
)
def test_terminal(error: Exception) -> None:
    assert not is_transient(error)
