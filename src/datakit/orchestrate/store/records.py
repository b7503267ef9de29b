"""What the run history returns: plain frozen records, so callers never hold a database row."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class RunStatus(StrEnum):
    QUEUED = "queued"
    """Recorded, waiting for a run that writes the same DuckDB file to finish (`datakit serve`)."""
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ABANDONED = "abandoned"
    """Its process died (no heartbeat): never left "running" forever."""
    CANCELLED = "cancelled"
    """An operator cancelled it (`datakit runs cancel`, the status page): its steps were killed."""


ACTIVE = (RunStatus.QUEUED.value, RunStatus.RUNNING.value)
"""The statuses of a run that holds its job's one active slot (and its heartbeat is watched)."""


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    REUSED = "reused"
    """Succeeded in the run this one resumes; not run again."""


@dataclass(frozen=True)
class AttemptRecord:
    attempt: int
    status: str
    started_at: float
    finished_at: float | None
    error: str | None
    transient: bool | None
    retry_in: float | None
    log: str | None


@dataclass(frozen=True)
class StepRecord:
    step_id: str
    position: int
    status: str
    attempts: int
    rows_read: int | None
    rows_loaded: int | None
    rows_rejected: int | None
    started_at: float | None
    finished_at: float | None
    error: str | None
    details: dict[str, Any] | None = None
    """Structured results of the step (dbt's per-node results, check results), JSON in the store."""
    attempt_records: tuple[AttemptRecord, ...] = field(default=())

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at


@dataclass(frozen=True)
class TickRecord:
    """A trigger's firing that started a run: its key (`<trigger>@<when>`), the run, when recorded."""

    key: str
    run_id: int
    created_at: float


@dataclass(frozen=True)
class RunRecord:
    id: int
    job: str
    warehouse: str | None
    status: str
    resumed_from: int | None
    started_at: float
    finished_at: float | None
    heartbeat_at: float
    host: str
    pid: int
    error: str | None
    plan: str
    sla_missed_at: float | None = None
    """When the run exceeded its job's `sla.duration` (None: met, or no SLA)."""
    uid: str | None = None
    """Random; None for runs recorded before datakit gave runs one."""
    cancel_requested: str | None = None
    """Who asked to cancel the run and when (`alice at <epoch>`), while or after it was cancelled."""
    steps: tuple[StepRecord, ...] = field(default=())

    @property
    def duration(self) -> float | None:
        return None if self.finished_at is None else self.finished_at - self.started_at

    @property
    def key(self) -> str | None:
        """The run as destinations' load records name it (`<id>-<uid>`: ids alone repeat across state
        stores); None for a run without a uid."""
        return None if self.uid is None else f"{self.id}-{self.uid}"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("plan")
        return data
