"""The read-only status pages of `datakit serve`: runs, one run's timeline and DAG, jobs, triggers.

Server-rendered HTML (Jinja2, autoescaped) with inline CSS and inline SVG and no JavaScript: the page
works offline, behind any proxy, and in a terminal browser. Every route is a GET that reads the state
store and the loaded project, so the page cannot change what it shows. Times are shown in UTC (a
trigger's next firing also in its own time zone), computed from the injected `clock`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from datakit.config.models.triggers import (
    CronTrigger,
    EventTrigger,
    FileEvent,
    IntervalTrigger,
    ManualTrigger,
    Trigger,
    WebhookTrigger,
)
from datakit.config.project import Project
from datakit.errors import DatakitError
from datakit.log import redact
from datakit.orchestrate.livelog import live_log_path, read_live_log
from datakit.orchestrate.plan import compile_job
from datakit.orchestrate.store import (
    ACTIVE,
    RunRecord,
    RunStatus,
    StateStore,
    StepRecord,
    StepStatus,
    TickRecord,
)
from datakit.orchestrate.triggers import next_fire_time
from datakit.server.auth import Auth
from datakit.server.dag_svg import render_dag
from datakit.server.render import Clock, Renderer, duration, when

LOG_TAIL_LINES = 40
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
_CELL_CHARS = 200
_TABLE_ROWS = 200
_TABLE_COLUMNS = 10

__all__ = ["duration", "page_routes", "when"]  # the formatting lives in `render`, shared by every page


def page_routes(
    project: Project, store: StateStore, *, clock: Clock = time.time, auth: Auth | None = None
) -> list[BaseRoute]:
    """The status pages as Starlette routes, for `datakit serve` to mount next to its other routes;
    with `auth`, they show the actions (forms) to whoever may act."""
    pages = _Pages(project, store, Renderer(project, auth, clock))
    return [
        Route("/", pages.runs, methods=["GET"], name="status_runs"),
        Route("/runs/{run_id:int}", pages.run, methods=["GET"], name="status_run"),
        Route("/runs/{run_id:int}/live", pages.run_live, methods=["GET"], name="status_run_live"),
        Route("/runs/{run_id:int}/log", pages.log, methods=["GET"], name="status_log"),
        Route("/jobs/{name}", pages.job, methods=["GET"], name="status_job"),
        Route("/triggers", pages.triggers, methods=["GET"], name="status_triggers"),
        Route("/audit", pages.audit, methods=["GET"], name="status_audit"),
        Route("/healthz", pages.healthz, methods=["GET"], name="status_healthz"),
    ]


# --- what the pages show --------------------------------------------------------------------------


@dataclass(frozen=True)
class RunRow:
    """One line of a runs table; `elapsed` runs on with the clock while the run is running."""

    run: RunRecord
    steps_ok: int
    steps_total: int
    elapsed: float | None


@dataclass(frozen=True)
class Segment:
    """One attempt's bar in the timeline, in percent of the run's span."""

    left: float
    width: float
    status: str
    label: str


@dataclass(frozen=True)
class TimelineRow:
    step: StepRecord
    segments: tuple[Segment, ...]


@dataclass(frozen=True)
class Timeline:
    rows: tuple[TimelineRow, ...]
    ticks: tuple[tuple[float, str], ...]
    """(percent, label) marks on the time axis."""


@dataclass(frozen=True)
class Table:
    """A step's structured results (dbt node results, check results) flattened for an HTML table."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    truncated: int = 0
    """Rows left out to keep the page small."""


@dataclass(frozen=True)
class StepPanel:
    step: StepRecord
    log_tail: str | None
    log_lines: int
    tables: tuple[Table, ...]
    log_attempt: int | None = None
    """The attempt whose log is shown (the latest that logged anything)."""
    log_more: bool = False
    """The whole log has more than the tail shown: the page links to it."""
    log_bytes: int | None = None
    log_omitted: int = 0
    """Bytes the size cap cut out of the log (`step_logs.max_bytes`)."""


@dataclass(frozen=True)
class TriggerRow:
    trigger: Trigger
    schedule: str
    next_local: str | None
    next_utc: str | None
    next_in: str | None
    note: str | None
    last_fired: float | None
    last_run: int | None


def plan_graph(plan: Mapping[str, Any]) -> tuple[list[str], list[tuple[str, str]]]:
    """Nodes and (upstream, downstream) edges of a plan dict (`Plan.as_dict()` or a stored plan)."""
    nodes: list[str] = []
    edges: list[tuple[str, str]] = []
    steps = plan.get("steps")
    for step in steps if isinstance(steps, list) else []:
        if not isinstance(step, dict) or not isinstance(step.get("id"), str):
            continue
        nodes.append(step["id"])
        deps = step.get("depends_on")
        edges.extend((str(up), step["id"]) for up in (deps if isinstance(deps, list) else []))
    return nodes, edges


def parse_plan(text: str) -> dict[str, Any]:
    """The stored plan JSON; `{}` when absent or unreadable, so an odd row never breaks the page."""
    try:
        data = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def timeline(run: RunRecord, now: float) -> Timeline:
    """Bars for each step's attempts, placed by start and end relative to the run's start.

    An attempt still open ends at `now` while the run runs, and at the run's end once it has ended
    (an abandoned run's last attempt never closed): a dead run's chart must not stretch to today.
    """
    start = run.started_at
    open_end = now if run.finished_at is None else run.finished_at
    ends = [open_end]
    for step in run.steps:
        ends.extend(a.finished_at or open_end for a in step.attempt_records)
        if step.finished_at is not None:
            ends.append(step.finished_at)
    span = max(max(ends) - start, 1e-6)

    def segment(begin: float, end: float | None, status: str, label: str) -> Segment:
        left = min(max((begin - start) / span * 100, 0.0), 100.0)
        width = min(max(((end or open_end) - begin) / span * 100, 0.4), max(100.0 - left, 0.4))
        return Segment(round(left, 2), round(width, 2), status, label)

    rows = []
    for step in run.steps:
        segments = [
            segment(
                a.started_at,
                a.finished_at,
                a.status,
                f"attempt {a.attempt}: {a.status}, {duration((a.finished_at or open_end) - a.started_at)}",
            )
            for a in step.attempt_records
        ]
        if not segments and step.started_at is not None:
            segments.append(segment(step.started_at, step.finished_at, step.status, step.status))
        rows.append(TimelineRow(step, tuple(segments)))
    ticks = tuple((pct, f"+{duration(span * pct / 100)}") for pct in (0.0, 25.0, 50.0, 75.0, 100.0))
    return Timeline(tuple(rows), ticks)


def details_tables(details: Mapping[str, Any]) -> list[Table]:
    """Lists (or maps) of records become one table each; plain values share a summary table."""
    summary: list[tuple[str, str]] = []
    tables: list[Table] = []
    for key, value in details.items():
        records: list[tuple[str | None, Mapping[str, Any]]] | None = None
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            records = [(None, v) for v in value]
        elif isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            records = [(str(k), v) for k, v in value.items()]
        if records is None:
            summary.append((str(key), _cell(value)))
            continue
        columns: list[str] = [] if records[0][0] is None else ["name"]
        for _, record in records:
            columns.extend(str(k) for k in record if str(k) not in columns)
        columns = columns[:_TABLE_COLUMNS]
        rows = tuple(
            tuple(name if c == "name" and name is not None else _cell(record.get(c)) for c in columns)
            for name, record in records[:_TABLE_ROWS]
        )
        tables.append(Table(str(key), tuple(columns), rows, max(len(records) - _TABLE_ROWS, 0)))
    if summary:
        tables.insert(0, Table("summary", ("key", "value"), tuple(summary)))
    return tables


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (str, int, float, bool)):
        text = str(value)
    elif isinstance(value, list) and all(isinstance(v, (str, int, float, bool)) for v in value):
        text = ", ".join(str(v) for v in value)
    else:
        text = json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= _CELL_CHARS else text[: _CELL_CHARS - 1] + "…"


def step_panel(step: StepRecord, live_log: str | None = None) -> StepPanel:
    """A step's error, the end of its latest log (`live_log`: of the attempt running now) and its
    results, for the run page.

    The store keeps a large log's last lines inline (the page reads no compressed log); the whole log
    is one link away (`/runs/N/log`)."""
    tables = tuple(details_tables(step.details)) if step.details else ()
    if live_log is not None:
        lines = live_log.rstrip("\n").splitlines()
        return StepPanel(step, "\n".join(lines[-LOG_TAIL_LINES:]), len(lines), tables)
    logged = [a for a in step.attempt_records if a.log]
    if not logged:
        return StepPanel(step, None, 0, tables)
    latest = logged[-1]
    assert latest.log is not None
    lines = latest.log.rstrip("\n").splitlines()
    count = latest.log_lines if latest.log_lines is not None else len(lines)
    tail = "\n".join(lines[-LOG_TAIL_LINES:])
    more = not latest.complete or count > LOG_TAIL_LINES
    return StepPanel(step, tail, count, tables, latest.attempt, more, latest.log_bytes, latest.log_omitted)


def describe_schedule(trigger: Trigger) -> str:
    """What fires the trigger, in words, for every trigger type."""
    if isinstance(trigger, CronTrigger):
        spec = trigger.schedule
        catchup = f", catch-up of up to {spec.max_catchup}" if spec.catchup else ""
        return f"cron {spec.cron} ({spec.timezone}{catchup})"
    if isinstance(trigger, IntervalTrigger):
        every = trigger.schedule
        start = f" from {every.start_at.isoformat()}" if every.start_at is not None else ""
        return f"every {duration(every.every.total_seconds())}{start}"
    if isinstance(trigger, ManualTrigger):
        return f"on request: datakit run job {trigger.job}"
    if isinstance(trigger, EventTrigger):
        event = trigger.event
        if isinstance(event, FileEvent):
            settle = f", unchanged for {duration(event.settle.total_seconds())}" if event.settle else ""
            return f"a file matching {event.pattern} arrives in {event.path}{settle}"
        verb = {"job_succeeded": "succeeds", "job_failed": "fails", "job_finished": "finishes"}[event.type]
        return f"when job {event.job} {verb}"
    assert isinstance(trigger, WebhookTrigger)
    return f"a signed POST to /hooks/{trigger.name}"


def trigger_row(
    trigger: Trigger,
    now: datetime,
    last_tick: TickRecord | None,
    cursor: datetime | None = None,
) -> TriggerRow:
    """The trigger's schedule and next firing (its time zone and UTC), and its last firing.

    `cursor` is the scheduler's cursor for the trigger (the store keeps it): it anchors an interval
    grid even before the first run, and moves on ticks that started no run.
    """
    scheduled_at = cursor or (_scheduled_time(trigger.name, last_tick.key) if last_tick else None)
    upcoming = next_fire_time(trigger, now, scheduled_at)
    note = None
    if isinstance(trigger, IntervalTrigger) and trigger.schedule.start_at is None and scheduled_at is None:
        note = "its grid starts when the scheduler first sees it"
    if not trigger.enabled:
        note = "disabled"
    next_local = next_utc = next_in = None
    if upcoming is not None:
        zone = trigger.schedule.timezone if isinstance(trigger, CronTrigger) else "UTC"
        next_local = upcoming.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S %Z (%z)")
        next_utc = upcoming.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        next_in = duration((upcoming - now).total_seconds())
    return TriggerRow(
        trigger=trigger,
        schedule=describe_schedule(trigger),
        next_local=next_local,
        next_utc=next_utc,
        next_in=next_in,
        note=note,
        last_fired=last_tick.created_at if last_tick else None,
        last_run=last_tick.run_id if last_tick else None,
    )


def _scheduled_time(trigger: str, key: str) -> datetime | None:
    """The scheduled time in a cron/interval tick key (`name@2026-03-29T01:00:00Z`); None otherwise."""
    stamp = key[len(trigger) + 1 :]
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:  # run:, file: and delivery: keys carry no schedule
        return None


def not_found_page(
    project: Project, *, clock: Clock = time.time, auth: Auth | None = None
) -> Callable[[Request, Exception], Response]:
    """The site's 404 page for paths no route knows (the app's exception handler)."""
    renderer = Renderer(project, auth, clock)

    def handle(request: Request, _exc: Exception) -> Response:
        return renderer.error(request, 404, "Not found", f"There is no page at {request.url.path}.")

    return handle


# --- routes ---------------------------------------------------------------------------------------


class _Pages:
    """The route handlers; sync on purpose: the store is blocking, Starlette runs them in its threadpool."""

    def __init__(self, project: Project, store: StateStore, renderer: Renderer) -> None:
        self.project = project
        self.store = store
        self.renderer = renderer
        self.clock = renderer.clock

    def _render(
        self, request: Request, template: str, status_code: int = 200, **context: Any
    ) -> HTMLResponse:
        return self.renderer.render(request, template, status_code, **context)

    def _error(self, request: Request, status_code: int, title: str, message: str) -> HTMLResponse:
        return self.renderer.error(request, status_code, title, message)

    def _rows(self, runs: list[RunRecord]) -> list[RunRow]:
        counts = self.store.step_counts([r.id for r in runs])
        now = self.clock()
        rows = []
        for run in runs:
            ok, total = counts.get(run.id, (0, 0))
            elapsed = run.duration if run.finished_at is not None else now - run.started_at
            rows.append(RunRow(run, ok, total, elapsed))
        return rows

    def runs(self, request: Request) -> Response:
        job = request.query_params.get("job") or None
        status = request.query_params.get("status") or None
        statuses = [s.value for s in RunStatus]
        if status is not None and status not in statuses:
            return self._error(
                request, 400, "Bad filter", f"unknown status {status!r}; one of {', '.join(statuses)}"
            )
        try:
            limit = min(max(int(request.query_params.get("limit", DEFAULT_LIMIT)), 1), MAX_LIMIT)
        except ValueError:
            return self._error(request, 400, "Bad filter", "limit must be a whole number")
        engine = request.query_params.get("engine") or None  # local, airflow, prefect
        runs = self.store.list_runs(job=job, status=status, engine=engine, limit=limit)
        jobs = sorted(set(self.project.jobs) | ({job} if job else set()))
        return self._render(
            request,
            "runs.html",
            refresh=True,
            rows=self._rows(runs),
            jobs=jobs,
            statuses=statuses,
            job=job,
            status=status,
            limit=limit,
        )

    def run(self, request: Request) -> Response:
        return self._run_page(request, "run.html")

    def run_live(self, request: Request) -> Response:
        """The changing part of a run's page, which the page's script fetches while the run runs."""
        return self._run_page(request, "_run_live.html")

    def _run_page(self, request: Request, template: str) -> Response:
        run_id: int = request.path_params["run_id"]
        try:
            run = self.store.get_run(run_id)
        except DatakitError as exc:
            return self._error(request, 404, "Run not found", exc.message)
        plan = parse_plan(run.plan)
        nodes, edges = plan_graph(plan)
        planned = set(nodes)
        nodes += [s.step_id for s in run.steps if s.step_id not in planned]  # steps of an older plan
        status = {s.step_id: s.status for s in run.steps}
        now = self.clock()
        return self._render(
            request,
            template,
            refresh=run.status in ACTIVE,
            live=run.status in ACTIVE,
            run=run,
            plan=plan,
            elapsed=run.duration if run.finished_at is not None else now - run.started_at,
            timeline=timeline(run, now),
            dag=Markup(render_dag(nodes, edges, status)) if nodes else None,
            panels=[
                step_panel(s, self._live_log(run, s))
                for s in run.steps
                if s.started_at is not None or s.error or s.details
            ],
            job_known=run.job in self.project.jobs,
        )

    def log(self, request: Request) -> Response:
        """One attempt's whole log, as plain text (`?step=<step id>&attempt=<n>`)."""
        run_id: int = request.path_params["run_id"]
        step = request.query_params.get("step", "")
        try:
            attempt = int(request.query_params.get("attempt", "1"))
        except ValueError:
            return self._error(request, 400, "Bad request", "attempt must be a whole number")
        text = self.store.attempt_log(run_id, step, attempt)
        if text is None:
            message = f"Run {run_id} has no log of step {step!r}, attempt {attempt}."
            return self._error(request, 404, "Log not found", message)
        return PlainTextResponse(redact(text), headers={"Cache-Control": "no-store"})

    def _live_log(self, run: RunRecord, step: StepRecord) -> str | None:
        """The log a running step writes now (on this machine), when there is one."""
        if step.status != StepStatus.RUNNING.value or run.key is None:
            return None
        return read_live_log(live_log_path(self.project.root, run.key, step.step_id))

    def job(self, request: Request) -> Response:
        ref: str = request.path_params["name"]
        try:
            job = self.project.job(ref)  # a NotFoundError with "did you mean" when unknown
        except DatakitError as exc:
            return self._error(request, 404, "Job not found", str(exc))
        name = job.name
        runs = self.store.list_runs(job=name, limit=20)
        plan: dict[str, Any] | None = None
        problem = None
        try:
            plan = compile_job(self.project, name).as_dict()
        except DatakitError as exc:  # e.g. a pipeline whose source is missing: show why, keep the runs
            problem = str(exc)
        dag = None
        latest = None
        if plan is not None and plan["steps"]:
            nodes, edges = plan_graph(plan)
            status: dict[str, str] = {}
            if runs:
                latest = self.store.get_run(runs[0].id)
                status = {s.step_id: s.status for s in latest.steps}
            dag = Markup(render_dag(nodes, edges, status))
        triggers = [
            t for t in self.project.triggers.values() if self.project.resolve_name("job", t.job) == name
        ]
        from datakit.config.tenancy import tenants_running

        return self._render(
            request,
            "job.html",
            refresh=True,
            name=name,
            job=job,
            plan=plan,
            problem=problem,
            dag=dag,
            latest=latest,
            rows=self._rows(runs),
            triggers=[describe_schedule(t) for t in sorted(triggers, key=lambda t: t.name)],
            warehouses=tenants_running(self.project, name),
        )

    def triggers(self, request: Request) -> Response:
        now = datetime.fromtimestamp(self.clock(), UTC)
        cursors = {name: datetime.fromtimestamp(at, UTC) for name, at in self.store.get_cursors().items()}
        from datakit.server.scheduler import tenant_triggers

        firings = tenant_triggers(self.project)  # a tenants' job's trigger fires once per warehouse
        rows = [
            trigger_row(trigger, now, self.store.last_tick(name), cursors.get(name))
            for name, (trigger, _) in sorted(firings.items())
        ]
        paused = self.store.paused_triggers()
        return self._render(request, "triggers.html", refresh=True, rows=rows, paused=paused)

    def audit(self, request: Request) -> Response:
        try:
            before = int(request.query_params["before"]) if "before" in request.query_params else None
        except ValueError:
            return self._error(request, 400, "Bad page", "before must be an entry id")
        entries = self.store.list_audit(limit=DEFAULT_LIMIT + 1, before=before)
        more = entries[DEFAULT_LIMIT].id + 1 if len(entries) > DEFAULT_LIMIT else None
        return self._render(request, "audit.html", entries=entries[:DEFAULT_LIMIT], more=more)

    async def healthz(self, _request: Request) -> Response:  # async: no worker thread for a liveness check
        return PlainTextResponse("ok")
