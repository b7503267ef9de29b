"""Retention: the run history stays as small as the project says, in `datakit serve` and by hand.

`prune` applies a project's policy (`retention:` in datakit.yaml, a job's own `retention:`) to its state
store: old runs go with their steps, attempts and logs (`store.prune` says which runs the history still
needs), and what only served to fire something once is forgotten when it can no longer be replayed:

- a scheduled tick (`nightly@2026-03-29T01:00:00Z`) once its trigger's cursor has passed its time: the
  scheduler only ever computes ticks after the cursor;
- a job-event tick (`after_load@run:12`) once the upstream run is gone or ended before the cursor;
- a file tick (`drops@file:inbox/a.csv:<size>:<mtime>`) once that file is no longer there unchanged
  (every present file is offered again on each poll and after a restart);
- a webhook tick (`hook@delivery:<id>`) once a redelivery of that id would be accepted anyway (the
  delivery ids are kept `REMEMBER_IDS`), and delivery ids past their expiry;
- a running step's live log (`livelog`) that a killed process left behind, once no active run writes
  it and it has not changed for an hour;
- an entry of the audit log (who did what on the status pages and from the CLI) older than
  `retention.audit_max_age` (a year by default; its own limit, since it is asked about long after).

The latest tick of each trigger is always kept (the triggers page shows it as the last firing). After
removing anything, the store compacts itself (SQLite: incremental vacuum and a WAL checkpoint).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from datakit.log import get_logger
from datakit.orchestrate.livelog import remove_live_logs, stale_live_logs
from datakit.orchestrate.store import TickRecord
from datakit.orchestrate.store.prune import (
    ExpiredRun,
    Limits,
    Policy,
    RemovedCounts,
    all_ticks,
    count_expired_deliveries,
    count_old_audit,
    count_removed,
    delete_runs,
    existing_runs,
    expired_runs,
    forget_audit,
    forget_ticks,
    run_ends,
)
from datakit.orchestrate.webhooks import REMEMBER_IDS, TOLERANCE

if TYPE_CHECKING:
    from datakit.config.models.retention import Retention
    from datakit.config.project import Project
    from datakit.orchestrate.store import StateStore

log = get_logger(__name__)

DELIVERY_WINDOW = (REMEMBER_IDS + TOLERANCE).total_seconds()
"""Seconds during which a webhook delivery id may come again and must not start a second run."""

FileState = Callable[[str], tuple[int, int] | None]
"""(size, mtime in ns) of a file given relative to the project root; None when there is none."""


@dataclass(frozen=True)
class PruneReport:
    """What a prune removed (or, with `dry_run`, would remove)."""

    dry_run: bool
    runs: tuple[ExpiredRun, ...]
    removed: RemovedCounts
    ticks: int
    deliveries: int
    size_before: int | None
    size_after: int | None
    live_logs: int = 0
    """Live-log folders of runs that ended without removing theirs (a killed process)."""
    audit: int = 0
    """Audit log entries older than the policy's `audit_max_age`."""
    audit_max_age: float | None = None

    @property
    def nothing(self) -> bool:
        return not (self.removed.runs or self.ticks or self.deliveries or self.live_logs or self.audit)


def project_policy(project: Project) -> Policy:
    """The policy `datakit.yaml` declares, with each job's own `retention:` applied over it."""
    default = _limits(project.config.retention)
    jobs = {}
    for name, job in project.jobs.items():
        if job.retention is not None:
            override = job.retention
            given = override.model_fields_set
            jobs[name] = Limits(
                max_age=_seconds(override.max_age) if "max_age" in given else default.max_age,
                max_runs=override.max_runs if "max_runs" in given else default.max_runs,
            )
    return Policy(default, jobs, audit_max_age=_seconds(project.config.retention.audit_max_age))


def given_policy(
    older_than: timedelta | None, keep: int | None, audit_max_age: float | None = None
) -> Policy:
    """The policy of `datakit runs prune --older-than/--keep`: exactly those limits, for every job
    (the audit log's limit is its own: `--older-than` is about runs)."""
    return Policy(Limits(_seconds(older_than), keep), audit_max_age=audit_max_age)


def _limits(retention: Retention) -> Limits:
    return Limits(_seconds(retention.max_age), retention.max_runs)


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def prune(
    store: StateStore,
    policy: Policy,
    *,
    root: Path | None = None,
    jobs: Iterable[str] | None = None,
    dry_run: bool = False,
    now: float | None = None,
) -> PruneReport:
    """Apply `policy` to `store` (only to the runs of `jobs`, when given).

    `root` is the project's folder, against which file ticks are checked; without it they are kept.
    """
    now = store.clock() if now is None else now
    size_before = store.size_bytes()
    expired = expired_runs(store, policy, now)
    if jobs is not None:
        wanted = set(jobs)
        expired = [run for run in expired if run.job in wanted]
    ids = [run.id for run in expired]
    files = _file_state(root) if root is not None else None
    live = _stale_live_logs(store, root, now)
    audit_age = policy.audit_max_age
    audit_before = None if audit_age is None else now - audit_age
    if dry_run:
        return PruneReport(
            True,
            tuple(expired),
            count_removed(store, ids),
            len(stale_ticks(store, now, files, gone=set(ids))),
            count_expired_deliveries(store, now),
            size_before,
            size_before,
            len(live),
            0 if audit_before is None else count_old_audit(store, audit_before),
            audit_age,
        )
    for folder in live:
        remove_live_logs(folder)
    removed = delete_runs(store, ids)
    ticks = forget_ticks(store, stale_ticks(store, now, files))
    deliveries = store.forget_deliveries()
    audit = 0 if audit_before is None else forget_audit(store, audit_before)
    if removed.runs or ticks or deliveries or audit:
        store.compact()
    skipped = existing_runs(store, ids)  # became needed while the prune ran (a resume started)
    gone = tuple(run for run in expired if run.id not in skipped)
    return PruneReport(
        False, gone, removed, ticks, deliveries, size_before, store.size_bytes(), len(live), audit, audit_age
    )


def _stale_live_logs(store: StateStore, root: Path | None, now: float) -> list[Path]:
    """Live-log folders (`livelog`) that no active run writes and nothing touched for an hour."""
    if root is None:
        return []
    active = {run.key for run in store.active_runs() if run.key is not None}
    return stale_live_logs(root, active, now)


def stale_ticks(
    store: StateStore, now: float, file_state: FileState | None, *, gone: Collection[int] = ()
) -> list[str]:
    """The keys of recorded ticks that can no longer be replayed (the newest of each trigger aside);
    the runs of `gone` count as removed already (a dry run's answer)."""
    ticks = all_ticks(store)
    newest: dict[str, str] = {}
    for tick in ticks:  # oldest first: the last one seen per trigger is its newest
        newest[tick.key.split("@", 1)[0]] = tick.key
    cursors = store.get_cursors()
    upstream = {run: end for run, end in _run_ends(store, ticks).items() if run not in gone}
    keep = set(newest.values())
    return [
        tick.key
        for tick in ticks
        if tick.key not in keep and not _replayable(tick, cursors, upstream, file_state, now)
    ]


def _replayable(
    tick: TickRecord,
    cursors: dict[str, float],
    upstream: dict[int, float | None],
    file_state: FileState | None,
    now: float,
) -> bool:
    trigger, _, what = tick.key.partition("@")
    cursor = cursors.get(trigger)
    if what.startswith("run:"):
        run_id = _int(what[4:])
        if run_id is None or run_id not in upstream:
            return run_id is None  # an upstream run that is gone cannot fire anything again
        ended = upstream[run_id]
        return ended is None or cursor is None or ended > cursor
    if what.startswith("file:"):
        path, size, mtime_ns = _file_stamp(what[5:])
        if file_state is None or path is None:
            return True
        return file_state(path) == (size, mtime_ns)
    if what.startswith("delivery:"):
        return tick.created_at > now - DELIVERY_WINDOW
    scheduled = _instant(what)
    if scheduled is None:  # a key of a kind this version does not know: keep it
        return True
    return cursor is None or scheduled > cursor


def _run_ends(store: StateStore, ticks: list[TickRecord]) -> dict[int, float | None]:
    """The end (None: still going) of each run that a job-event tick names, for the runs still recorded."""
    ids = set()
    for tick in ticks:
        _, _, what = tick.key.partition("@")
        if what.startswith("run:") and (run_id := _int(what[4:])) is not None:
            ids.add(run_id)
    return run_ends(store, sorted(ids))


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def _file_stamp(text: str) -> tuple[str | None, int, int]:
    """`<path>:<size>:<mtime_ns>` -> its parts (the path may hold colons; size and time do not)."""
    path, _, rest = text.rpartition(":")
    path, _, size = path.rpartition(":")
    if not path or not size.isdigit() or not rest.isdigit():
        return None, 0, 0
    return path, int(size), int(rest)


def _instant(text: str) -> float | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC).timestamp() if moment.tzinfo is not None else None


def _file_state(root: Path) -> FileState:
    def state(path: str) -> tuple[int, int] | None:
        try:
            info = (root / path).stat()
        except OSError:
            return None
        return info.st_size, info.st_mtime_ns

    return state


def prune_project(
    project: Project, store: StateStore, *, policy: Policy | None = None, dry_run: bool = False
) -> PruneReport:
    """`prune` with the project's declared policy (or `policy`), checking file ticks under its root."""
    return prune(store, policy or project_policy(project), root=project.root, dry_run=dry_run)


class RetentionSweeper:
    """`datakit serve`'s retention: `due()` every loop, a prune every `prune_every`; never raises."""

    def __init__(self, project: Project, store: StateStore, clock: Callable[[], float] = time.monotonic):
        self.project = project
        self.store = store
        self.clock = clock
        settings = project.config.retention
        self.every = settings.prune_every.total_seconds()
        self.enabled = settings.enabled
        self.policy = project_policy(project)
        self._next = clock()  # at start-up: a store that grew while the daemon was down shrinks first

    def due(self) -> PruneReport | None:
        """Prune if it is time; the report (None when not due or when the prune failed)."""
        if not self.enabled or self.clock() < self._next:
            return None
        self._next = self.clock() + self.every
        try:
            report = prune_project(self.project, self.store, policy=self.policy)
        except Exception as exc:  # the daemon outlives a busy or unreachable store: next time, again
            log.warning("retention: pruning the run history failed: %s", exc)
            return None
        if not report.nothing:
            log.info("retention: %s", summary(report))
        return report


def summary(report: PruneReport) -> str:
    """One line: what went (or would go), and the store's size before and after."""
    verb = "would remove" if report.dry_run else "removed"
    removed = report.removed
    parts = [
        f"{verb} {removed.runs} run(s) ({removed.steps} steps, {removed.attempts} attempts, "
        f"{_size(removed.log_bytes)} of logs)",
        f"{report.ticks} tick(s)",
        f"{report.deliveries} webhook delivery id(s)",
    ]
    if report.live_logs:
        parts.append(f"{report.live_logs} leftover live log folder(s)")
    if report.audit_max_age is not None:
        entries = "entry" if report.audit == 1 else "entries"
        parts.append(f"{report.audit} audit log {entries} older than {_age(report.audit_max_age)}")
    text = ", ".join(parts)
    if report.size_before is not None and report.size_after is not None and not report.dry_run:
        text += f"; store {_size(report.size_before)} -> {_size(report.size_after)}"
    return text


def _age(seconds: float) -> str:
    """`365d`, `12h`, `90m`, `45s`: the largest whole unit, as durations are written in datakit.yaml."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:g}s"


def _size(count: int) -> str:
    size = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"
