"""What a finished run left behind, as plain records: tables and rows per layer, checks, step timings.

The summary printed by `datakit demo` and `report.html` show the same facts, so both read them here:
tables from the warehouse itself (opened read-only, counted now), checks and timings from the run's
history in the state store. Nothing is taken from the process that ran the job, so a report can be
written for any recorded run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from datakit.errors import DatakitError

if TYPE_CHECKING:
    from datakit.config.project import Project
    from datakit.connectors import Destination, Session
    from datakit.orchestrate.store import RunRecord, StepRecord

Layer = Literal["source", "bronze", "silver", "gold"]
LAYERS: tuple[Layer, ...] = ("source", "bronze", "silver", "gold")
_SIDE_TABLES = ("__rejected", "__history")
_PREFIXES: tuple[tuple[Layer, str], ...] = (("bronze", "br__"), ("silver", "sv__"), ("gold", "gd__"))


@dataclass(frozen=True)
class TableCount:
    """One warehouse table and its rows now (`rejected`: rows of its `__rejected` table, bronze only)."""

    layer: Layer
    schema: str
    table: str
    rows: int
    rejected: int | None = None

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}"


@dataclass(frozen=True)
class CheckOutcome:
    """One data-quality check as the checks step recorded it."""

    step: str
    table: str
    name: str
    severity: str
    status: str
    failing_rows: int | None
    summary: str

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass(frozen=True)
class StepTiming:
    """One step of the run: when it ran (seconds after the run started), how it ended, rows it loaded."""

    step_id: str
    kind: str
    status: str
    start: float | None
    seconds: float | None
    rows_loaded: int | None
    rows_rejected: int | None
    error: str | None


def layer_of(schema: str) -> Layer | None:
    """The layer of a warehouse schema: `br__*` bronze, `silver`/`sv__*` silver, `gold`/`gd__*` gold."""
    name = schema.lower()
    for layer, prefix in _PREFIXES:
        # a tenant's schemas carry its prefix first: acme_br__pagila__public, acme_silver
        if name.startswith(prefix) or f"_{prefix}" in name or name.endswith(layer):
            return layer
    return None


def warehouse(project: Project) -> Destination:
    """The destination the demo's job loads (the demo project has exactly one)."""
    from datakit.connectors.from_config import open_destination_named

    names = sorted(project.destinations)
    if len(names) != 1:
        raise DatakitError(f"the report reads one warehouse, and the project has {len(names)} destinations")
    return open_destination_named(project, names[0])


def table_counts(destination: Destination) -> list[TableCount]:
    """Every bronze, silver and gold table of the warehouse with its row count, by layer then name.

    Read in the destination's read-only session; a warehouse nothing has written yet (no file) has none.
    """
    from datakit.connectors import ConnectionLost, ConnectorError

    try:
        with destination.session() as session:
            names = {(str(t.schema), t.name) for t in session.tables()}
            counts: list[TableCount] = []
            for schema, table in sorted(names):
                layer = layer_of(schema)
                if layer is None or table.endswith(_SIDE_TABLES):
                    continue
                rejected_table = (schema, f"{table}__rejected")
                rejected = _count(session, destination, *rejected_table) if rejected_table in names else None
                rows = _count(session, destination, schema, table)
                counts.append(TableCount(layer, schema, table, rows, rejected))
    except ConnectionLost:
        raise
    except ConnectorError:
        return []
    return sorted(counts, key=lambda c: (LAYERS.index(c.layer), c.schema, c.table))


def _count(session: Session, destination: Destination, schema: str, table: str) -> int:
    _, rows = session.query(f"SELECT count(*) FROM {destination.engine.quote(schema, table)}")
    return int(rows[0][0]) if rows else 0


def plan_steps(run: RunRecord) -> dict[str, dict[str, Any]]:
    """The run's plan as recorded (step id -> kind, params, depends_on), for kinds and lineage."""
    import json

    try:
        plan = json.loads(run.plan)
    except ValueError:
        return {}
    return {str(s["id"]): s for s in plan.get("steps", []) if isinstance(s, dict) and "id" in s}


def step_timings(run: RunRecord) -> list[StepTiming]:
    """Each step of the run in plan order, with its start relative to the run's."""
    kinds = {step_id: str(s.get("kind", "")) for step_id, s in plan_steps(run).items()}
    return [
        StepTiming(
            step_id=s.step_id,
            kind=kinds.get(s.step_id, _kind_from_details(s)),
            status=s.status,
            start=None if s.started_at is None else s.started_at - run.started_at,
            seconds=s.duration,
            rows_loaded=s.rows_loaded,
            rows_rejected=s.rows_rejected,
            error=s.error,
        )
        for s in run.steps
    ]


def _kind_from_details(step: StepRecord) -> str:
    return str((step.details or {}).get("kind", ""))


def check_outcomes(run: RunRecord) -> list[CheckOutcome]:
    """The checks of every checks step of the run, from the results kept in run history."""
    outcomes: list[CheckOutcome] = []
    for step in run.steps:
        outcomes.extend(_checks_of(step.step_id, step.details))
    return outcomes


def _checks_of(step_id: str, details: dict[str, Any] | None) -> Iterable[CheckOutcome]:
    if not details or not isinstance(details.get("checks"), list):
        return []
    outcomes = []
    for check in details["checks"]:
        if not isinstance(check, dict):
            continue
        rows = check.get("failing_rows")
        outcomes.append(
            CheckOutcome(
                step=step_id,
                table=str(check.get("table", "")),
                name=str(check.get("name") or check.get("check") or ""),
                severity=str(check.get("severity", "error")),
                status=str(check.get("status", "")),
                failing_rows=rows if isinstance(rows, int) else None,
                summary=str(check.get("summary") or ""),
            )
        )
    return outcomes
