"""What operators do to runs and triggers, kept in the state store: cancel requests, paused triggers and
the audit log of who did what, when.

In the store, not in a daemon's memory, because every process must honour them: a run started by
`datakit run job` in a terminal is cancelled from `datakit serve`'s page (its executor polls the request),
a trigger paused on one daemon stays paused after a restart, and the audit log outlives both.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from datakit.log import redact
from datakit.orchestrate.store.records import ACTIVE

if TYPE_CHECKING:
    from sqlalchemy import MetaData, Table
    from sqlalchemy.engine import Engine

_TEXT_LIMIT = 2000


@dataclass(frozen=True)
class AuditRecord:
    """One thing an operator did (or tried: `outcome` is `refused` with the reason in `detail`)."""

    id: int
    at: float
    actor: str
    action: str
    target: str
    outcome: str
    detail: str | None
    client: str | None


@dataclass(frozen=True)
class PausedTrigger:
    trigger: str
    paused_at: float
    actor: str


class Controls:
    """The operators' part of `StateStore` (a base class of it: the same engine, lock and clock)."""

    engine: Engine
    clock: Callable[[], float]
    runs: Table
    _lock: threading.Lock

    def _control_tables(self, metadata: MetaData) -> None:
        by_name = {table.name: table for table in metadata.tables.values()}
        self.audit, self.paused = by_name["audit"], by_name["paused_triggers"]

    def _tx(self) -> Any:
        return self.engine.begin()

    # --- cancelling -------------------------------------------------------------------------------

    def request_cancel(self, run_id: int, actor: str) -> bool:
        """Ask the run's executor to cancel it; False when the run is not active (nothing to cancel).

        The first request stands: a second one changes nothing and is still True (the run is being
        cancelled).
        """
        request = f"{actor} at {self.clock():.3f}"
        with self._lock, self._tx() as conn:
            runs = self.runs.c
            active = conn.execute(select(runs.id).where(runs.id == run_id, runs.status.in_(ACTIVE))).first()
            if active is None:
                return False
            conn.execute(
                update(self.runs)
                .where(runs.id == run_id, runs.cancel_requested.is_(None))
                .values(cancel_requested=request[:300])
            )
        return True

    def cancel_requested(self, run_id: int) -> str | None:
        """Who asked to cancel the run (`alice at <epoch>`), or None."""
        with self.engine.connect() as conn:
            found = conn.execute(
                select(self.runs.c.cancel_requested).where(self.runs.c.id == run_id)
            ).scalar()
        return None if found is None else str(found)

    # --- paused triggers --------------------------------------------------------------------------

    def pause_trigger(self, trigger: str, actor: str) -> bool:
        """Pause `trigger` (its firing name); False when it already was."""
        try:
            with self._lock, self._tx() as conn:
                conn.execute(insert(self.paused).values(trigger=trigger, paused_at=self.clock(), actor=actor))
        except IntegrityError:
            return False
        return True

    def unpause_trigger(self, trigger: str) -> bool:
        """Unpause `trigger`; False when it was not paused."""
        with self._lock, self._tx() as conn:
            return bool(conn.execute(delete(self.paused).where(self.paused.c.trigger == trigger)).rowcount)

    def paused_triggers(self) -> dict[str, PausedTrigger]:
        """Every paused trigger, by name."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(self.paused)).all()
        return {row.trigger: PausedTrigger(row.trigger, row.paused_at, row.actor) for row in rows}

    # --- the audit log ----------------------------------------------------------------------------

    def record_audit(
        self,
        actor: str,
        action: str,
        target: str,
        *,
        outcome: str = "ok",
        detail: str | None = None,
        client: str | None = None,
    ) -> int:
        """Append one entry to the audit log (masked like every text the store keeps); its id."""
        values = {
            "at": self.clock(),
            "actor": redact(actor)[:200],
            "action": action[:50],
            "target": redact(target)[:400],
            "outcome": outcome[:20],
            "detail": None if detail is None else redact(detail)[:_TEXT_LIMIT],
            "client": None if client is None else client[:100],
        }
        with self._lock, self._tx() as conn:
            return int(conn.execute(insert(self.audit).values(**values)).inserted_primary_key[0])

    def list_audit(self, *, limit: int = 100, before: int | None = None) -> list[AuditRecord]:
        """The latest audit entries first; `before` (an id) pages back."""
        query = select(self.audit).order_by(self.audit.c.id.desc()).limit(limit)
        if before is not None:
            query = query.where(self.audit.c.id < before)
        with self.engine.connect() as conn:
            return [
                AuditRecord(**{k: row[k] for k in AuditRecord.__dataclass_fields__})
                for row in conn.execute(query).mappings()
            ]
