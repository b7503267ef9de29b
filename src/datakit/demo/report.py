"""`report.html`: one recorded run on one self-contained page — steps, tables, checks, lineage.

A file a person opens anywhere (attached to a mail, on a machine without network): inline CSS, the
lineage as inline SVG, no script and no external resource. Rendered by Jinja2 with autoescaping,
since table names, check names and error messages come from data and configuration.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from datakit.demo.facts import (
    LAYERS,
    TableCount,
    check_outcomes,
    step_timings,
    table_counts,
    warehouse,
)
from datakit.demo.lineage import BOX_HEIGHT, BOX_WIDTH, COLUMN_WIDTH, build_lineage

if TYPE_CHECKING:
    from jinja2 import Environment

    from datakit.config.project import Project

TEMPLATES = Path(__file__).with_name("templates")


def write_report(project: Project, run_id: int, out: Path, docs: str | None = None) -> Path:
    """Render run `run_id` of `project` (its history, its warehouse now, its lineage) into `out`;
    `docs` is where the project's docs site is, relative to `out` (linked from the report)."""
    from datakit.lineage import build_lineage as column_lineage
    from datakit.orchestrate.store import open_store

    store = open_store(project)
    try:
        run = store.get_run(run_id)
    finally:
        store.close()
    tables = table_counts(warehouse(project))
    checks = check_outcomes(run)
    steps = step_timings(run)
    end = (
        run.finished_at
        if run.finished_at is not None
        else max([run.started_at, *(s.finished_at or 0.0 for s in run.steps)])
    )
    html = (
        _environment()
        .get_template("report.html.j2")
        .render(
            run=run,
            project_name=project.config.name,
            started=datetime.datetime.fromtimestamp(run.started_at, datetime.UTC).strftime(
                "%Y-%m-%d %H:%M:%S"
            ),
            duration=f"{end - run.started_at:.1f} s",
            span=max(end - run.started_at, 1e-6),
            steps=steps,
            tables=tables,
            tables_by_layer=_by_layer(tables),
            checks=checks,
            checks_passed=sum(c.passed for c in checks),
            lineage=build_lineage(project, run, column_lineage(project)),
            docs=docs,
            layers=LAYERS,
            column_width=COLUMN_WIDTH,
            box_width=BOX_WIDTH,
            box_height=BOX_HEIGHT,
        )
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out


def _by_layer(tables: list[TableCount]) -> list[tuple[str, list[TableCount]]]:
    return [(layer, [t for t in tables if t.layer == layer]) for layer in LAYERS if layer != "source"]


def _environment() -> Environment:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
