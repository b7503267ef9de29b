"""Inbound webhooks: verify that a POST to `/hooks/<trigger>` is signed, fresh and new, before it runs a job.

The scheme (the one Stripe made familiar), with these headers:

    X-Datakit-Timestamp: <Unix seconds>
    X-Datakit-Signature: sha256=<hex HMAC-SHA256 of f"{timestamp}.".encode() + body, keyed with the secret>
    X-Datakit-Delivery:  <delivery id, unique per delivery: 1-128 of A-Z a-z 0-9 . _ : ->

Checks, in order, and the HTTP status of each rejection (`WebhookError.status`):
- body longer than the limit (1 MiB by default), before any hashing     -> 413 BodyTooLarge
- signature or timestamp header missing or malformed                     -> 401 Unsigned
- signature that does not match (`hmac.compare_digest`)                  -> 401 BadSignature
- timestamp more than the tolerance (300 s) from now, either way         -> 401 StaleTimestamp
  (checked after the signature, so only a genuine sender learns that its clock is off)
- delivery id header missing or malformed                                -> 400 MalformedDelivery
- delivery id, or the same signature, already accepted                   -> 409 Replayed
`authenticate` makes every check but the last, from the request alone; `remember` makes the last, in
the store of seen deliveries (the endpoint calls them apart, to answer a delivery for a job that is
already running without writing anything). An empty secret raises `SecretError` (a server fault, not
the sender's): it would let anyone sign. `sign` is what a sender computes.

The delivery id is not covered by the signature, so replay protection also records the signature itself:
a captured request re-sent with a fresh delivery id is still refused. A signature is kept only while its
timestamp is in the window (later the request is stale anyway); a delivery id is kept for 7 days, because
senders redeliver a failed delivery under the same id with a new timestamp and signature.

The secret is a `SecretStr`, revealed only to `hmac.new`; no error message includes it, the expected
signature or the received one.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from pydantic import SecretStr

from datakit.errors import DatakitError, SecretError
from datakit.orchestrate.triggers.ticks import Tick, require_aware

SIGNATURE_HEADER = "X-Datakit-Signature"
TIMESTAMP_HEADER = "X-Datakit-Timestamp"
DELIVERY_HEADER = "X-Datakit-Delivery"
SCHEME = "sha256="
TOLERANCE = timedelta(seconds=300)
MAX_BODY_BYTES = 1024 * 1024
REMEMBER_IDS = timedelta(days=7)

_HEX = re.compile(r"[0-9a-f]{64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_DELIVERY = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class WebhookError(DatakitError):
    """A delivery was refused; `status` is the HTTP status the endpoint answers with."""

    status: int = 400


class MalformedDelivery(WebhookError):
    """The delivery id is missing or not a short token."""

    status = 400


class Unsigned(WebhookError):
    """No signature or timestamp, or one that is not in the documented form."""

    status = 401


class BadSignature(WebhookError):
    """The signature does not match the body and timestamp under the trigger's secret."""

    status = 401


class StaleTimestamp(WebhookError):
    """The timestamp is outside the tolerance window: an old request replayed, or a skewed clock."""

    status = 401


class Replayed(WebhookError):
    """This delivery (id or signature) was accepted before."""

    status = 409


class BodyTooLarge(WebhookError):
    """The body exceeds the limit; the endpoint should stop reading at limit + 1 bytes."""

    status = 413


class SeenIds(Protocol):
    """Where accepted deliveries are recorded. The daemon implements it with the state store's
    insert-if-absent; the answer must be atomic across threads and processes."""

    def add_if_absent(self, key: str, expires_at: datetime, now: datetime) -> bool:
        """Record `key` until `expires_at`; True if it was not recorded yet (the caller may proceed).

        Entries that expired before `now` may be dropped: their requests fail the timestamp check.
        """
        ...


@dataclass(frozen=True, slots=True)
class Delivery:
    """A verified webhook request."""

    id: str
    timestamp: datetime
    body: bytes
    signature: str = field(default="", repr=False, compare=False)
    """The received signature (hex): replay protection records it too."""

    def tick(self, trigger: str, job: str) -> Tick:
        """The run request this delivery makes: key `<trigger>@delivery:<id>`."""
        key = f"{trigger}@delivery:{self.id}"
        return Tick(trigger, job, self.timestamp, key, "webhook", detail=self.id)


def sign(body: bytes, secret: SecretStr, timestamp: int) -> str:
    """The `X-Datakit-Signature` value for `body` sent at `timestamp` (Unix seconds)."""
    message = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.get_secret_value().encode(), message, hashlib.sha256).hexdigest()
    return SCHEME + digest


def authenticate(
    headers: Mapping[str, str],
    body: bytes,
    secret: SecretStr,
    now: datetime,
    *,
    tolerance: timedelta = TOLERANCE,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> Delivery:
    """The delivery once signed and fresh (every check but replay); touches no state, so it is cheap.

    `headers` may be any mapping (names are matched case-insensitively).
    """
    now = require_aware(now, "now")
    if not secret.get_secret_value():  # an empty key would let anyone sign; the daemon refuses it too
        raise SecretError("the webhook's secret is empty", hint="set the secret's environment variable")
    if len(body) > max_body_bytes:
        raise BodyTooLarge(f"body of {len(body)} bytes exceeds the limit of {max_body_bytes} bytes")
    lower = {name.lower(): value.strip() for name, value in headers.items()}
    sent, received = _authentic(lower, body, secret)
    if abs(now - sent) > tolerance:
        raise StaleTimestamp(
            f"timestamp {sent.timestamp():.0f} is {abs(now - sent).total_seconds():.0f} s from the "
            f"server's clock (tolerance {tolerance.total_seconds():.0f} s)",
            hint="check the sender's clock, and sign each delivery when sending it",
        )
    delivery_id = lower.get(DELIVERY_HEADER.lower(), "")
    if not _DELIVERY.fullmatch(delivery_id):
        raise MalformedDelivery(f"missing or malformed {DELIVERY_HEADER} header (1-128 of A-Za-z0-9._:-)")
    return Delivery(delivery_id, sent, body, received)


def remember(
    delivery: Delivery,
    seen_ids: SeenIds,
    now: datetime,
    *,
    remember_ids: timedelta = REMEMBER_IDS,
    tolerance: timedelta = TOLERANCE,
    scope: str = "",
) -> None:
    """Record an authenticated delivery in `seen_ids`; `Replayed` when its id or signature was seen.

    `scope` (the trigger name) prefixes the recorded keys, so two senders' delivery ids never collide.
    """
    # A sender may redeliver an id later with a fresh signature: ids are kept for days. A signature
    # needs keeping only while its timestamp is fresh; after that the timestamp check refuses it alone.
    sent = delivery.timestamp
    if not seen_ids.add_if_absent(delivery_key(scope, delivery.id), sent + remember_ids, now):
        raise Replayed(f"delivery {delivery.id} was already accepted")
    if not seen_ids.add_if_absent(f"{scope}/signature:{delivery.signature}", sent + tolerance, now):
        raise Replayed("this signed request was already accepted under another delivery id")


def delivery_key(scope: str, delivery_id: str) -> str:
    """The key under which `remember` records a delivery id of trigger `scope`."""
    return f"{scope}/delivery:{delivery_id}"


def _authentic(lower: Mapping[str, str], body: bytes, secret: SecretStr) -> tuple[datetime, str]:
    """The signed timestamp and the received signature (hex), once the signature matches."""
    signature = lower.get(SIGNATURE_HEADER.lower(), "")
    stamp = lower.get(TIMESTAMP_HEADER.lower(), "")
    if not signature or not stamp:
        missing = SIGNATURE_HEADER if not signature else TIMESTAMP_HEADER
        raise Unsigned(f"unsigned delivery: no {missing} header", hint=_HOW)
    received = signature[len(SCHEME) :].lower() if signature.startswith(SCHEME) else ""
    # Format checks depend on the request only, not on the secret: they leak nothing about it.
    if not _HEX.fullmatch(received) or not _TIMESTAMP.fullmatch(stamp):
        raise Unsigned("unsigned delivery: malformed signature or timestamp header", hint=_HOW)
    expected = sign(body, secret, int(stamp))[len(SCHEME) :]
    if not hmac.compare_digest(expected, received):
        raise BadSignature("signature does not match", hint="sign with the trigger's secret; see sign()")
    return datetime.fromtimestamp(int(stamp), UTC), received


_HOW = f"send {TIMESTAMP_HEADER}: <unix seconds> and {SIGNATURE_HEADER}: sha256=<hex HMAC-SHA256>"
