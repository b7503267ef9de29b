"""`run_demo`: generate the source, write the project, run its job, summarise, write the report.

The job runs through `datakit.orchestrate.run.run_job`, exactly as `datakit run job demo` would (child
processes, run history, retries), so the demo shows the real thing. Progress comes from the run
history too: a watcher thread reads the run's steps from the state store while the job runs and
reports each step as it starts and ends. That keeps the executor free of any demo-specific hook.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from datakit.demo.facts import (
    LAYERS,
    CheckOutcome,
    StepTiming,
    TableCount,
    check_outcomes,
    step_timings,
    table_counts,
    warehouse,
)
from datakit.demo.generate import TABLES
from datakit.demo.project import JOB, SOURCE_FILE, create_demo_project
from datakit.log import get_logger

if TYPE_CHECKING:
    from datakit.config.project import Project
    from datakit.orchestrate.store import StateStore, StepRecord

log = get_logger(__name__)
REPORT_FILE = "report.html"
DOCS_FOLDER = "docs"
"""The docs site of the demo's warehouse, beside report.html (which links to it)."""
POLL_EVERY = 0.3
Phase = Literal["generate", "step", "run", "report"]


@dataclass(frozen=True)
class DemoEvent:
    """Something the demo did: a phase began or ended, or a step of the job started or finished."""

    phase: Phase
    message: str
    done: bool = False
    ok: bool = True
    """For a finished phase: whether it went well (a run that failed is done, but not ok)."""
    step: StepRecord | None = None


ProgressCallback = Callable[[DemoEvent], None]


@dataclass(frozen=True)
class DemoResult:
    """What the demo made and how the run went; `timings` are seconds per phase."""

    root: Path
    run_id: int
    status: str
    source_rows: dict[str, int]
    tables: list[TableCount]
    checks: list[CheckOutcome]
    steps: list[StepTiming]
    report: Path
    timings: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"

    def rows_by_layer(self) -> dict[str, tuple[int, int]]:
        """Layer -> (tables, rows), source included."""
        out = {"source": (len(self.source_rows), sum(self.source_rows.values()))}
        for layer in LAYERS[1:]:
            tables = [t for t in self.tables if t.layer == layer]
            out[layer] = (len(tables), sum(t.rows for t in tables))
        return out


def run_demo(
    directory: Path,
    *,
    scale: float = 1.0,
    seed: int = 42,
    destination: str = "duckdb",
    progress: ProgressCallback | None = None,
) -> DemoResult:
    """The whole demo in `directory` (new, empty, or an earlier demo); see the module docstring."""
    from datakit.config import load_project
    from datakit.orchestrate.run import run_job

    tell = progress or (lambda _event: None)
    timings: dict[str, float] = {}

    started = time.perf_counter()
    tell(DemoEvent("generate", f"generating the DVD-rental source (scale {scale:g})"))
    root = create_demo_project(directory, scale=scale, seed=seed, destination=destination)
    source_rows = source_counts(root / SOURCE_FILE)
    timings["generate"] = time.perf_counter() - started
    tell(DemoEvent("generate", f"{sum(source_rows.values()):,} rows in {len(source_rows)} tables", done=True))

    project = load_project(root)
    started = time.perf_counter()
    tell(DemoEvent("run", f"running job {JOB!r}: bronze, silver, checks, gold"))
    with _StepWatcher(project, tell):
        result = run_job(project, JOB)
    timings["run"] = time.perf_counter() - started
    tell(DemoEvent("run", f"run {result.run_id} {result.status.value}", done=True, ok=result.ok))

    started = time.perf_counter()
    tell(DemoEvent("report", "writing report.html and the docs"))
    from datakit.demo.report import write_report
    from datakit.docs import build_docs
    from datakit.orchestrate.store import open_store

    build_docs(project, root / DOCS_FOLDER)
    report = write_report(project, result.run_id, root / REPORT_FILE, docs=f"{DOCS_FOLDER}/index.html")
    store = open_store(project)
    try:
        run = store.get_run(result.run_id)
    finally:
        store.close()
    timings["report"] = time.perf_counter() - started
    tell(DemoEvent("report", str(report), done=True))
    return DemoResult(
        root=root,
        run_id=result.run_id,
        status=result.status.value,
        source_rows=source_rows,
        tables=table_counts(warehouse(project)),
        checks=check_outcomes(run),
        steps=step_timings(run),
        report=report,
        timings=timings,
        errors=dict(result.errors),
    )


def source_counts(path: Path) -> dict[str, int]:
    """Rows of each table of the generated source."""
    with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as db:
        return {table: int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]) for table in TABLES}


class _StepWatcher:
    """Reports the steps of the job's new run as they start and finish, read from the state store."""

    def __init__(self, project: Project, tell: ProgressCallback) -> None:
        self.project = project
        self.tell = tell
        self._stop = threading.Event()
        self._seen: dict[str, str] = {}
        self._thread = threading.Thread(target=self._watch, daemon=True, name="datakit-demo-progress")
        self._store: StateStore | None = None
        self._after = 0

    def __enter__(self) -> _StepWatcher:
        from datakit.orchestrate.store import open_store

        self._store = open_store(self.project)
        latest = self._store.list_runs(job=JOB, limit=1)
        self._after = latest[0].id if latest else 0
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        try:
            self._poll()  # the last steps may have ended after the thread's final look
        finally:
            assert self._store is not None
            self._store.close()

    def _watch(self) -> None:
        while not self._stop.wait(POLL_EVERY):
            try:
                self._poll()
            except Exception as exc:  # progress is a courtesy: a failed look must not stop the run
                log.warning("could not read the run's progress: %s", exc)

    def _poll(self) -> None:
        assert self._store is not None
        runs = self._store.list_runs(job=JOB, limit=1)
        if not runs or runs[0].id <= self._after:
            return
        for step in self._store.get_run(runs[0].id).steps:
            if self._seen.get(step.step_id) == step.status or step.status == "pending":
                continue
            self._seen[step.step_id] = step.status
            done = step.status != "running"
            self.tell(DemoEvent("step", f"{step.step_id}: {step.status}", done=done, step=step))
