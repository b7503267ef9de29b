"""A resume and a prune of the same run cannot interleave badly, on SQLite and on PostgreSQL.

Two stores on one database play two processes (`datakit serve` pruning, `datakit run job --resume` in a
terminal). Each test holds one side inside its transaction (an SQLAlchemy hook on the statement where
it must not be overtaken), starts the other, waits until that one is blocked at the database's lock (or,
without the locks, has already finished: the test then fails on what it did), releases the first, and
looks at what both left behind:

- the resume is being recorded when the prune comes: the resumed run and the run it resumes in turn
  stay, the resume's chain is whole;
- the prune is deleting when the resume comes: the resume stops with ResumedRunGone, recording nothing.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from datakit.orchestrate.executor import run_keys
from datakit.orchestrate.retention import PruneReport, prune
from datakit.orchestrate.store import ResumedRunGone, RunStatus, StateStore
from datakit.orchestrate.store.prune import Limits, Policy
from datakit.orchestrate.store.sql import sqlite_url
from tests.orchestrate.conftest import FakeClock
from tests.orchestrate.test_retention import record_run, run_ids
from tests.waits import GUARD, wait_until

DAY = 86400.0
KEEP_NEWEST = Policy(Limits(max_age=30 * DAY))
"""The failed runs of `history` are due to go, the newest run is not (nor a resume starting now)."""
_INSERT_RUN = re.compile(r"^\s*INSERT INTO \S*\bruns\b", re.IGNORECASE)


@dataclass
class Side:
    """One of the two stores, with a hook that holds its thread at a chosen statement."""

    store: StateStore
    name: str
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    at_begin: threading.Event = field(default_factory=threading.Event)
    armed: bool = False

    def hold_after(self, matches: Callable[[str], bool]) -> None:
        """Once armed, the first statement matching `matches` runs, then its thread waits for `release`
        (its transaction open, its locks held)."""

        def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if self.armed and not self.held.is_set() and matches(statement):
                self.held.set()
                assert self.release.wait(GUARD), f"{self.name} was never released"

        event.listen(self.store.engine, "after_cursor_execute", after)

    def hold_before(self, matches: Callable[[str], bool]) -> None:
        """As `hold_after`, before the statement runs (what the transaction did so far is held)."""

        def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if self.armed and not self.held.is_set() and matches(statement):
                self.held.set()
                assert self.release.wait(GUARD), f"{self.name} was never released"

        event.listen(self.store.engine, "before_cursor_execute", before)

    def note_begins(self) -> None:
        """`at_begin` is set when this side opens a transaction once armed (SQLite: where it queues)."""

        def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if self.armed and statement.strip().upper().startswith("BEGIN"):
                self.at_begin.set()

        event.listen(self.store.engine, "before_cursor_execute", before)


@dataclass
class Pair:
    """The pruning side and the resuming side, on one database."""

    kind: str
    pruner: Side
    resumer: Side
    blocked: Callable[[Side], bool]
    """Whether the side waits at the database's lock now."""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def pair(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[Pair]:
    if request.param == "sqlite":
        url = sqlite_url(tmp_path / "state.db")
        pruner = Side(StateStore(url, clock=clock, stale_after=60), "the prune")
        resumer = Side(StateStore(url, clock=clock, stale_after=60), "the resume")
        for side in (pruner, resumer):
            side.note_begins()
        # SQLite queues a transaction at its BEGIN IMMEDIATE: once there, it waits for the other's commit
        yield Pair("sqlite", pruner, resumer, lambda side: side.at_begin.is_set())
        pruner.store.close()
        resumer.store.close()
        return
    from sqlalchemy import create_engine

    dsn: str = request.getfixturevalue("pg_dsn")
    schema = f"state_{uuid.uuid4().hex[:10]}"
    names = {role: f"dk_{role}_{uuid.uuid4().hex[:8]}" for role in ("prune", "resume")}
    base = dsn.replace("postgresql://", "postgresql+psycopg://", 1)
    joiner = "&" if "?" in base else "?"

    def store(role: str) -> StateStore:
        url = f"{base}{joiner}application_name={names[role]}"
        return StateStore(url, schema=schema, clock=clock, stale_after=60)

    pruner, resumer = Side(store("prune"), "the prune"), Side(store("resume"), "the resume")
    watcher = create_engine(base)

    def waiting_on_a_lock(side: Side) -> bool:
        name = names["prune" if side is pruner else "resume"]
        query = text(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = :name "
            "AND wait_event_type = 'Lock'"
        )
        with watcher.connect() as conn:
            return bool(conn.execute(query, {"name": name}).scalar())

    yield Pair("postgres", pruner, resumer, waiting_on_a_lock)
    with pruner.store.engine.begin() as conn:
        conn.execute(text(f'drop schema "{schema}" cascade'))
    for side in (pruner, resumer):
        side.store.close()
    watcher.dispose()


@dataclass
class Outcome:
    """What a side's thread returned or raised."""

    done: threading.Event = field(default_factory=threading.Event)
    value: Any = None
    error: BaseException | None = None


def in_thread(action: Callable[[], Any], name: str) -> tuple[threading.Thread, Outcome]:
    outcome = Outcome()

    def target() -> None:
        try:
            outcome.value = action()
        except BaseException as exc:  # handed to the test
            outcome.error = exc
        finally:
            outcome.done.set()

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread, outcome


def history(pair: Pair, clock: FakeClock) -> tuple[int, int, int]:
    """`(first, second, newest)`: two failed runs, the second resuming the first, then, 40 days later, a
    newer run of the job: both failed ones are due to go (`KEEP_NEWEST`)."""
    store = pair.pruner.store
    first = record_run(store, clock, status=RunStatus.FAILED)
    second = record_run(store, clock, status=RunStatus.FAILED, resumed_from=first)
    clock.advance(40 * DAY)
    newest = record_run(store, clock)
    return first, second, newest


def test_a_resume_being_recorded_keeps_its_run_and_that_run_s_chain(pair: Pair, clock: FakeClock) -> None:
    first, second, newest = history(pair, clock)
    resumer, pruner = pair.resumer, pair.pruner
    resumer.hold_after(lambda statement: bool(_INSERT_RUN.match(statement)))
    resumer.armed = pruner.armed = True

    resuming, resumed = in_thread(
        lambda: resumer.store.start_run("daily", "{}", resumed_from=second, allow_concurrent=True), "resume"
    )
    assert resumer.held.wait(GUARD), "the resume never recorded its run"
    pruning, pruned = in_thread(lambda: prune(pruner.store, KEEP_NEWEST), "prune")
    wait_until(lambda: pruned.done.is_set() or pair.blocked(pruner), "the prune to wait for the resume")
    resumer.release.set()
    resuming.join(GUARD)
    pruning.join(GUARD)

    assert resumed.error is None and pruned.error is None, (resumed.error, pruned.error)
    run_id: int = resumed.value
    report: PruneReport = pruned.value
    assert first not in {run.id for run in report.runs} and second not in {run.id for run in report.runs}
    store = pruner.store
    assert run_ids(store) == [first, second, newest, run_id]
    assert store.get_run(run_id).resumed_from == second
    assert [step.status for step in store.get_run(second).steps] == ["succeeded", "succeeded"]
    chain = run_keys(store, run_id)  # every run of the chain answers (exactly-once asks each of them)
    assert len(chain) == 3 and chain[1] == store.get_run(second).key


def test_a_prune_deleting_the_run_stops_its_resume_which_records_nothing(
    pair: Pair, clock: FakeClock
) -> None:
    first, second, newest = history(pair, clock)
    resumer, pruner = pair.resumer, pair.pruner
    pruner.hold_before(lambda statement: statement.lstrip().upper().startswith("DELETE FROM"))
    resumer.armed = pruner.armed = True

    pruning, pruned = in_thread(lambda: prune(pruner.store, KEEP_NEWEST), "prune")
    assert pruner.held.wait(GUARD), "the prune never came to deleting"
    resuming, resumed = in_thread(
        lambda: resumer.store.start_run("daily", "{}", resumed_from=second, allow_concurrent=True), "resume"
    )
    wait_until(lambda: resumed.done.is_set() or pair.blocked(resumer), "the resume to wait for the prune")
    pruner.release.set()
    pruning.join(GUARD)
    resuming.join(GUARD)

    assert pruned.error is None, pruned.error
    assert isinstance(resumed.error, ResumedRunGone), resumed.value
    assert resumed.error.run_id == second
    assert "no longer in the run history" in resumed.error.message
    assert {run.id for run in pruned.value.runs} == {first, second}
    assert run_ids(pruner.store) == [newest]  # the resume recorded no run pointing at nothing


def test_a_resume_of_a_run_pruned_before_it_is_refused_before_anything_is_recorded(
    pair: Pair, clock: FakeClock
) -> None:
    _, second, newest = history(pair, clock)
    prune(pair.pruner.store, KEEP_NEWEST)

    with pytest.raises(ResumedRunGone, match=f"run {second} is no longer in the run history"):
        pair.resumer.store.start_run("daily", "{}", resumed_from=second)

    assert run_ids(pair.resumer.store) == [newest]
    assert pair.resumer.store.active_run("daily") is None  # no run holds the job's slot
