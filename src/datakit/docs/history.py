"""What the recorded runs say about each table and check, per warehouse: the newest of each.

Check suites keep every result in their step's details (table, check name, status, failing rows);
dbt steps keep every node's status and when it ran. A tenant's run names its tables with the tenant's
schema prefix (`acme_silver.customer`), which is taken off again, so results are keyed like the
lineage graph, whose names are the project's.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datakit.config.project import Project
    from datakit.orchestrate.store import RunRecord, StateStore

RUNS_READ = 60
"""How many of the newest runs are read (a check or model not in them shows no result)."""


@dataclass
class History:
    """Per warehouse (None: the project itself): newest check results and dbt node builds."""

    checks: dict[str, dict[str, Any]] = field(default_factory=dict)
    """`checks:<suite>:<table as written>:<name>` or `dbt:<unique_id>` -> status, failing rows, when, run."""
    built: dict[str, dict[str, Any]] = field(default_factory=dict)
    """dbt unique_id -> status, when, run."""
    runs: list[dict[str, Any]] = field(default_factory=list)
    """The newest runs: id, job, status, started, finished."""


def read_history(project: Project, warehouses: list[str | None]) -> dict[str | None, History]:
    """The newest results of `warehouses`' runs (an unreadable store gives empty histories)."""
    from datakit.orchestrate.store import open_store

    found: dict[str | None, History] = {w: History() for w in warehouses}
    prefixes = {w: _prefix(project, w) for w in warehouses}
    store: StateStore = open_store(project)
    try:
        for summary in store.list_runs(limit=RUNS_READ):
            history = found.get(summary.warehouse)
            if history is None:
                continue
            run = store.get_run(summary.id)
            history.runs.append(
                {
                    "id": run.id,
                    "job": run.job,
                    "status": run.status,
                    "started_at": _when(run.started_at),
                    "finished_at": _when(run.finished_at),
                }
            )
            _read_run(run, history, prefixes[summary.warehouse])
    finally:
        store.close()
    return found


def _read_run(run: RunRecord, history: History, prefix: str) -> None:
    for step in run.steps:
        details = step.details or {}
        when = _when(step.finished_at)
        if isinstance(details.get("checks"), list):
            suite = str(details.get("suite", ""))
            for check in details["checks"]:
                key = f"checks:{suite}:{_unprefixed(str(check.get('table', '')), prefix)}:{check.get('name')}"
                history.checks.setdefault(key, _result(check, when, run.id))
        if details.get("kind") == "dbt":
            for node in details.get("nodes", []):
                uid = str(node.get("unique_id", ""))
                ran = node.get("executed")
                at = _when(ran[1]) if isinstance(ran, list) and len(ran) == 2 else when
                if node.get("resource_type") == "test":
                    history.checks.setdefault(f"dbt:{uid}", _result(node, at, run.id))
                else:
                    history.built.setdefault(uid, {"status": node.get("status"), "at": at, "run": run.id})


def _result(check: dict[str, Any], when: str | None, run: int) -> dict[str, Any]:
    status = str(check.get("status", ""))
    return {
        "status": "passed" if status == "pass" else "failed" if status == "fail" else status,
        "failing_rows": check.get("failing_rows", check.get("failures")),
        "at": when,
        "run": run,
    }


def _prefix(project: Project, warehouse: str | None) -> str:
    if warehouse is None:
        return ""
    return project.warehouse(warehouse).schema_prefix or ""


def _unprefixed(table: str, prefix: str) -> str:
    parts = table.split(".")
    if prefix and len(parts) >= 2 and parts[-2].startswith(prefix):
        parts[-2] = parts[-2][len(prefix) :]
    return ".".join(parts)


def _when(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).isoformat(timespec="seconds")
