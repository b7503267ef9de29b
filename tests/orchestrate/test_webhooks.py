"""Webhook verification: every rejection with its HTTP status, a valid delivery, and replay under load."""

from __future__ import annotations

import hashlib
import hmac
import threading
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from datakit.errors import SecretError
from datakit.orchestrate.webhooks import (
    DELIVERY_HEADER,
    MAX_BODY_BYTES,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    BadSignature,
    BodyTooLarge,
    Delivery,
    MalformedDelivery,
    Replayed,
    StaleTimestamp,
    Unsigned,
    WebhookError,
    sign,
)
from tests.waits import GUARD
from tests.webhook_signing import MemorySeenIds, signed_headers, verify

SECRET = SecretStr("s3cret-hook-key")
SENT = 1_780_000_000
NOW = datetime.fromtimestamp(SENT + 2, UTC)
BODY = b'{"ref": "main"}'


def headers(body: bytes = BODY, sent: int = SENT, delivery: str = "d-1") -> dict[str, str]:
    return signed_headers(body, SECRET, sent, delivery)


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    expected = hmac.new(b"s3cret-hook-key", b"1780000000." + BODY, hashlib.sha256).hexdigest()
    assert sign(BODY, SECRET, SENT) == f"sha256={expected}"


def test_a_valid_delivery_is_accepted_and_becomes_a_tick() -> None:
    delivery = verify(headers(), BODY, SECRET, NOW, MemorySeenIds())
    assert delivery == Delivery("d-1", datetime.fromtimestamp(SENT, UTC), BODY)
    tick = delivery.tick("on_push", "daily")
    assert (tick.key, tick.cause, tick.job) == ("on_push@delivery:d-1", "webhook", "daily")


def test_header_names_are_case_insensitive() -> None:
    lowered = {name.lower(): value for name, value in headers().items()}
    assert verify(lowered, BODY, SECRET, NOW, MemorySeenIds()).id == "d-1"


def _without(name: str) -> dict[str, str]:
    return {k: v for k, v in headers().items() if k != name}


def _with(name: str, value: str) -> dict[str, str]:
    return {**headers(), name: value}


CASES = [
    ("no headers", {}, BODY, NOW, Unsigned, 401),
    ("no signature", _without(SIGNATURE_HEADER), BODY, NOW, Unsigned, 401),
    ("no timestamp", _without(TIMESTAMP_HEADER), BODY, NOW, Unsigned, 401),
    ("other scheme", _with(SIGNATURE_HEADER, "sha1=" + "0" * 40), BODY, NOW, Unsigned, 401),
    ("not hex", _with(SIGNATURE_HEADER, "sha256=" + "z" * 64), BODY, NOW, Unsigned, 401),
    ("bad timestamp", _with(TIMESTAMP_HEADER, "yesterday"), BODY, NOW, Unsigned, 401),
    (
        "wrong secret",
        signed_headers(BODY, SecretStr("not-the-key"), SENT, "d-1"),
        BODY,
        NOW,
        BadSignature,
        401,
    ),
    ("tampered body", headers(), BODY + b" ", NOW, BadSignature, 401),
    ("re-dated", _with(TIMESTAMP_HEADER, str(SENT + 1)), BODY, NOW, BadSignature, 401),
    ("stale", headers(), BODY, NOW + timedelta(seconds=299), StaleTimestamp, 401),
    ("from the future", headers(), BODY, NOW - timedelta(seconds=303), StaleTimestamp, 401),
    ("no delivery id", _without(DELIVERY_HEADER), BODY, NOW, MalformedDelivery, 400),
    ("odd delivery id", _with(DELIVERY_HEADER, "a b"), BODY, NOW, MalformedDelivery, 400),
    (
        "oversized",
        headers(b"x" * (MAX_BODY_BYTES + 1)),
        b"x" * (MAX_BODY_BYTES + 1),
        NOW,
        BodyTooLarge,
        413,
    ),
]


@pytest.mark.parametrize(
    ("sent_headers", "body", "now", "error", "status"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_each_bad_delivery_is_rejected_with_its_status_and_records_nothing(
    sent_headers: dict[str, str], body: bytes, now: datetime, error: type[WebhookError], status: int
) -> None:
    seen = MemorySeenIds()
    with pytest.raises(error) as caught:
        verify(sent_headers, body, SECRET, now, seen)
    assert caught.value.status == status
    assert seen.keys == {}  # a refused delivery cannot block the genuine one
    text = f"{caught.value} {caught.value!r}"
    assert SECRET.get_secret_value() not in text
    assert sign(body, SECRET, SENT).removeprefix("sha256=") not in text  # no signature oracle


def test_an_empty_secret_verifies_nothing() -> None:
    empty = SecretStr("")
    with pytest.raises(SecretError, match="empty"):
        verify(signed_headers(BODY, empty, SENT, "d-1"), BODY, empty, NOW, MemorySeenIds())


def test_the_window_is_plus_or_minus_300_seconds_inclusive() -> None:
    sent = datetime.fromtimestamp(SENT, UTC)
    for now in (sent + timedelta(seconds=300), sent - timedelta(seconds=300)):
        verify(headers(), BODY, SECRET, now, MemorySeenIds())
    with pytest.raises(StaleTimestamp):
        verify(headers(), BODY, SECRET, sent + timedelta(seconds=301), MemorySeenIds())


def test_a_body_of_exactly_the_limit_is_accepted() -> None:
    body = b"x" * MAX_BODY_BYTES
    assert verify(headers(body), body, SECRET, NOW, MemorySeenIds()).body == body


def test_a_replayed_delivery_is_refused_with_409() -> None:
    seen = MemorySeenIds()
    verify(headers(), BODY, SECRET, NOW, seen)
    with pytest.raises(Replayed) as same:
        verify(headers(), BODY, SECRET, NOW, seen)
    assert same.value.status == 409
    # a redelivery of the same id, freshly signed, is the same delivery
    with pytest.raises(Replayed):
        verify(headers(sent=SENT + 60), BODY, SECRET, NOW + timedelta(seconds=60), seen)
    # a captured request re-sent under a new delivery id carries a signature already used
    with pytest.raises(Replayed, match="another delivery id"):
        verify(headers(delivery="d-2"), BODY, SECRET, NOW, seen)
    # another delivery is fine, and the same id for another trigger (scope) too
    verify(headers(BODY + b"\n", delivery="d-3"), BODY + b"\n", SECRET, NOW, seen)
    other = headers(BODY + b"\n\n")
    assert verify(other, BODY + b"\n\n", SECRET, NOW, seen, scope="other_trigger").id == "d-1"


def test_one_valid_delivery_posted_20_times_concurrently_is_accepted_once() -> None:
    seen = MemorySeenIds()
    start = threading.Barrier(20)
    accepted: list[Delivery] = []
    refused: list[int] = []
    lock = threading.Lock()

    def post() -> None:
        start.wait()
        try:
            delivery = verify(headers(), BODY, SECRET, NOW, seen)
        except WebhookError as error:
            with lock:
                refused.append(error.status)
        else:
            with lock:
                accepted.append(delivery)

    threads = [threading.Thread(target=post) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=GUARD)
    assert len(accepted) == 1
    assert refused == [409] * 19


def test_memory_seen_ids_forget_only_what_has_expired() -> None:
    seen = MemorySeenIds()
    verify(headers(), BODY, SECRET, NOW, seen)
    assert set(seen.keys) == {"/delivery:d-1", f"/signature:{sign(BODY, SECRET, SENT)[7:]}"}
    later = NOW + timedelta(minutes=10)
    verify(headers(b"2", SENT + 600, "d-2"), b"2", SECRET, later, seen)
    assert "/delivery:d-1" in seen.keys  # ids are kept for days: senders redeliver under the same id
    assert f"/signature:{sign(BODY, SECRET, SENT)[7:]}" not in seen.keys  # stale by now anyway
    week = NOW + timedelta(days=7, minutes=1)
    verify(headers(b"3", SENT + 7 * 86400 + 60, "d-3"), b"3", SECRET, week, seen)
    assert "/delivery:d-1" not in seen.keys
