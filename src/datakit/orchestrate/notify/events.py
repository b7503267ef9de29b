"""What a notification says: one event of one run, built from the run history, as JSON or as text.

Events are built from the state store's `RunRecord`, not from the executor's memory, so what a channel
sends is exactly what `datakit runs show` will show (and errors are already redacted by the store).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from datakit.config.models.common import format_duration
from datakit.orchestrate.store import RunRecord, RunStatus


class EventKind(StrEnum):
    """The names receivers switch on (the `event` field of the JSON summary)."""

    RUN_FAILED = "run_failed"
    RUN_SUCCEEDED = "run_succeeded"
    SLA_MISSED = "sla_missed"


@dataclass(frozen=True)
class StepSummary:
    """One step as a receiver needs it: enough to see what broke without opening the run history."""

    id: str
    status: str
    attempts: int
    rows_read: int | None
    rows_loaded: int | None
    rows_rejected: int | None
    error: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "attempts": self.attempts,
            "rows": {"read": self.rows_read, "loaded": self.rows_loaded, "rejected": self.rows_rejected},
            "error": self.error,
        }


@dataclass(frozen=True)
class RunEvent:
    """One thing worth telling someone about a run; `sla` (seconds) is set when the job has an SLA."""

    kind: EventKind
    job: str
    run_id: int | str
    """datakit's run id; an Airflow DAG run's id (a string) when Airflow ran the job."""
    warehouse: str | None
    status: str
    started_at: float
    finished_at: float | None
    steps: tuple[StepSummary, ...]
    error: str | None = None
    sla: float | None = None
    sla_missed_at: float | None = None
    resume: str | None = None
    """How to re-run what failed, when not `datakit run job --resume` (another engine ran the job)."""
    engine: str = "datakit"
    """What ran the job: `datakit`, `airflow` or `prefect`."""

    @classmethod
    def from_run(cls, kind: EventKind, run: RunRecord, *, sla: float | None = None) -> RunEvent:
        steps = tuple(
            StepSummary(s.step_id, s.status, s.attempts, s.rows_read, s.rows_loaded, s.rows_rejected, s.error)
            for s in run.steps
        )
        return cls(
            kind=kind,
            job=run.job,
            run_id=run.id,
            warehouse=run.warehouse,
            status=run.status,
            started_at=run.started_at,
            finished_at=run.finished_at,
            steps=steps,
            error=run.error,
            sla=sla,
            sla_missed_at=run.sla_missed_at,
        )

    @property
    def duration(self) -> float | None:
        """Seconds the run took; for a run still going (an SLA miss), how long it has been running."""
        end = self.finished_at if self.finished_at is not None else self.sla_missed_at
        return None if end is None else round(end - self.started_at, 3)

    @property
    def resume_command(self) -> str | None:
        """How to re-run only the failed and skipped steps: what the reader of a failure wants next."""
        if self.status in {RunStatus.FAILED.value, RunStatus.ABANDONED.value, RunStatus.CANCELLED.value}:
            if self.resume is not None:
                return self.resume
            from datakit.orchestrate.plan import resume_command

            return resume_command(self.job, self.warehouse, self.run_id)
        return None

    @property
    def subject(self) -> str:
        what = {
            EventKind.RUN_FAILED: "failed",
            EventKind.RUN_SUCCEEDED: "succeeded",
            EventKind.SLA_MISSED: f"missed its SLA ({sla_text(self.sla)})",
        }[self.kind]
        where = f" on {self.warehouse}" if self.warehouse else ""
        return f"[datakit] job {self.job}{where} run {self.run_id} {what}"

    def as_dict(self) -> dict[str, Any]:
        """The JSON summary a webhook receives."""
        return {
            "event": self.kind.value,
            "job": self.job,
            "run_id": self.run_id,
            "engine": self.engine,
            "warehouse": self.warehouse,
            "status": self.status,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "duration_seconds": self.duration,
            "error": self.error,
            "steps": [step.as_dict() for step in self.steps],
            "resume_command": self.resume_command,
            "sla_seconds": self.sla,
            "sla_missed_at": _iso(self.sla_missed_at),
        }

    def text(self) -> str:
        """A plain-text report, for an email body: the subject, then one line per step."""
        lines = [self.subject.removeprefix("[datakit] "), ""]
        lines.append(f"started:  {_iso(self.started_at)}")
        if self.finished_at is not None:
            lines.append(f"finished: {_iso(self.finished_at)} ({self.duration} s)")
        elif self.kind is EventKind.SLA_MISSED:
            lines.append(f"still running after {self.duration} s; the SLA is {sla_text(self.sla)}")
        if self.error:
            lines.append(f"error:    {self.error}")
        lines.append("")
        for step in self.steps:
            rows = "" if step.rows_loaded is None else f", {step.rows_loaded} rows loaded"
            lines.append(f"  {step.id}: {step.status} ({step.attempts} attempt(s){rows})")
            if step.error:
                lines.append(f"    {step.error}")
        if self.resume_command and self.kind is EventKind.RUN_FAILED:
            lines += ["", f"resume with: {self.resume_command}"]
        return "\n".join(lines) + "\n"


def sla_text(seconds: float | None) -> str:
    """`600.0` -> `10m`, `0.3` -> `0.3s`: the short form the job file uses."""
    if seconds is None:
        return "none"
    if seconds < 1 or seconds != int(seconds):
        return f"{seconds:g}s"
    return format_duration(timedelta(seconds=seconds))


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")
