"""Runs another engine executes (Airflow, Prefect), recorded in the same history as datakit's own.

The local executor owns a run from start to end in one process. An orchestrator does not: Airflow runs
each step as a task of its own, in any worker process on any host, retries it after a delay, and
decides itself when the DAG run is over. So an engine's run is recorded *from its tasks*, by the rules
here, and ends up as the same `runs`/`steps`/`attempts` rows a local run writes (marked with its
`engine`): `datakit runs`, the status pages, SLA checks and notifications read it like any other.

- **One run per engine run.** Each task `join`s the run by the engine's own id (`external_id`: the
  DAG run, the flow run); the first creates it with every step of its plan pending, in one
  transaction, and two racing first tasks create it once (a unique index; the loser reads the winner's).
- **Attempts as the engine counts them** (Airflow's try number, Prefect's run count); an attempt
  number seen already (a task cleared and run again) takes the next free one, and a step starting in a
  run that had ended (a cleared task) re-opens it; steps skipped before stay skipped until the engine
  runs them too (Airflow clears a task's downstream tasks only when asked), so the run ends again as
  what the engine really ran.
- **The end, decided from the steps** (`settle`): after each step's last attempt, steps downstream of a
  failed or skipped one (per the engine's dependencies, stored as the run's plan) are skipped — the
  engine will not run them — and once no step is pending or running the run ends: succeeded when every
  step did, failed otherwise, with the same error text as a local run. The run row is locked while
  this is decided, so of two steps ending at once exactly one ends the run (and notifies).
- **Engine-level ends** (`finish`): a flow that crashed or was cancelled, a DAG run failed by the
  scheduler — whatever a step never reported — end the run from the engine's run-level hook.

Detached runs (Airflow: no process lives for the whole run) are recorded with pid 0 and swept only
after a long silence (`StateStore.sweep_abandoned`); attached ones (Prefect's flow process) keep the
local rules: heartbeats, and the pid checked on its host.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from datakit.orchestrate.store.records import (
    ACTIVE,
    DETACHED,
    RunStatus,
    StepStatus,
    failure_summary,
)
from datakit.orchestrate.store.resumes import hold_resumed
from datakit.orchestrate.store.sql import AlreadyRunning, StateStore
from datakit.orchestrate.store.sql import _clip as clip

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


@dataclass(frozen=True)
class EngineRun:
    """Which engine runs a run, and how that engine names it."""

    engine: str
    """`airflow`, `prefect` (`local` is datakit's own executor, which does not record through here)."""
    external_id: str
    """Unique across the engine's runs: `airflow:<dag id>:<run id>`, `prefect:<flow run id>`."""
    url: str | None = None
    """The run's page in the engine's UI, linked from datakit's status pages."""
    attached: bool = False
    """A process of the engine lives for the whole run and heartbeats (Prefect's flow); else the run is
    detached (Airflow's tasks come and go) and its engine answers for its liveness."""
    exclusive: bool = False
    """Hold the job's one active slot (`<job>@<warehouse>`), as a local run does: AlreadyRunning when
    another run of the job is active. Only for attached runs (a detached run would hold it through a
    dead worker until the long sweep)."""


_UNFINISHED = (StepStatus.PENDING.value, StepStatus.RUNNING.value)
_BLOCKING = (StepStatus.FAILED.value, StepStatus.SKIPPED.value)


class ExternalRuns:
    """What an engine's tasks call to record their run in `store` (see the module docstring)."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def join(
        self,
        who: EngineRun,
        *,
        job: str,
        plan: dict[str, Any],
        warehouse: str | None = None,
        started_at: float | None = None,
        resumed_from: int | None = None,
        reused: Sequence[str] = (),
    ) -> int:
        """The id of `who`'s run, created (with its plan's steps pending) by the first caller.

        (`join_run` also says whether this call created it.)
        """
        run_id, _ = self.join_run(
            who,
            job=job,
            plan=plan,
            warehouse=warehouse,
            started_at=started_at,
            resumed_from=resumed_from,
            reused=reused,
        )
        return run_id

    def join_run(
        self,
        who: EngineRun,
        *,
        job: str,
        plan: dict[str, Any],
        warehouse: str | None = None,
        started_at: float | None = None,
        resumed_from: int | None = None,
        reused: Sequence[str] = (),
    ) -> tuple[int, bool]:
        """The id of `who`'s run, and True when this call created it (with its plan's steps pending).

        `plan` is the plan as the engine runs it (`Plan.as_dict()`, each step's `depends_on` the
        engine's dependencies); `started_at`, when the engine knows when its run started (else now).
        A run resuming run `resumed_from` records the steps it does not repeat (`reused`) as such.
        """
        store = self.store
        runs = store.runs.c
        if who.exclusive:
            store.sweep_abandoned()
        now = store.clock()
        key = f"{job}@{warehouse or ''}" if who.exclusive else None
        row = {
            "job": job,
            "warehouse": warehouse,
            "status": RunStatus.RUNNING.value,
            "active_key": key,
            "resumed_from": resumed_from,
            "started_at": min(now, started_at) if started_at is not None else now,
            "heartbeat_at": now,
            "host": store.host,
            "pid": os.getpid() if who.attached else DETACHED,
            "plan": json.dumps(plan),
            "uid": uuid.uuid4().hex[:16],
            "engine": who.engine,
            "external_id": who.external_id,
            "external_url": who.url,
        }
        step_ids = [str(step["id"]) for step in plan.get("steps", [])]
        again = set(reused)
        with store._lock:
            try:
                with store._tx() as conn:
                    found = self._find(conn, who.external_id)
                    if found is not None:
                        return found, False
                    if resumed_from is not None:  # locked until the commit: a prune cannot delete it
                        hold_resumed(conn, store.runs, resumed_from)
                    if key is not None:
                        self._refuse_if_active(conn, job, warehouse)
                    run_id = int(conn.execute(insert(store.runs).values(**row)).inserted_primary_key[0])
                    if step_ids:
                        conn.execute(
                            insert(store.steps),
                            [
                                {
                                    "run_id": run_id,
                                    "step_id": step_id,
                                    "position": position,
                                    "status": (
                                        StepStatus.REUSED if step_id in again else StepStatus.PENDING
                                    ).value,
                                    "attempts": 0,
                                }
                                for position, step_id in enumerate(step_ids)
                            ],
                        )
                    return run_id, True
            except IntegrityError:  # another task created the run (or took the job's slot) meanwhile
                with store._tx() as conn:
                    found = self._find(conn, who.external_id)
                    if found is not None:
                        return found, False
                    holder = conn.execute(select(runs.id).where(runs.active_key == key)).scalar()
                raise AlreadyRunning(job, int(holder or 0)) from None

    def find(self, external_id: str) -> int | None:
        """The id of the run its engine calls `external_id`, if one was recorded."""
        with self.store.engine.connect() as conn:
            return self._find(conn, external_id)

    def _find(self, conn: Connection, external_id: str) -> int | None:
        runs = self.store.runs.c
        found = conn.execute(select(runs.id).where(runs.external_id == external_id)).scalar()
        return None if found is None else int(found)

    def _refuse_if_active(self, conn: Connection, job: str, warehouse: str | None) -> None:
        runs = self.store.runs.c
        same_tenant = runs.warehouse.is_(None) if warehouse is None else runs.warehouse == warehouse
        active = conn.execute(
            select(runs.id).where(runs.job == job, same_tenant, runs.status.in_(ACTIVE)).limit(1)
        ).scalar()
        if active is not None:
            raise AlreadyRunning(job, int(active))

    def attempt_started(self, run_id: int, step_id: str, attempt: int) -> int:
        """Record that the engine started try `attempt` of a step; the attempt number recorded (the
        next free one when `attempt` was seen already). A run that had ended is running again."""
        store = self.store
        now = store.clock()
        attempts = store.attempts.c
        with store._lock, store._tx() as conn:
            self._lock_run(conn, run_id)
            latest = conn.execute(
                select(func.max(attempts.attempt)).where(
                    attempts.run_id == run_id, attempts.step_id == step_id
                )
            ).scalar()
            if latest is not None and attempt <= int(latest):
                attempt = int(latest) + 1
            conn.execute(
                insert(store.attempts).values(
                    run_id=run_id, step_id=step_id, attempt=attempt, status="running", started_at=now
                )
            )
            step = conn.execute(
                select(store.steps.c.started_at).where(
                    store.steps.c.run_id == run_id, store.steps.c.step_id == step_id
                )
            ).first()
            values: dict[str, Any] = {"status": StepStatus.RUNNING.value, "attempts": attempt}
            if step is None:  # a step the recorded plan did not have (a DAG file newer than the run)
                position = conn.execute(
                    select(func.count()).where(store.steps.c.run_id == run_id)
                ).scalar_one()
                conn.execute(
                    insert(store.steps).values(
                        run_id=run_id, step_id=step_id, position=int(position), started_at=now, **values
                    )
                )
            else:
                if step.started_at is None:
                    values["started_at"] = now
                values.update(finished_at=None, error=None)
                conn.execute(
                    update(store.steps)
                    .where(store.steps.c.run_id == run_id, store.steps.c.step_id == step_id)
                    .values(**values)
                )
            conn.execute(
                update(store.runs)
                .where(store.runs.c.id == run_id, store.runs.c.status.not_in(ACTIVE))
                .values(status=RunStatus.RUNNING.value, finished_at=None, error=None)
            )
            conn.execute(update(store.runs).where(store.runs.c.id == run_id).values(heartbeat_at=now))
        return attempt

    def settle(self, run_id: int) -> RunStatus | None:
        """Skip what can no longer run; end the run when no step is left. The run's status when this
        call ended it (it is the one to notify), else None."""
        store = self.store
        steps = store.steps.c
        with store._lock, store._tx() as conn:
            run = self._lock_run(conn, run_id)
            if run is None or run.status not in ACTIVE:
                return None
            status = {
                r.step_id: r.status
                for r in conn.execute(select(steps.step_id, steps.status).where(steps.run_id == run_id))
            }
            skipped = _unreachable(_graph(run.plan), status)
            if skipped:
                conn.execute(
                    update(store.steps)
                    .where(steps.run_id == run_id, steps.step_id.in_(skipped))
                    .values(status=StepStatus.SKIPPED.value)
                )
                status.update(dict.fromkeys(skipped, StepStatus.SKIPPED.value))
            if any(s in _UNFINISHED for s in status.values()):
                return None
            failed = [s for s, st in status.items() if st == StepStatus.FAILED.value]
            left_out = [s for s, st in status.items() if st == StepStatus.SKIPPED.value]
            ended = RunStatus.FAILED if failed or left_out else RunStatus.SUCCEEDED
            summary = failure_summary(failed, left_out) if failed or left_out else None
            if ended is RunStatus.FAILED and run.cancel_requested is not None:  # as a local run's
                ended, summary = RunStatus.CANCELLED, f"cancelled by {run.cancel_requested}: {summary}"
            self._end(conn, run_id, ended, summary)
            return ended

    def finish(self, run_id: int, status: RunStatus, error: str | None = None) -> bool:
        """End the run as its engine says it ended (a crashed or cancelled flow, a DAG run the
        scheduler failed): running attempts and steps fail with `error`, pending steps are skipped.
        True when this call ended it (an ended run is left as it is)."""
        store = self.store
        steps, attempts = store.steps.c, store.attempts.c
        now = store.clock()
        with store._lock, store._tx() as conn:
            run = self._lock_run(conn, run_id)
            if run is None or run.status not in ACTIVE:
                return False
            clipped = clip(error)
            conn.execute(
                update(store.attempts)
                .where(attempts.run_id == run_id, attempts.status == "running")
                .values(status=StepStatus.FAILED.value, finished_at=now, error=clipped)
            )
            conn.execute(
                update(store.steps)
                .where(steps.run_id == run_id, steps.status == StepStatus.RUNNING.value)
                .values(status=StepStatus.FAILED.value, finished_at=now, error=clipped)
            )
            conn.execute(
                update(store.steps)
                .where(steps.run_id == run_id, steps.status == StepStatus.PENDING.value)
                .values(status=StepStatus.SKIPPED.value)
            )
            self._end(conn, run_id, status, clipped)
        return True

    def _end(self, conn: Connection, run_id: int, status: RunStatus, error: str | None) -> None:
        conn.execute(
            update(self.store.runs)
            .where(self.store.runs.c.id == run_id)
            .values(status=status.value, finished_at=self.store.clock(), active_key=None, error=clip(error))
        )

    def _lock_run(self, conn: Connection, run_id: int) -> Any:
        """The run's row, locked until the transaction ends (PostgreSQL: FOR UPDATE; SQLite's
        transactions are serialised already by BEGIN IMMEDIATE)."""
        runs = self.store.runs
        return conn.execute(
            select(runs.c.id, runs.c.status, runs.c.plan, runs.c.cancel_requested)
            .where(runs.c.id == run_id)
            .with_for_update()
        ).first()


def _graph(plan_text: str) -> dict[str, Sequence[str]]:
    """Step id -> the step ids it waits for, from the run's recorded plan."""
    try:
        plan = json.loads(plan_text)
    except ValueError:
        return {}
    steps = plan.get("steps", []) if isinstance(plan, dict) else []
    return {str(s["id"]): [str(u) for u in s.get("depends_on", ())] for s in steps if "id" in s}


def _unreachable(graph: dict[str, Sequence[str]], status: dict[str, str]) -> list[str]:
    """Pending steps that wait, directly or not, for a failed or skipped step: the engine will not run
    them (Airflow marks them upstream_failed; datakit's Prefect flows skip them)."""
    blocked = {s for s, st in status.items() if st in _BLOCKING}
    found: list[str] = []
    changed = True
    while changed:
        changed = False
        for step_id, st in status.items():
            waits = graph.get(step_id, ())
            if st == StepStatus.PENDING.value and step_id not in blocked and any(u in blocked for u in waits):
                blocked.add(step_id)
                found.append(step_id)
                changed = True
    return found
