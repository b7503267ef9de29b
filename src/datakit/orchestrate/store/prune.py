"""Removing old runs from the state store: which runs a retention policy lets go, and their deletion.

A run goes, with its steps, attempts and logs, when it is older than its job's `max_age` or beyond the
newest `max_runs` runs of its job and warehouse — unless the history still needs it:

- the newest run of each job and warehouse (the status pages' "last run", what a resume starts from);
- a run still active (running or queued: its heartbeat, its SLA watch and the queue refer to it);
- a run that a kept run resumes, and the run that one resumes, and so on: a resume asks every run of
  its chain whether it committed a load already (exactly once), so the chain must stay whole.

Deletion goes in batches of a few hundred runs, one short transaction each, so that a run starting or
recording its steps meanwhile (serve, a CLI run) waits milliseconds, not for the whole prune. Each batch
checks again, inside its transaction and under its runs' row locks, that no run outside it resumes one of
its runs, nor is being recorded as resuming one (`resumes.py`: a resume and a prune never interleave).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import delete, func, select

from datakit.orchestrate.store.records import ACTIVE, TickRecord
from datakit.orchestrate.store.resumes import deletable

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from datakit.orchestrate.store.sql import StateStore

T = TypeVar("T")

BATCH = 200
"""Runs deleted per transaction: small enough that concurrent writers hardly wait."""


@dataclass(frozen=True)
class Limits:
    """What one job keeps: runs younger than `max_age` seconds and among its newest `max_runs`
    (None: no such limit)."""

    max_age: float | None = None
    max_runs: int | None = None


@dataclass(frozen=True)
class Policy:
    """The limits of every job: `default`, and `jobs` for the jobs that set their own."""

    default: Limits
    jobs: Mapping[str, Limits] = field(default_factory=dict)
    audit_max_age: float | None = None
    """Seconds the audit log keeps an entry (None: for ever)."""

    def limits(self, job: str) -> Limits:
        return self.jobs.get(job, self.default)


@dataclass(frozen=True)
class ExpiredRun:
    """A run the policy lets go."""

    id: int
    job: str
    warehouse: str | None
    status: str
    started_at: float
    reason: str
    """`older than max_age` or `beyond max_runs`."""


@dataclass(frozen=True)
class RemovedCounts:
    """What deleting runs removed (or, in a dry run, would remove)."""

    runs: int = 0
    steps: int = 0
    attempts: int = 0
    log_bytes: int = 0


def expired_runs(store: StateStore, policy: Policy, now: float) -> list[ExpiredRun]:
    """The runs `policy` removes at `now`, oldest first; none that the history still needs."""
    runs = store.runs.c
    query = select(runs.id, runs.job, runs.warehouse, runs.status, runs.started_at, runs.resumed_from)
    with store.engine.connect() as conn:
        rows = conn.execute(query.order_by(runs.id.desc())).all()
    position: dict[tuple[str, str | None], int] = {}
    expired: dict[int, ExpiredRun] = {}
    kept: list[Any] = []
    for row in rows:  # newest first, so `position` counts the newer runs of the same job and warehouse
        key = (row.job, row.warehouse)
        index = position.get(key, 0)
        position[key] = index + 1
        reason = _reason(policy.limits(row.job), index, row.started_at, now)
        if index == 0 or row.status in ACTIVE or reason is None:
            kept.append(row)
        else:
            expired[row.id] = ExpiredRun(row.id, row.job, row.warehouse, row.status, row.started_at, reason)
    parents = {row.id: row.resumed_from for row in rows}
    for row in kept:  # the chain of runs each kept run resumes stays whole
        parent = row.resumed_from
        while parent is not None and parent in expired:
            del expired[parent]
            parent = parents.get(parent)
    return sorted(expired.values(), key=lambda run: run.id)


def _reason(limits: Limits, index: int, started_at: float, now: float) -> str | None:
    if limits.max_age is not None and started_at < now - limits.max_age:
        return "older than max_age"
    if limits.max_runs is not None and index >= limits.max_runs:
        return "beyond max_runs"
    return None


def count_removed(store: StateStore, run_ids: Sequence[int]) -> RemovedCounts:
    """What deleting `run_ids` removes: its steps, attempts and bytes of logs (a dry run's figures)."""
    steps = attempts = log_bytes = 0
    for batch in _batches(run_ids):
        with store.engine.connect() as conn:
            steps += int(
                conn.execute(
                    select(func.count()).select_from(store.steps).where(store.steps.c.run_id.in_(batch))
                ).scalar_one()
            )
            found, size = _sizes(conn, store, batch)
            attempts += found
            log_bytes += size
    return RemovedCounts(len(run_ids), steps, attempts, log_bytes)


def delete_runs(store: StateStore, run_ids: Sequence[int]) -> RemovedCounts:
    """Delete the runs (steps, attempts, logs) in short transactions; what was really deleted.

    A run that became active, or that a run outside the batch now resumes (even one whose resume is
    being recorded at this moment: `resumes.deletable`), is skipped, with the runs its chain needs.
    """
    runs = store.runs.c
    removed = RemovedCounts()
    for batch in _batches(run_ids):
        with store.write() as conn:
            doomed = deletable(conn, store.runs, batch)  # locked: a resume of one of them waits, or won
            if not doomed:
                continue
            _, size = _sizes(conn, store, doomed)
            attempts = conn.execute(delete(store.attempts).where(store.attempts.c.run_id.in_(doomed)))
            steps = conn.execute(delete(store.steps).where(store.steps.c.run_id.in_(doomed)))
            gone = conn.execute(delete(store.runs).where(runs.id.in_(doomed)))
        removed = RemovedCounts(
            removed.runs + int(gone.rowcount),
            removed.steps + int(steps.rowcount),
            removed.attempts + int(attempts.rowcount),
            removed.log_bytes + size,
        )
    return removed


def _sizes(conn: Connection, store: StateStore, run_ids: Sequence[int]) -> tuple[int, int]:
    """(attempts, bytes of their logs as stored) of the runs."""
    attempts = store.attempts.c
    stored = func.coalesce(func.length(attempts.log), 0)
    query = select(func.count(), func.sum(stored)).where(attempts.run_id.in_(list(run_ids)))
    row: Any = conn.execute(query).one()
    return int(row[0]), int(row[1] or 0)


def existing_runs(store: StateStore, run_ids: Sequence[int]) -> set[int]:
    """Those of `run_ids` that are recorded."""
    found: set[int] = set()
    for batch in _batches(run_ids):
        with store.engine.connect() as conn:
            rows: Any = conn.execute(select(store.runs.c.id).where(store.runs.c.id.in_(batch))).scalars()
            found.update(int(run_id) for run_id in rows)
    return found


def run_ends(store: StateStore, run_ids: Sequence[int]) -> dict[int, float | None]:
    """When each recorded run of `run_ids` finished (None: not yet)."""
    runs = store.runs.c
    ends: dict[int, float | None] = {}
    for batch in _batches(run_ids):
        with store.engine.connect() as conn:
            for row in conn.execute(select(runs.id, runs.finished_at).where(runs.id.in_(batch))):
                ends[int(row[0])] = None if row[1] is None else float(row[1])
    return ends


def count_expired_deliveries(store: StateStore, now: float) -> int:
    """Webhook delivery ids past their expiry (what `forget_deliveries` would drop)."""
    query = select(func.count()).select_from(store.deliveries).where(store.deliveries.c.expires_at < now)
    with store.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def count_old_audit(store: StateStore, before: float) -> int:
    """Audit log entries recorded before `before` (what `forget_audit` would drop)."""
    query = select(func.count()).select_from(store.audit).where(store.audit.c.at < before)
    with store.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def forget_audit(store: StateStore, before: float) -> int:
    """Delete the audit log entries recorded before `before`, oldest first, in short transactions
    (the UI and the CLI keep appending meanwhile); how many there were."""
    audit = store.audit.c
    forgotten = 0
    while True:
        with store.write() as conn:
            oldest = select(audit.id).where(audit.at < before).order_by(audit.id).limit(BATCH)
            ids: Any = conn.execute(oldest).scalars().all()
            if not ids:
                return forgotten
            forgotten += int(conn.execute(delete(store.audit).where(audit.id.in_(list(ids)))).rowcount)


def all_ticks(store: StateStore) -> list[TickRecord]:
    """Every recorded tick, oldest first."""
    ticks = store.ticks.c
    query = select(ticks.key, ticks.run_id, ticks.created_at).order_by(ticks.created_at, ticks.key)
    with store.engine.connect() as conn:
        return [TickRecord(str(r[0]), int(r[1]), float(r[2])) for r in conn.execute(query)]


def forget_ticks(store: StateStore, keys: Iterable[str]) -> int:
    """Delete the ticks of `keys`; how many there were."""
    forgotten = 0
    for batch in _batches(list(keys)):
        with store.write() as conn:
            forgotten += int(conn.execute(delete(store.ticks).where(store.ticks.c.key.in_(batch))).rowcount)
    return forgotten


def _batches(items: Sequence[T]) -> Iterable[list[T]]:
    for start in range(0, len(items), BATCH):
        yield list(items[start : start + BATCH])
