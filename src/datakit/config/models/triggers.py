"""`trigger:` files — what starts a job: cron, interval, manual, event or webhook."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from datakit.config.models.common import (
    SUGGESTED,
    Description,
    Duration,
    JobRef,
    Name,
    SecretRef,
    StrictModel,
    Tags,
)
from datakit.errors import did_you_mean


def check_cron(expression: str) -> str:
    """Reject cron expressions croniter cannot schedule, with the expected shape in the message."""
    from croniter import croniter

    if not croniter.is_valid(expression):
        raise ValueError(
            f"invalid cron expression '{expression}': expected 5 fields "
            "'minute hour day-of-month month day-of-week' (e.g. '0 2 * * *') or @hourly/@daily/@weekly"
        )
    return expression


def check_timezone(name: str) -> str:
    """Reject names the IANA time-zone database does not know, suggesting the closest one."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        hint = did_you_mean(name, available_timezones())
        context = {"name": name, "suggestion": hint}
        raise PydanticCustomError(SUGGESTED, "unknown timezone '{name}'", context) from None
    return name


CronExpression = Annotated[str, AfterValidator(check_cron)]
TimeZone = Annotated[
    str, AfterValidator(check_timezone), Field(description="IANA time zone, e.g. Europe/Paris.")
]


MaxCatchup = Annotated[int, Field(ge=1, le=10_000)]


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("the interval must be longer than zero")
    return value


class TriggerBase(StrictModel):
    name: Name
    description: Description
    tags: Tags
    enabled: bool = True
    job: JobRef


class CronSchedule(StrictModel):
    cron: CronExpression
    timezone: TimeZone = "UTC"
    catchup: bool = Field(False, description="After downtime: false runs once; true runs every missed tick.")
    max_catchup: MaxCatchup = Field(10, description="Most missed ticks run when catchup is true.")


class CronTrigger(TriggerBase):
    """Runs the job on a cron schedule in a time zone."""

    type: Literal["cron"]
    schedule: CronSchedule


class IntervalSchedule(StrictModel):
    every: Annotated[Duration, AfterValidator(_positive)]
    start_at: datetime | None = Field(
        None,
        description="First tick (UTC unless it has an offset); default: when the scheduler first sees it.",
    )
    catchup: bool = Field(False, description="After downtime: false runs once; true runs every missed tick.")
    max_catchup: MaxCatchup = Field(10, description="Most missed ticks run when catchup is true.")


class IntervalTrigger(TriggerBase):
    """Runs the job every fixed duration."""

    type: Literal["interval"]
    schedule: IntervalSchedule


class ManualTrigger(TriggerBase):
    """Runs the job only when asked (`datakit run job J`)."""

    type: Literal["manual"]


class JobEvent(StrictModel):
    type: Literal["job_succeeded", "job_failed", "job_finished"]
    job: JobRef


class FileEvent(StrictModel):
    type: Literal["file_arrived"]
    path: str = Field(min_length=1, description="Folder to watch (relative to the project root).")
    pattern: str = Field("*", description="Glob the file name must match.")
    settle: Duration = Field(
        timedelta(0),
        description="Fire only once the file has been unchanged this long (for writers that write in place).",
    )


class EventTrigger(TriggerBase):
    """Runs the job when another job ends or a file arrives."""

    type: Literal["event"]
    event: Annotated[JobEvent | FileEvent, Field(discriminator="type")]


class WebhookSettings(StrictModel):
    secret_key: SecretRef = Field(description="Secret for the HMAC-SHA256 signature of deliveries.")
    tolerance: Duration = Field(timedelta(seconds=300), description="Accepted clock skew of the timestamp.")
    max_body_bytes: Annotated[int, Field(ge=1, le=64 * 1024 * 1024)] = 1024 * 1024


class WebhookTrigger(TriggerBase):
    """Runs the job when a signed POST arrives at /hooks/<trigger name>."""

    type: Literal["webhook"]
    webhook: WebhookSettings


Trigger = Annotated[
    CronTrigger | IntervalTrigger | ManualTrigger | EventTrigger | WebhookTrigger,
    Field(discriminator="type"),
]
