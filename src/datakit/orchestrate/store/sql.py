"""The state store: run history in SQLite (`.datakit/state.db`, the default) or PostgreSQL.

It keeps runs with their steps, attempts and logs, and what the scheduler needs to fire each trigger
tick once (tick keys, cursors) and each webhook delivery once (delivery keys). Callers get frozen
records (`records.py`), never rows; the status pages' queries are methods here too.

Safe with several processes. On SQLite (WAL journal) every transaction, a read included, starts with
`BEGIN IMMEDIATE`: transactions take the database's one write lock at once and queue for it on
`busy_timeout` (30 s) instead of failing on a lock upgrade halfway; they are short, so a reader waits
milliseconds. PostgreSQL needs nothing special. Within a process, writes are serialised by a lock.

One active run per job and warehouse: `start_run` looks for an active (running or queued) run of the
job for that warehouse, and the UNIQUE `active_key` (see `tables.py`) makes two racing starts fail
atomically; `allow_concurrent` runs hold no key. Liveness is a heartbeat: the executor writes it every
few seconds, and a queued run's wait too; an active run whose heartbeat is older than `stale_after`, or
whose process on this host is gone, is marked abandoned (`sweep_abandoned`, called before a run starts
and by most reads).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from datakit.config.models.retention import DEFAULT_LOG_MAX_BYTES
from datakit.errors import DatakitError
from datakit.log import redact
from datakit.orchestrate.store.control import Controls
from datakit.orchestrate.store.engine import make_engine, sqlite_url
from datakit.orchestrate.store.logs import attempt_record, stored, unpack
from datakit.orchestrate.store.maintenance import compact, store_size
from datakit.orchestrate.store.records import (
    ACTIVE,
    DETACHED,
    LOCAL,
    AttemptRecord,
    RunRecord,
    RunStatus,
    StepRecord,
    StepStatus,
    TickRecord,
)
from datakit.orchestrate.store.resumes import hold_resumed
from datakit.orchestrate.store.tables import build_tables, missing_columns

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from datakit.config.project import Project

Clock = Callable[[], float]
STALE_AFTER = 60.0  # seconds without a heartbeat before a run counts as dead
DETACHED_STALE_AFTER = 24 * 3600.0  # the same for a run an engine's tasks record (sweep_abandoned)
_ERROR_LIMIT = 8000


class AlreadyRunning(DatakitError):
    """The job has an active run and concurrent runs were not allowed."""

    def __init__(self, job: str, run_id: int) -> None:
        super().__init__(
            f"job {job!r} is already running: run {run_id}",
            hint="wait for it, or pass --allow-concurrent to start another run anyway",
        )
        self.run_id = run_id


class TickFired(DatakitError):
    """The trigger tick already started a run (in this or another process)."""

    def __init__(self, key: str) -> None:
        super().__init__(f"tick {key!r} already fired")
        self.key = key


class StateStore(Controls):
    """Run history behind SQLAlchemy Core; all times are epoch seconds from the injected `clock`.

    What operators do (cancel requests, paused triggers, the audit log) is in its base, `Controls`."""

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        clock: Clock = time.time,
        stale_after: float = STALE_AFTER,
        detached_stale_after: float = DETACHED_STALE_AFTER,
        log_max_bytes: int = DEFAULT_LOG_MAX_BYTES,
    ) -> None:
        self.clock = clock
        self.log_max_bytes = log_max_bytes
        self.stale_after = stale_after
        self.detached_stale_after = detached_stale_after
        self.host = socket.gethostname()
        tables = build_tables(schema)
        self.metadata, self.runs, self.steps, self.attempts, self.ticks, self.deliveries, self.cursors = (
            tables
        )
        self._control_tables(self.metadata)
        self.schema = schema
        self._lock = threading.Lock()  # one writer per process; other processes queue in the database
        self.engine = make_engine(url)
        if schema is not None and self.engine.dialect.name == "postgresql":
            from sqlalchemy.schema import CreateSchema

            with self.engine.begin() as conn:
                conn.execute(CreateSchema(schema, if_not_exists=True))
        with self._lock:
            self.metadata.create_all(self.engine)
            self._add_missing_columns(schema)

    def _add_missing_columns(self, schema: str | None) -> None:
        """Bring a store created by an older datakit up to date (new columns are all nullable)."""
        from sqlalchemy import inspect

        inspector = inspect(self.engine)
        existing = {
            name: {c["name"] for c in inspector.get_columns(name, schema=schema)}
            for name in (t.name for t in self.metadata.tables.values())
        }
        added = missing_columns(self.metadata, existing)
        with self.engine.begin() as conn:
            quote = self.engine.dialect.identifier_preparer
            for table, column in added:
                kind = column.type.compile(dialect=self.engine.dialect)
                conn.exec_driver_sql(
                    f"ALTER TABLE {quote.format_table(table)} ADD COLUMN {quote.format_column(column)} {kind}"
                )
            for table in {table for table, _ in added}:  # the new columns' indexes (unique ones too)
                for index in table.indexes:
                    index.create(conn, checkfirst=True)

    def close(self) -> None:
        self.engine.dispose()

    def size_bytes(self) -> int | None:
        """Bytes the store takes on disk (SQLite: file and WAL; PostgreSQL: its tables)."""
        return store_size(self.engine, self.schema, [table.name for table in self.metadata.tables.values()])

    def compact(self) -> None:
        """Give deleted rows' space back (after a prune): SQLite's file and WAL shrink."""
        with self._lock:
            compact(self.engine)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction, serialised with this process's other writes (for `prune`)."""
        with self._lock, self._tx() as conn:
            yield conn

    # --- runs -------------------------------------------------------------------------------------

    def start_run(
        self,
        job: str,
        plan: str,
        *,
        allow_concurrent: bool = False,
        resumed_from: int | None = None,
        warehouse: str | None = None,
        tick_key: str | None = None,
    ) -> int:
        """A new running run of `job`; AlreadyRunning when one is active and concurrency is not allowed.

        With `tick_key` (a trigger's firing), the tick is recorded in the same transaction as the run:
        TickFired when it already was, so a tick starts at most one run whoever else evaluates it.
        With `resumed_from`, ResumedRunGone when a prune removed that run meanwhile (`resumes.py`).
        """
        self.sweep_abandoned()
        key = None if allow_concurrent else f"{job}@{warehouse or ''}"
        now = self.clock()
        row = {
            "job": job,
            "warehouse": warehouse,
            "status": RunStatus.RUNNING.value,
            "active_key": key,
            "resumed_from": resumed_from,
            "started_at": now,
            "heartbeat_at": now,
            "host": self.host,
            "pid": os.getpid(),
            "plan": plan,
            "uid": uuid.uuid4().hex[:16],
            "engine": LOCAL,
        }
        with self._lock:
            try:
                with self._tx() as conn:
                    if tick_key is not None and self._tick_exists(conn, tick_key):
                        raise TickFired(tick_key)
                    if resumed_from is not None:  # locked until the commit: a prune cannot delete it
                        hold_resumed(conn, self.runs, resumed_from)
                    if key is not None:
                        # per tenant, like the key: acme's run of a job never blocks globex's
                        same_tenant = (
                            self.runs.c.warehouse.is_(None)
                            if warehouse is None
                            else self.runs.c.warehouse == warehouse
                        )
                        active = conn.execute(
                            select(self.runs.c.id)
                            .where(self.runs.c.job == job, same_tenant, self.runs.c.status.in_(ACTIVE))
                            .order_by(self.runs.c.id)
                            .limit(1)
                        ).scalar()
                        if active is not None:
                            raise AlreadyRunning(job, int(active))
                    run_id = int(conn.execute(insert(self.runs).values(**row)).inserted_primary_key[0])
                    if tick_key is not None:
                        conn.execute(insert(self.ticks).values(key=tick_key, run_id=run_id, created_at=now))
                    return run_id
            except IntegrityError:  # another process took the key or the tick between check and insert
                with self._tx() as conn:
                    if tick_key is not None and self._tick_exists(conn, tick_key):
                        raise TickFired(tick_key) from None
                    holder = conn.execute(
                        select(self.runs.c.id).where(self.runs.c.active_key == key)
                    ).scalar()
                raise AlreadyRunning(job, int(holder or 0)) from None

    def _tick_exists(self, conn: Connection, tick_key: str) -> bool:
        return conn.execute(select(self.ticks.c.key).where(self.ticks.c.key == tick_key)).first() is not None

    def active_run(self, job: str, warehouse: str | None = None) -> int | None:
        """The active (running or queued) run of `job` for `warehouse`, if any: a read, no write unless
        a dead run is swept first — the cheap test of the one-active-run rule before any start work."""
        self.sweep_abandoned()
        runs = self.runs.c
        same_tenant = runs.warehouse.is_(None) if warehouse is None else runs.warehouse == warehouse
        query = (
            select(self.runs.c.id)
            .where(self.runs.c.job == job, same_tenant, self.runs.c.status.in_(ACTIVE))
            .order_by(self.runs.c.id)
            .limit(1)
        )
        with self.engine.connect() as conn:
            found = conn.execute(query).scalar()
        return None if found is None else int(found)

    def active_runs(self) -> list[RunRecord]:
        """Every running or queued run, oldest first (without steps)."""
        query = select(self.runs).where(self.runs.c.status.in_(ACTIVE)).order_by(self.runs.c.id)
        with self.engine.connect() as conn:
            return [_run(row) for row in conn.execute(query).mappings()]

    def mark_queued(self, run_id: int, reason: str) -> None:
        """The run waits before its first step; `reason` (what it waits for) shows as its note."""
        with self._lock, self._tx() as conn:
            conn.execute(
                update(self.runs)
                .where(self.runs.c.id == run_id, self.runs.c.status.in_(ACTIVE))
                .values(status=RunStatus.QUEUED.value, error=_clip(reason), heartbeat_at=self.clock())
            )

    def mark_started(self, run_id: int) -> None:
        """A queued run leaves the queue: running from now (its duration starts here)."""
        now = self.clock()
        with self._lock, self._tx() as conn:
            conn.execute(
                update(self.runs)
                .where(self.runs.c.id == run_id, self.runs.c.status == RunStatus.QUEUED.value)
                .values(status=RunStatus.RUNNING.value, error=None, started_at=now, heartbeat_at=now)
            )

    def heartbeat(self, run_id: int) -> None:
        """Say the run's process is alive."""
        with self._lock, self._tx() as conn:
            conn.execute(update(self.runs).where(self.runs.c.id == run_id).values(heartbeat_at=self.clock()))

    def finish_run(self, run_id: int, status: RunStatus, error: str | None = None) -> None:
        with self._lock, self._tx() as conn:
            conn.execute(
                update(self.runs)
                .where(self.runs.c.id == run_id)
                .values(status=status.value, finished_at=self.clock(), active_key=None, error=_clip(error))
            )

    def record_sla_miss(self, run_id: int) -> bool:
        """Note that the run exceeded its SLA; True the first time (so `sla_missed` fires once)."""
        with self._lock, self._tx() as conn:
            result = conn.execute(
                update(self.runs)
                .where(self.runs.c.id == run_id, self.runs.c.sla_missed_at.is_(None))
                .values(sla_missed_at=self.clock())
            )
            return bool(result.rowcount)

    def sweep_abandoned(self) -> list[int]:
        """Mark running runs whose process is gone (stale heartbeat, or dead pid here) abandoned.

        A detached run (an engine's tasks record it; no process holds it: `records.DETACHED`) has no
        pid to test and may rightly be silent for long — between tasks an engine waits for pools,
        queues and retry delays — so only a silence of `detached_stale_after` abandons it; its engine
        normally ends it itself (`store.external`).
        """
        now = self.clock()
        runs = self.runs.c
        with self._tx() as conn:
            rows = conn.execute(
                select(runs.id, runs.heartbeat_at, runs.host, runs.pid, runs.engine).where(
                    runs.status.in_(ACTIVE)
                )
            ).all()
        dead = [row.id for row in rows if row.pid != DETACHED and self._dead(row, now)]
        silent = [
            (row.id, row.engine)
            for row in rows
            if row.pid == DETACHED and now - row.heartbeat_at > self.detached_stale_after
        ]
        errors = dict.fromkeys(dead, "the run's process stopped sending heartbeats (killed or crashed)")
        for run_id, engine in silent:
            hours = self.detached_stale_after / 3600
            errors[run_id] = f"{engine} reported nothing on the run for {hours:g} h: taken as abandoned"
        if errors:
            with self._lock, self._tx() as conn:
                for run_id, error in errors.items():
                    conn.execute(
                        update(self.runs)
                        .where(runs.id == run_id, runs.status.in_(ACTIVE))
                        .values(
                            status=RunStatus.ABANDONED.value, finished_at=now, active_key=None, error=error
                        )
                    )
        return list(errors)

    def _dead(self, row: Any, now: float) -> bool:
        return now - row.heartbeat_at > self.stale_after or (row.host == self.host and not _alive(row.pid))

    # --- scheduler cursors ------------------------------------------------------------------------

    def get_cursors(self) -> dict[str, float]:
        """Every trigger's cursor (epoch seconds)."""
        with self.engine.connect() as conn:
            return {row.trigger: row.at for row in conn.execute(select(self.cursors))}

    def set_cursor(self, trigger: str, at: float) -> None:
        """Move a trigger's cursor forward to `at` (never back: two schedulers may race)."""
        with self._lock, self._tx() as conn:
            moved = conn.execute(
                update(self.cursors)
                .where(self.cursors.c.trigger == trigger, self.cursors.c.at < at)
                .values(at=at)
            ).rowcount
            if (
                not moved
                and conn.execute(select(self.cursors.c.at).where(self.cursors.c.trigger == trigger)).first()
                is None
            ):
                conn.execute(insert(self.cursors).values(trigger=trigger, at=at))

    def finished_since(self, after: float, limit: int = 500) -> list[RunRecord]:
        """Runs that ended after `after` (epoch seconds), oldest end first: job events fire from these."""
        query = (
            select(self.runs)
            .where(self.runs.c.finished_at > after)
            .order_by(self.runs.c.finished_at, self.runs.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_run(row) for row in conn.execute(query).mappings()]

    # --- webhook deliveries -----------------------------------------------------------------------

    def add_delivery(self, key: str, expires_at: float) -> bool:
        """Remember a webhook delivery until `expires_at`; False when it is already remembered (a replay).

        Atomic across threads and processes (the key is the primary key); an expired entry of the same
        key is replaced, so memory of deliveries stays bounded by the replay window.
        """
        now = self.clock()
        with self._lock:
            try:
                with self._tx() as conn:
                    conn.execute(
                        delete(self.deliveries).where(
                            self.deliveries.c.key == key, self.deliveries.c.expires_at < now
                        )
                    )
                    conn.execute(insert(self.deliveries).values(key=key, expires_at=expires_at))
            except IntegrityError:
                return False
        return True

    def forget_delivery(self, key: str) -> None:
        """Forget one delivery (it was accepted but started nothing, so a redelivery may)."""
        with self._lock, self._tx() as conn:
            conn.execute(delete(self.deliveries).where(self.deliveries.c.key == key))

    def forget_deliveries(self) -> int:
        """Drop expired deliveries (a replay that old fails the timestamp check anyway)."""
        with self._lock, self._tx() as conn:
            query = delete(self.deliveries).where(self.deliveries.c.expires_at < self.clock())
            return int(conn.execute(query).rowcount)

    # --- steps and attempts -----------------------------------------------------------------------

    def add_steps(self, run_id: int, step_ids: Sequence[str], reused: Iterable[str] = ()) -> None:
        """Every step of the plan, pending (or reused from the resumed run), in plan order."""
        again = set(reused)
        rows = [
            {
                "run_id": run_id,
                "step_id": step_id,
                "position": position,
                "status": (StepStatus.REUSED if step_id in again else StepStatus.PENDING).value,
                "attempts": 0,
            }
            for position, step_id in enumerate(step_ids)
        ]
        if rows:
            with self._lock, self._tx() as conn:
                conn.execute(insert(self.steps), rows)

    def attempt_started(self, run_id: int, step_id: str, attempt: int) -> None:
        now = self.clock()
        with self._lock, self._tx() as conn:
            conn.execute(
                insert(self.attempts).values(
                    run_id=run_id, step_id=step_id, attempt=attempt, status="running", started_at=now
                )
            )
            values: dict[str, Any] = {"status": StepStatus.RUNNING.value, "attempts": attempt}
            if attempt == 1:
                values["started_at"] = now
            conn.execute(self._step(run_id, step_id).values(**values))

    def attempt_finished(
        self,
        run_id: int,
        step_id: str,
        attempt: int,
        *,
        error: str | None = None,
        transient: bool | None = None,
        retry_in: float | None = None,
        log: str | None = None,
        rows: dict[str, int] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Close an attempt; the step is finished too unless a retry follows (`retry_in` set).

        `details` (JSON-able: dbt node results, check results) is kept with the step.
        """
        now = self.clock()
        status = StepStatus.SUCCEEDED if error is None else StepStatus.FAILED
        with self._lock, self._tx() as conn:
            conn.execute(
                update(self.attempts)
                .where(
                    self.attempts.c.run_id == run_id,
                    self.attempts.c.step_id == step_id,
                    self.attempts.c.attempt == attempt,
                )
                .values(
                    status=status.value,
                    finished_at=now,
                    error=_clip(error),
                    transient=transient,
                    retry_in=retry_in,
                    **stored(redact(log) if log else None, self.log_max_bytes),
                )
            )
            if retry_in is None:
                counts = {k: v for k, v in (rows or {}).items() if k in _COUNTS}
                extra = {"details": redact(json.dumps(details, default=str))} if details is not None else {}
                conn.execute(
                    self._step(run_id, step_id).values(
                        status=status.value, finished_at=now, error=_clip(error), **counts, **extra
                    )
                )

    def mark_steps(self, run_id: int, step_ids: Iterable[str], status: StepStatus) -> None:
        ids = list(step_ids)
        if ids:
            with self._lock, self._tx() as conn:
                conn.execute(
                    update(self.steps)
                    .where(self.steps.c.run_id == run_id, self.steps.c.step_id.in_(ids))
                    .values(status=status.value)
                )

    def _step(self, run_id: int, step_id: str) -> Any:
        return update(self.steps).where(self.steps.c.run_id == run_id, self.steps.c.step_id == step_id)

    # --- reading ----------------------------------------------------------------------------------

    def list_runs(
        self,
        *,
        job: str | None = None,
        status: str | None = None,
        engine: str | None = None,
        limit: int = 20,
    ) -> list[RunRecord]:
        """The latest runs first (abandoned runs detected first, so none shows as running forever);
        `engine` keeps the runs one engine executed (`local`, `airflow`, `prefect`)."""
        self.sweep_abandoned()
        query = select(self.runs).order_by(self.runs.c.id.desc()).limit(limit)
        if job is not None:
            query = query.where(self.runs.c.job == job)
        if status is not None:
            query = query.where(self.runs.c.status == status)
        if engine == LOCAL:
            query = query.where(self.runs.c.engine.is_(None) | (self.runs.c.engine == LOCAL))
        elif engine is not None:
            query = query.where(self.runs.c.engine == engine)
        with self.engine.connect() as conn:
            return [_run(row) for row in conn.execute(query).mappings()]

    def get_run(self, run_id: int, *, full_logs: bool = False) -> RunRecord:
        """One run with its steps and their attempts; each attempt's log whole when small or when
        `full_logs`, else its last lines (`logs.py`: the compressed logs are not read)."""
        self.sweep_abandoned()
        with self.engine.connect() as conn:
            row = conn.execute(select(self.runs).where(self.runs.c.id == run_id)).mappings().first()
            if row is None:
                raise DatakitError(f"no run {run_id}", hint="`datakit runs` lists the recorded runs")
            steps = conn.execute(
                select(self.steps).where(self.steps.c.run_id == run_id).order_by(self.steps.c.position)
            ).mappings()
            columns = [c for c in self.attempts.c if full_logs or c.name != "log_z"]
            attempts = conn.execute(
                select(*columns)
                .where(self.attempts.c.run_id == run_id)
                .order_by(self.attempts.c.step_id, self.attempts.c.attempt)
            ).mappings()
            by_step: dict[str, list[AttemptRecord]] = {}
            for a in attempts:
                by_step.setdefault(a["step_id"], []).append(attempt_record(a, full=full_logs))
            step_records = tuple(
                StepRecord(
                    **{k: s[k] for k in StepRecord.__dataclass_fields__ if k not in _PARSED},
                    details=json.loads(s["details"]) if s["details"] else None,
                    attempt_records=tuple(by_step.get(s["step_id"], ())),
                )
                for s in steps
            )
        return _run(row, step_records)

    def attempt_log(self, run_id: int, step_id: str, attempt: int) -> str | None:
        """The whole stored log of one attempt (None: no such attempt, or it logged nothing)."""
        a = self.attempts.c
        query = select(a.log, a.log_z).where(a.run_id == run_id, a.step_id == step_id, a.attempt == attempt)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else unpack(row[0], row[1])

    def step_counts(self, run_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
        """(steps succeeded or reused, steps in all) of each run that has steps, in one query: a list
        of runs needs no run's steps and logs."""
        if not run_ids:
            return {}
        ok = func.sum(case((self.steps.c.status.in_(_DONE), 1), else_=0))
        query = (
            select(self.steps.c.run_id, ok, func.count())
            .where(self.steps.c.run_id.in_(list(run_ids)))
            .group_by(self.steps.c.run_id)
        )
        with self.engine.connect() as conn:
            return {int(r[0]): (int(r[1] or 0), int(r[2])) for r in conn.execute(query)}

    def last_tick(self, trigger: str) -> TickRecord | None:
        """The latest recorded firing of `trigger` (a tick that started a run), if any."""
        ticks = self.ticks.c
        query = (
            select(ticks.key, ticks.run_id, ticks.created_at)
            .where(ticks.key.startswith(f"{trigger}@", autoescape=True))
            .order_by(ticks.created_at.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else TickRecord(str(row[0]), int(row[1]), float(row[2]))


_COUNTS = ("rows_read", "rows_loaded", "rows_rejected")
_DONE = (StepStatus.SUCCEEDED.value, StepStatus.REUSED.value)
_PARSED = ("details", "attempt_records")


def _run(row: Any, steps: tuple[StepRecord, ...] = ()) -> RunRecord:
    fields = {k: row[k] for k in RunRecord.__dataclass_fields__ if k != "steps"}
    fields["engine"] = fields["engine"] or LOCAL  # runs recorded before engines were named
    return RunRecord(**fields, steps=steps)


def _clip(text: str | None) -> str | None:
    return None if text is None else redact(text)[:_ERROR_LIMIT]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def open_store(project: Project, *, clock: Clock = time.time, stale_after: float = STALE_AFTER) -> StateStore:
    """The state store `datakit.yaml` configures: `.datakit/state.db` by default, else PostgreSQL."""
    from datakit.config.models.project import SqliteState

    state = project.config.state
    log_max = int(project.config.step_logs.max_bytes)
    if isinstance(state, SqliteState):
        path = project.path(state.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return StateStore(sqlite_url(path), clock=clock, stale_after=stale_after, log_max_bytes=log_max)
    return StateStore(
        _postgres_url(project),
        schema=state.schema_,
        clock=clock,
        stale_after=stale_after,
        log_max_bytes=log_max,
    )


def _postgres_url(project: Project) -> str:
    from datakit.config.models.project import PostgresState
    from datakit.connectors.from_config import postgres_params, project_secrets

    state = project.config.state
    assert isinstance(state, PostgresState)
    params = postgres_params(state.connection, project_secrets(project))
    return params.uri().replace("postgresql://", "postgresql+psycopg://", 1)
