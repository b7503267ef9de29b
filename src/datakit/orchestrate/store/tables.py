"""The run-history tables, in SQLAlchemy Core so one definition serves SQLite and PostgreSQL.

Times are epoch seconds (floats): portable, comparable in SQL for heartbeat checks, and free of the
naive/aware datetime differences between the two engines.

`runs.active_key` is the one-active-run-per-job rule enforced by the database, not by a check-then-act
in Python: an exclusive run holds `<job>@<warehouse>` there, and a UNIQUE constraint (NULLs distinct in
both engines) makes a second concurrent start fail atomically, from any process. Finishing or abandoning
a run clears the key.

Columns added after a store was first created are nullable, and `missing_columns` lets the store add
them to an older database on open (no migration tool needed for additive changes); their indexes are
created then too (`CREATE INDEX IF NOT EXISTS`: SQLite cannot add a UNIQUE column, but it can index one).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)


def build_tables(schema: str | None) -> tuple[MetaData, Table, Table, Table, Table, Table, Table]:
    """`(metadata, runs, steps, attempts, ticks, deliveries, cursors)` in `schema` (None: default);
    the operators' tables (`control_tables`) are in the same `metadata`."""
    metadata = MetaData(schema=schema)
    runs = Table(
        "runs",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("job", String(200), nullable=False),
        Column("warehouse", String(200)),
        Column("status", String(20), nullable=False),
        Column("active_key", String(400), unique=True),
        Column("resumed_from", Integer),
        Column("started_at", Float, nullable=False),
        Column("finished_at", Float),
        Column("heartbeat_at", Float, nullable=False),
        Column("host", String(255), nullable=False),
        Column("pid", Integer, nullable=False),
        Column("error", Text),
        Column("plan", Text, nullable=False),
        Column("sla_missed_at", Float),
        Column("uid", String(32)),  # random: names the run in destinations' load records, with its id
        Column("engine", String(40)),  # NULL: local (runs recorded before engines were named)
        # the run as the engine that executed it knows it: every task of one Airflow DAG run (on any
        # host) finds the same run here, and two racing first tasks create it once (unique index)
        Column("external_id", String(600)),
        Column("external_url", Text),
        # who asked to cancel the run, and when (`by at <epoch>`): its executor, in whichever process,
        # polls this and stops the run's steps; the run is then recorded `cancelled`
        Column("cancel_requested", String(300)),
        Index("runs_by_job", "job", "id"),
        Index("runs_by_status", "status"),
        Index("runs_by_external_id", "external_id", unique=True),
    )
    steps = Table(
        "steps",
        metadata,
        Column("run_id", Integer, ForeignKey(runs.c.id), primary_key=True),
        Column("step_id", String(400), primary_key=True),
        Column("position", Integer, nullable=False),
        Column("status", String(20), nullable=False),
        Column("attempts", Integer, nullable=False, default=0),
        Column("rows_read", Integer),
        Column("rows_loaded", Integer),
        Column("rows_rejected", Integer),
        Column("started_at", Float),
        Column("finished_at", Float),
        Column("error", Text),
        Column("details", Text),  # JSON: dbt node results, check results
    )
    attempts = Table(
        "attempts",
        metadata,
        Column("run_id", Integer, primary_key=True),
        Column("step_id", String(400), primary_key=True),
        Column("attempt", Integer, primary_key=True),
        Column("status", String(20), nullable=False),
        Column("started_at", Float, nullable=False),
        Column("finished_at", Float),
        Column("error", Text),
        Column("transient", Boolean),
        Column("retry_in", Float),
        Column("log", Text),  # the whole log when small, else its last lines (`logs.py`)
        Column("log_z", LargeBinary),  # the whole log, zlib-compressed, when larger
        Column("log_bytes", Integer),
        Column("log_lines", Integer),
        Column("log_omitted", Integer),  # bytes the cap cut out of its middle
    )
    # a trigger firing (`<trigger>@<when>`), recorded in the transaction that creates its run, so that
    # each tick starts at most one run, across processes and restarts
    ticks = Table(
        "ticks",
        metadata,
        Column("key", String(600), primary_key=True),
        Column("run_id", Integer, nullable=False),
        Column("created_at", Float, nullable=False),
    )
    # webhook deliveries already accepted (replay protection across processes and restarts)
    deliveries = Table(
        "deliveries",
        metadata,
        Column("key", String(600), primary_key=True),
        Column("expires_at", Float, nullable=False),
        Index("deliveries_by_expiry", "expires_at"),
    )
    # each trigger's scheduler cursor: the instant up to which its ticks have been handled (a scheduled
    # time, or a finished run's end for job events); it survives restarts, so downtime is caught up
    cursors = Table(
        "cursors",
        metadata,
        Column("trigger", String(200), primary_key=True),
        Column("at", Float, nullable=False),
    )
    control_tables(metadata)
    return metadata, runs, steps, attempts, ticks, deliveries, cursors


def control_tables(metadata: MetaData) -> tuple[Table, Table]:
    """`(audit, paused)`: what operators did (the audit log), and the triggers they paused."""
    audit = Table(
        "audit",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("at", Float, nullable=False),
        Column("actor", String(200), nullable=False),  # `alice` (a login), `cli:bob` (an OS user)
        Column("action", String(50), nullable=False),
        Column("target", String(400), nullable=False),
        Column("outcome", String(20), nullable=False),  # ok, refused
        Column("detail", Text),
        Column("client", String(100)),  # the address a request came from
        Index("audit_by_time", "at"),
    )
    paused = Table(
        "paused_triggers",
        metadata,
        Column("trigger", String(200), primary_key=True),
        Column("paused_at", Float, nullable=False),
        Column("actor", String(200), nullable=False),
    )
    return audit, paused


def missing_columns(metadata: MetaData, existing: dict[str, set[str]]) -> list[tuple[Table, Column[object]]]:
    """Columns of `metadata`'s tables absent from an existing database (`existing`: table -> columns)."""
    return [
        (table, column)
        for table in metadata.tables.values()
        if table.name in existing
        for column in table.columns
        if column.name not in existing[table.name]
    ]
