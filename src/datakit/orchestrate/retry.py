"""Which failures deserve another attempt, and how long to wait before it.

Retry is decided by type, never by reading a message: `DatakitError.transient` (a lost connection,
classified by each engine's `errors.py` from the driver's exception type and error code; a dbt step
whose engine recognised a transient failure; a step timeout), an HTTP status of 429 or 5xx outlasting
the client's own retries, Python's `TimeoutError` and `ConnectionError`. Everything else — contracts,
config, SQL syntax, permissions — fails at once: retrying only repeats the failure later. An error that
crossed a process boundary carries the child's verdict with it (`stepcall`).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from datakit.orchestrate.stepkinds import RetryPolicy

_HTTP_TOO_MANY = 429
_HTTP_SERVER_ERROR = 500


def is_transient(error: BaseException) -> bool:
    """True when `error` says the same step may succeed if tried again."""
    if getattr(error, "transient", False):
        return True
    status = getattr(error, "status", None)
    if isinstance(status, int) and (status == _HTTP_TOO_MANY or status >= _HTTP_SERVER_ERROR):
        return True
    return isinstance(error, TimeoutError | ConnectionError)


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
