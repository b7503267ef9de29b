"""A resume and a prune of the same run never interleave: both take the resumed run's row lock.

A run that resumes run R reuses R's succeeded steps and, for exactly-once loads, asks every run of R's
chain what it committed (`run_keys`): R must still be there when the resume is recorded, and stay while
anything resumes it. The executor reads R before it records the resume, and a prune decides what to
delete before it deletes, so each side checks again inside its own transaction, under a lock the other
side's transaction also takes:

- **recording a resume** (`hold_resumed`) locks R's row (`FOR KEY SHARE` on PostgreSQL) and fails with
  `ResumedRunGone` when R is no longer there: nothing is recorded, and the error says why;
- **deleting runs** (`deletable`) locks its candidates' rows (`FOR UPDATE`), which waits for any
  resume of one of them that is being recorded, then, in a new statement that sees what those
  resumes committed, keeps every candidate that a run outside the deleted set resumes (and, through
  it, the rest of its chain).

On SQLite, every transaction of the store starts with `BEGIN IMMEDIATE` (one writer at a time), so the
two transactions are serialised whole and the same checks suffice; the row locks are left out there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from datakit.errors import DatakitError
from datakit.orchestrate.store.records import ACTIVE

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import Connection


class ResumedRunGone(DatakitError):
    """The run a resume starts from was removed (by retention) before the resume was recorded."""

    def __init__(self, run_id: int) -> None:
        super().__init__(
            f"run {run_id} is no longer in the run history (removed by retention while this resume "
            "started): nothing was resumed",
            hint="run the job again without --resume, or keep more runs (retention: in datakit.yaml)",
        )
        self.run_id = run_id


def hold_resumed(conn: Connection, runs: Table, run_id: int) -> None:
    """In the transaction that records a run resuming `run_id`: lock that run's row until the commit,
    or raise ResumedRunGone when it was deleted."""
    query = select(runs.c.id).where(runs.c.id == run_id).with_for_update(read=True, key_share=True)
    if conn.execute(query).first() is None:
        raise ResumedRunGone(run_id)


def deletable(conn: Connection, runs: Table, candidates: Sequence[int]) -> list[int]:
    """Those of `candidates` that this transaction may delete, locked: finished runs that no run
    outside the returned set resumes."""
    locking = (
        select(runs.c.id)
        .where(runs.c.id.in_(list(candidates)), runs.c.status.not_in(ACTIVE))
        .order_by(runs.c.id)  # one order for every prune: two of them never wait for each other
        .with_for_update()
    )
    locked: Any = conn.execute(locking).scalars().all()
    doomed = {int(run_id) for run_id in locked}
    if not doomed:
        return []
    # a new statement (PostgreSQL: a new snapshot) sees the resumes committed while the lock was awaited
    children = [
        (int(child), int(parent))
        for child, parent in conn.execute(
            select(runs.c.id, runs.c.resumed_from).where(runs.c.resumed_from.in_(sorted(doomed)))
        )
    ]
    while True:  # a kept run keeps the run it resumes, and so on up its chain
        kept = {parent for child, parent in children if parent in doomed and child not in doomed}
        if not kept:
            return sorted(doomed)
        doomed -= kept
