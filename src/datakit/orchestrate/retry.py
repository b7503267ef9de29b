"""Which failures deserve another attempt, and how long to wait before it.

Retry is decided by type first (`DatakitError.transient`: connection loss, REST 429/5xx outlasting the
client's own retries, a step timeout), then by the few driver signs that say "the same statement may
succeed next time" even when a layer above wrapped the error as terminal: serialization failures and
deadlocks (SQLSTATE 40001 / 40P01), HTTP 429/5xx statuses. Everything else — contracts, config, SQL
syntax, permissions — fails at once: retrying only repeats the failure later.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from datakit.orchestrate.stepkinds import RetryPolicy

_TRANSIENT_SIGNS = (
    "serializationfailure",
    "could not serialize access",
    "deadlockdetected",
    "deadlock detected",
    "40001",
    "40p01",
    "connection refused",
    "connection reset",
    "server closed the connection",
    "terminating connection",
    "timed out",
    "http 429",
    "too many requests",
)
_HTTP_TOO_MANY = 429
_HTTP_SERVER_ERROR = 500


def is_transient(error: BaseException) -> bool:
    """True when `error` says the same step may succeed if tried again."""
    if getattr(error, "transient", False):
        return True
    status = getattr(error, "status", None)
    if isinstance(status, int) and (status == _HTTP_TOO_MANY or status >= _HTTP_SERVER_ERROR):
        return True
    if isinstance(error, TimeoutError | ConnectionError):
        return True
    return transient_text(f"{type(error).__name__}: {error}")


def transient_text(text: str) -> bool:
    """The textual test of `is_transient`, for errors that crossed a process boundary as text."""
    lowered = text.lower()
    return any(sign in lowered for sign in _TRANSIENT_SIGNS) or _http_5xx(lowered)


def _http_5xx(lowered: str) -> bool:
    marker = lowered.find("http 5")
    return marker >= 0 and lowered[marker + 5 : marker + 8].isdigit()


def backoff_delay(policy: RetryPolicy, attempt: int, rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based).

    Constant `retry_delay` by default; with `exponential_backoff`, `retry_delay * 2^(attempt-1)` capped
    at `max_retry_delay`, then "equal jitter" (half fixed, half random) so that steps failing together
    (a database restart) do not all come back at the same instant. `rand` is injected in tests.
    """
    if not policy.exponential_backoff:
        return policy.retry_delay
    base = min(policy.max_retry_delay, policy.retry_delay * 2 ** max(attempt - 1, 0))
    return float(base / 2 + rand() * base / 2)
