"""Run history: runs, steps, attempts and their logs, in SQLite (default) or PostgreSQL."""

from datakit.orchestrate.store.control import AuditRecord, PausedTrigger
from datakit.orchestrate.store.records import (
    ACTIVE,
    AttemptRecord,
    RunRecord,
    RunStatus,
    StepRecord,
    StepStatus,
    TickRecord,
)
from datakit.orchestrate.store.resumes import ResumedRunGone
from datakit.orchestrate.store.sql import AlreadyRunning, StateStore, TickFired, open_store

__all__ = [
    "ACTIVE",
    "AlreadyRunning",
    "AttemptRecord",
    "AuditRecord",
    "PausedTrigger",
    "ResumedRunGone",
    "RunRecord",
    "RunStatus",
    "StateStore",
    "StepRecord",
    "StepStatus",
    "TickFired",
    "TickRecord",
    "open_store",
]
