"""Backfills: re-read incremental resources over a bounded window, in chunks, as an ordinary plan.

    plan = compile_backfill(project, "pipeline", "pagila_bronze", "2022-02-01", "2022-03-01", "1d",
                            resources=["rental"])

Each incremental resource becomes one load step per chunk (`<pipeline>.<resource>.<chunk start>`, e.g.
`pagila_bronze.rental.20220201`) that re-reads the rows with `start <= cursor < end` (`LoadParams.window`):
one destination transaction and one load record each, recorded as a step of the backfill's run. So a
backfill is resumable like any run (`--resume`): chunks that committed are not loaded again — the
destination knows, even when the run was killed between a chunk's commit and its record in run history
(DESIGN.md 3.9). A chunk never moves the resource's saved cursor (neither back, nor forward past
rows a killed backfill has not re-read yet); merges dedupe re-read rows by key, appends by record hash.

A backfill of a *job* re-reads the job's incremental loads (those of `--select`, if given), then runs
what is downstream of them in the job (dbt nodes, check suites: `datakit.orchestrate.selection`), after
every chunk: dbt gets the window as vars `datakit_start` and `datakit_end` (ISO text), which incremental
models use to rebuild that window. A load without an incremental cursor, or whose source cannot filter
by one (files are read whole), is skipped and said so; asked for by name, it is an error.

Chunks of one resource touch disjoint rows, so they may run at once (`max_parallelism`); chunks writing
one DuckDB file still run one at a time (the plan's `exclusive` keys). A failed chunk does not stop the
others (`continue_on_failure`): a resume then has less to do.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from datakit.errors import UsageError, did_you_mean
from datakit.orchestrate.plan import (
    Backfill,
    Plan,
    _exclusive,
    _resource_names,
    _step_id,
    backfill_job,
    compile_job,
)
from datakit.orchestrate.stepkinds import ChunkWindow, DbtStep, LoadParams, LoadStep, Step

if TYPE_CHECKING:
    from datakit.config.project import Project

Kind = Literal["pipeline", "job"]
Bound = datetime | int
MAX_CHUNKS = 10_000
DEFAULT_CHUNK = "1d"


def compile_backfill(
    project: Project,
    kind: Kind,
    name: str,
    start: str,
    end: str,
    chunk: str | None = None,
    *,
    warehouse: str | None = None,
    resources: Sequence[str] = (),
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    max_parallelism: int = 1,
) -> Plan:
    """The plan of a backfill of pipeline or job `name` over [`start`, `end`) in chunks of `chunk`
    (see the module docstring); a UsageError naming the problem when there is nothing to backfill."""
    if max_parallelism < 1:
        raise UsageError(f"--max-parallelism must be at least 1, not {max_parallelism}")
    lower, upper = parse_bound(start, "--start"), parse_bound(end, "--end")
    step = parse_chunk(chunk, lower)
    windows = chunk_windows(lower, upper, step)
    if kind == "pipeline":
        plan, resolved, skipped = _pipeline_plan(project, name, windows, warehouse, resources)
    else:
        if resources:
            raise UsageError("--resource narrows a pipeline's backfill; for a job, use --select")
        plan, resolved, skipped = _job_plan(project, name, windows, warehouse, select, exclude)
    record = Backfill(
        kind=kind,
        name=resolved,
        start=_text(lower),
        end=_text(upper),
        chunk=chunk or DEFAULT_CHUNK,
        chunks=len(windows),
        skipped=skipped,
    )
    return dataclasses.replace(plan, max_parallelism=max_parallelism, backfill=record)


# -- bounds and chunks ---------------------------------------------------------------------------------


def parse_bound(text: str, option: str) -> Bound:
    """`--start`/`--end`: a number (a numeric cursor), a date (midnight UTC), or an ISO-8601 time (UTC when
    it names no zone)."""
    value = text.strip()
    try:
        return int(value)
    except ValueError:
        pass
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"{option} {text!r} is neither a time nor a number",
            hint="write a date (2022-02-01), a time (2022-02-01T06:00:00+00:00), or a number",
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def parse_chunk(text: str | None, start: Bound) -> timedelta | int:
    """`--chunk`: a duration (`1d`, `6h`, `1w`) for times, a count for numbers."""
    from datakit.config.models.common import parse_duration

    if isinstance(start, int):
        if text is None:
            raise UsageError("a numeric window needs --chunk N (how many cursor values per chunk)")
        try:
            count = int(text)
        except ValueError:
            raise UsageError(f"--chunk {text!r}: the cursor is a number, so the chunk is one too") from None
        if count < 1:
            raise UsageError(f"--chunk must be at least 1, not {count}")
        return count
    try:
        length = parse_duration(text or DEFAULT_CHUNK)
    except ValueError as exc:
        raise UsageError(f"--chunk: {exc}") from None
    if not isinstance(length, timedelta) or length <= timedelta(0):
        raise UsageError(f"--chunk {text!r} is not a positive duration (1d, 6h, 1w)")
    return length


def chunk_windows(start: Bound, end: Bound, step: timedelta | int) -> list[tuple[Bound, Bound]]:
    """[start, end) cut into consecutive windows of `step` (the last one may be shorter)."""
    lower: Any = start
    if type(start) is not type(end):
        raise UsageError("--start and --end must both be times, or both numbers")
    if not lower < end:
        raise UsageError(f"--start ({_text(start)}) must be before --end ({_text(end)})")
    windows: list[tuple[Bound, Bound]] = []
    at: Any = start
    while at < end:
        upper = min(at + step, end)
        windows.append((at, upper))
        at = upper
        if len(windows) > MAX_CHUNKS:
            raise UsageError(f"the window makes more than {MAX_CHUNKS} chunks", hint="give a larger --chunk")
    return windows


def _text(value: Bound) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _stamp(value: Bound, every: list[tuple[Bound, Bound]]) -> str:
    """A chunk's start as it ends its step id: `20220201`, `20220201T0600`, `20220201T063000`, `1000`."""
    if not isinstance(value, datetime):
        return str(value)
    starts = [w[0] for w in every if isinstance(w[0], datetime)]
    if all(s.hour == s.minute == s.second == 0 for s in starts):
        return value.strftime("%Y%m%d")
    if all(s.second == 0 for s in starts):
        return value.strftime("%Y%m%dT%H%M")
    return value.strftime("%Y%m%dT%H%M%S")


# -- what can be backfilled ----------------------------------------------------------------------------


def unbackfillable(project: Project, pipeline: str, resource: str) -> str | None:
    """Why a resource cannot be backfilled, or None when it can."""
    source = project.source(project.pipeline(pipeline).source.ref)
    found = next((r for r in source.resources if r.name == resource), None)
    if source.type == "files":
        return f"{source.name} is a files source: it reads whole files, it cannot filter rows by a cursor"
    incremental = getattr(found, "incremental", None)
    if incremental is None or not getattr(incremental, "enabled", True):
        return "it has no incremental cursor to re-read a window by (reload it with --full-refresh)"
    if getattr(found, "write_disposition", None) == "replace":
        return "it replaces its table on every load: a window of it would replace the rest"
    return None


def _chunks(load: LoadStep, windows: list[tuple[Bound, Bound]]) -> list[LoadStep]:
    """One step per window, each waiting for what the load waited for."""
    return [
        dataclasses.replace(
            load,
            id=f"{load.id}.{_stamp(lower, windows)}",
            params=dataclasses.replace(load.params, window=ChunkWindow(lower, upper)),
        )
        for lower, upper in windows
    ]


def _pipeline_plan(
    project: Project,
    name: str,
    windows: list[tuple[Bound, Bound]],
    warehouse: str | None,
    resources: Sequence[str],
) -> tuple[Plan, str, dict[str, str]]:
    """The chunks of the pipeline's incremental resources; its name; what was skipped, and why."""
    from datakit.config.tenancy import tenant_context

    tenant = tenant_context(project, warehouse)
    pipeline = project.pipeline(name)
    available = _resource_names(project, pipeline.name)
    for wanted in resources:
        if wanted not in available:
            raise UsageError(
                f"pipeline {pipeline.name} has no resource {wanted!r}",
                hint=did_you_mean(wanted, available) or f"its resources: {', '.join(available)}",
            )
    destination = project.resolve_name("destination", pipeline.destination.ref) or pipeline.destination.ref
    exclusive = _exclusive(project, tenant.destination_for(destination))
    steps: list[Step] = []
    skipped: dict[str, str] = {}
    for resource in resources or available:
        reason = unbackfillable(project, pipeline.name, resource)
        if reason is not None:
            if resources:
                raise UsageError(f"{pipeline.name}.{resource} cannot be backfilled: {reason}")
            skipped[_step_id(pipeline.name, resource)] = reason
            continue
        params = LoadParams(pipeline=pipeline.name, resource=resource, warehouse=tenant.name)
        load = LoadStep(id=_step_id(pipeline.name, resource), params=params, exclusive=exclusive)
        steps.extend(_chunks(load, windows))
    if not steps:
        raise _nothing(pipeline.name, skipped)
    plan = Plan(
        job=backfill_job("pipeline", pipeline.name),
        mode="dag",
        max_parallelism=1,
        continue_on_failure=True,
        steps=tuple(steps),
        warehouse=tenant.name,
    )
    return plan, pipeline.name, skipped


def _job_plan(
    project: Project,
    name: str,
    windows: list[tuple[Bound, Bound]],
    warehouse: str | None,
    select: Sequence[str],
    exclude: Sequence[str],
) -> tuple[Plan, str, dict[str, str]]:
    """The job's incremental loads (of `select`) in chunks, and what is downstream of them; the job's
    name; the loads skipped, and why."""
    from datakit.orchestrate.selection import select_plan
    from datakit.orchestrate.selection.build import build_graph

    job = compile_job(project, name, warehouse)
    graph = build_graph(project, job)
    base = select_plan(project, job, select, graph=graph) if select else job
    loads = [s for s in base.steps if isinstance(s, LoadStep)]
    skipped = {
        s.id: reason
        for s in loads
        if (reason := unbackfillable(project, s.params.pipeline, s.params.resource)) is not None
    }
    chosen = [s for s in loads if s.id not in skipped]
    if not chosen:
        raise _nothing(f"job {job.job}" + (f" (--select {' '.join(select)})" if select else ""), skipped)
    narrowed = select_plan(project, job, [f"{s.id}+" for s in chosen], exclude, graph=graph)
    window = {"datakit_start": _text(windows[0][0]), "datakit_end": _text(windows[-1][1])}
    chunks: dict[str, list[str]] = {}
    steps: list[Step] = []
    for step in narrowed.steps:
        if isinstance(step, LoadStep):
            pieces = _chunks(step, windows)
            chunks[step.id] = [piece.id for piece in pieces]
            steps.extend(pieces)
        elif isinstance(step, DbtStep):
            steps.append(dataclasses.replace(step, params=_with_window(step, window)))
        else:
            steps.append(step)
    steps = _ordered(job, steps, chunks)
    plan = dataclasses.replace(
        narrowed,
        job=backfill_job("job", job.job),
        mode="dag",
        continue_on_failure=True,
        sla=None,
        steps=tuple(steps),
    )
    return plan, job.job, skipped


def _with_window(step: DbtStep, window: dict[str, str]) -> Any:
    return dataclasses.replace(step.params, vars={**step.params.vars, **window})


def _ordered(job: Plan, steps: list[Step], chunks: dict[str, list[str]]) -> list[Step]:
    """Dependencies of the backfill's steps: a step waits for every chunk of a load it waited for. A job
    that is not a DAG waited by order: there, each step after the loads waits for all the chunks and
    for the steps before it."""
    if job.mode == "dag":
        return [
            dataclasses.replace(
                step, depends_on=tuple(d for dep in step.depends_on for d in chunks.get(dep, [dep]))
            )
            for step in steps
        ]
    every_chunk = [piece for pieces in chunks.values() for piece in pieces]
    ordered: list[Step] = []
    before: list[str] = []
    for step in steps:
        if isinstance(step, LoadStep) and step.params.window is not None:
            ordered.append(dataclasses.replace(step, depends_on=()))
            continue
        ordered.append(dataclasses.replace(step, depends_on=(*every_chunk, *before)))
        before = [step.id]
    return ordered


def _nothing(what: str, skipped: dict[str, str]) -> UsageError:
    reasons = "; ".join(f"{step}: {why}" for step, why in skipped.items())
    return UsageError(
        f"nothing of {what} can be backfilled" + (f" ({reasons})" if reasons else ""),
        hint="a backfill re-reads incremental resources by their cursor",
    )
