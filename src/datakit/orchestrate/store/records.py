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

LOCAL = "local"
"""The engine of runs datakit executes itself (`datakit run`, `datakit serve`); others name theirs
(`airflow`, `prefect`) when their tasks record a run (`store.external`)."""


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
    """The whole log, or only its last lines when the log is large and was not asked for in full
    (`complete` says which; `StateStore.get_run(full_logs=True)` or `attempt_log` read it all)."""
    log_bytes: int | None = None
    """Bytes of the whole log as stored (None: recorded before datakit counted them)."""
    log_lines: int | None = None
    log_omitted: int = 0
    """Bytes that the size cap cut out of the log's middle (0: nothing was cut)."""
    complete: bool = True
    """`log` is the whole stored log."""


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
    engine: str = LOCAL
    """What executed the run: `local` (datakit itself), `airflow`, `prefect`."""
    external_id: str | None = None
    """The run as its engine knows it (`airflow:<dag id>:<run id>`, `prefect:<flow run id>`)."""
    external_url: str | None = None
    """The run's page in its engine's UI, when the engine said where that is."""
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

    @property
    def detached(self) -> bool:
        """Recorded by an engine's tasks, with no process holding the run (Airflow): `pid` is 0."""
        return self.pid == DETACHED

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("plan")
        return data


DETACHED = 0
"""The `pid` of a run no process holds from start to end: an engine (Airflow) runs each step in a task
of its own, on any host, and owns the run's liveness (see `StateStore.sweep_abandoned`)."""


def failure_summary(failed: list[str], skipped: list[str]) -> str:
    """The error of a run that did not succeed: which steps failed, which were skipped."""
    parts = []
    if failed:
        parts.append(f"{len(failed)} failed: {', '.join(failed)}")
    if skipped:
        parts.append(f"{len(skipped)} skipped: {', '.join(skipped)}")
    return "; ".join(parts)
