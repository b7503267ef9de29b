"""A tick: one occasion on which a trigger starts its job, named by a key that makes it happen once.

The key is the whole exactly-once mechanism: it depends only on what the tick *is* (trigger name and
scheduled time, or the run / file / delivery that caused it), never on when or how often it was computed,
so a caller that records keys with insert-if-absent starts each tick once — across overlapping polls,
several processes and restarts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

Cause = Literal["cron", "interval", "job_succeeded", "job_failed", "job_finished", "file_arrived", "webhook"]


@dataclass(frozen=True, slots=True)
class Tick:
    """One firing of a trigger.

    `at` is the UTC instant the tick stands for: the scheduled time (cron, interval), the upstream run's
    end (job events), the file's modification time (file arrivals) or the signed timestamp (webhooks).
    `job` is the trigger's job reference as written in its file; `detail` says what caused an event tick
    (the upstream run, the file path, the delivery id).
    """

    trigger: str
    job: str
    at: datetime
    key: str
    cause: Cause
    detail: str | None = None


def iso_utc(instant: datetime) -> str:
    """`2026-03-29T01:00:00Z`: the instant in UTC, microseconds only when there are any."""
    utc = instant.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}"
    return text + "Z"


def schedule_key(trigger: str, scheduled_at: datetime) -> str:
    """The key of a scheduled tick: `<trigger>@<scheduled time, ISO UTC>`."""
    return f"{trigger}@{iso_utc(scheduled_at)}"


def require_aware(value: datetime, name: str) -> datetime:
    """`value` in UTC; a naive datetime is refused, because `datetime.now()` is local time and a silent
    guess would shift every schedule by the machine's offset."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (e.g. datetime.now(UTC)), got {value!r}")
    return value.astimezone(UTC)
