"""Webhook helpers for tests and benchmarks: a sender's headers, replay memory in a dict, and `verify`.

datakit's endpoint verifies in two calls (`authenticate`, then `remember` in the state store); these
put the same calls together for tests of the scheme itself, without a server or a store.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import SecretStr

from datakit.orchestrate.webhooks import (
    DELIVERY_HEADER,
    MAX_BODY_BYTES,
    REMEMBER_IDS,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    TOLERANCE,
    Delivery,
    SeenIds,
    authenticate,
    remember,
    sign,
)


def signed_headers(body: bytes, secret: SecretStr, timestamp: int, delivery_id: str) -> dict[str, str]:
    """All three headers a sender adds."""
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(body, secret, timestamp),
        DELIVERY_HEADER: delivery_id,
    }


@dataclass
class MemorySeenIds:
    """An in-process `SeenIds`; forgets keys once they expire."""

    keys: dict[str, datetime] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add_if_absent(self, key: str, expires_at: datetime, now: datetime) -> bool:
        """Insert-if-absent under a lock; expired keys are dropped first, so memory stays bounded."""
        with self._lock:
            for old in [k for k, until in self.keys.items() if until < now]:
                del self.keys[old]
            if key in self.keys:
                return False
            self.keys[key] = expires_at
            return True


def verify(
    headers: Mapping[str, str],
    body: bytes,
    secret: SecretStr,
    now: datetime,
    seen_ids: SeenIds,
    *,
    tolerance: timedelta = TOLERANCE,
    max_body_bytes: int = MAX_BODY_BYTES,
    remember_ids: timedelta = REMEMBER_IDS,
    scope: str = "",
) -> Delivery:
    """The delivery, once signed, fresh and new (`authenticate` then `remember`); otherwise the
    `WebhookError` the endpoint answers with. A second `verify` of the same request raises `Replayed`."""
    delivery = authenticate(headers, body, secret, now, tolerance=tolerance, max_body_bytes=max_body_bytes)
    remember(delivery, seen_ids, now, remember_ids=remember_ids, tolerance=tolerance, scope=scope)
    return delivery
