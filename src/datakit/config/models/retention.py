"""How much run history the state store keeps, and how big a step's log may be.

`retention:` in `datakit.yaml` holds the project's defaults (small enough for a laptop: 30 days, the
last 1,000 runs of each job; the audit log a year); a job's own `retention:` overrides either run
limit, and a limit set to `null` there turns it off for that job. `datakit serve` applies the policy
every `prune_every`; `datakit runs prune` applies it by hand. `step_logs:` caps what one attempt's log
may hold in the store.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import ByteSize, Field, TypeAdapter, ValidationError, field_validator

from datakit.config.models.common import Duration, StrictModel

DEFAULT_MAX_AGE = timedelta(days=30)
DEFAULT_MAX_RUNS = 1000
DEFAULT_AUDIT_MAX_AGE = timedelta(days=365)
"""An audit log entry is small, and who did what is asked about long after the runs are gone."""
DEFAULT_PRUNE_EVERY = timedelta(hours=1)
DEFAULT_LOG_MAX_BYTES = 2 * 1024 * 1024
MIN_LOG_MAX_BYTES = 1024

MaxRuns = Annotated[int, Field(ge=1, description="Runs kept per job (and per warehouse), newest first.")]


def _positive(value: timedelta | None) -> timedelta | None:
    if value is not None and value.total_seconds() <= 0:
        raise ValueError("must be longer than 0s: remove the limit with `null` instead")
    return value


class Retention(StrictModel):
    """The project's run-history retention (`datakit.yaml`)."""

    max_age: Duration | None = Field(
        DEFAULT_MAX_AGE,
        description="Runs that started longer ago than this are removed (null: no age limit).",
    )
    max_runs: MaxRuns | None = Field(
        DEFAULT_MAX_RUNS,
        description="Runs beyond the newest N of each job (and warehouse) are removed (null: no limit).",
    )
    audit_max_age: Duration | None = Field(
        DEFAULT_AUDIT_MAX_AGE,
        description="Entries of the audit log (what operators did on `datakit serve`'s pages and from "
        "the CLI) recorded longer ago than this are removed (null: kept for ever).",
    )
    prune_every: Duration = Field(
        DEFAULT_PRUNE_EVERY, description="How often `datakit serve` applies the retention."
    )
    enabled: bool = Field(True, description="false: `datakit serve` never prunes (`runs prune` still can).")

    _max_age = field_validator("max_age", "audit_max_age")(_positive)

    @field_validator("prune_every")
    @classmethod
    def _prune_at_all(cls, value: timedelta) -> timedelta:
        if value.total_seconds() < 1:
            raise ValueError("must be at least 1s (to stop pruning, set `enabled: false`)")
        return value


class JobRetention(StrictModel):
    """A job's own limits; a limit left out inherits the project's, one set to null has no limit."""

    max_age: Duration | None = Field(None, description="Overrides `retention.max_age` for this job.")
    max_runs: MaxRuns | None = Field(None, description="Overrides `retention.max_runs` for this job.")

    _max_age = field_validator("max_age")(_positive)


_BYTES = TypeAdapter(ByteSize)


class StepLogs(StrictModel):
    """How much of one attempt's log the run history keeps."""

    max_bytes: ByteSize = Field(
        ByteSize(DEFAULT_LOG_MAX_BYTES),
        description="Cap of one attempt's log, e.g. 2MiB or 500KB: beyond it the middle is cut and "
        "replaced by a `truncated, N bytes` marker (the start and the end are kept).",
    )

    @field_validator("max_bytes", mode="before")
    @classmethod
    def _a_size(cls, value: object) -> object:
        try:
            return _BYTES.validate_python(value)
        except ValidationError:
            raise ValueError(
                f"invalid size {value!r}: use bytes (2097152) or a size such as 500KB, 2MiB, 1GB"
            ) from None

    @field_validator("max_bytes")
    @classmethod
    def _room_for_a_log(cls, value: ByteSize) -> ByteSize:
        if value < MIN_LOG_MAX_BYTES:
            raise ValueError(f"must be at least {MIN_LOG_MAX_BYTES} bytes (1KiB)")
        return value
