"""What a dbt step asks for (`DbtInvocation`) and what it reports (`DbtResult`): plain data at the seam.

The orchestrator builds a `DbtInvocation` from a job's `dbt:` step and gets a `DbtResult` back; both
cross a process boundary, so they are frozen dataclasses of plain values and `details()` is JSON-able.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

DbtCommand = Literal["build", "run", "test", "seed", "snapshot", "compile"]
DBT_COMMANDS: tuple[DbtCommand, ...] = ("build", "run", "test", "seed", "snapshot", "compile")
IndirectSelection = Literal["eager", "cautious", "buildable", "empty"]
FULL_REFRESH_COMMANDS: frozenset[str] = frozenset({"build", "run", "seed"})  # dbt rejects it elsewhere
FAILED_STATUSES: frozenset[str] = frozenset({"error", "fail", "runtime error", "partial success"})
WRITING_TYPES: frozenset[str] = frozenset({"model", "seed", "snapshot"})


@dataclass(frozen=True)
class DbtInvocation:
    """One dbt command on one dbt project, as a job step names it.

    `project_dir` is relative to the datakit project root (e.g. `transform/pagila`); `select` and
    `exclude` use dbt's selector syntax, several selectors separated by spaces.

    `indirect_selection` defaults to `buildable`, not dbt's `eager`: a job builds its layers in
    separate steps (`select: silver`, then `select: gold`), and with `eager` the silver step would run
    a test that also reads a gold model before gold exists. `buildable` runs a test once every model it
    reads is selected or upstream of the selection — in the step that can actually pass it.
    """

    project_dir: str
    command: DbtCommand = "build"
    select: str | None = None
    exclude: str | None = None
    indirect_selection: IndirectSelection = "buildable"

    def __post_init__(self) -> None:
        if self.command not in DBT_COMMANDS:
            from datakit.errors import DatakitError

            raise DatakitError(
                f"unknown dbt command {self.command!r}", hint=f"datakit runs: {', '.join(DBT_COMMANDS)}"
            )

    def as_dict(self) -> dict[str, str | None]:
        return {
            "project_dir": self.project_dir,
            "command": self.command,
            "select": self.select,
            "exclude": self.exclude,
            "indirect_selection": self.indirect_selection,
        }


@dataclass(frozen=True)
class DbtNodeResult:
    """One node (model, test, seed, snapshot) of an invocation, as dbt reported it.

    `rows_affected` is what the adapter said (PostgreSQL reports it for tables; DuckDB reports none);
    `execution_time` covers compiling and running the node, `execute_time` only the database part;
    `executed` is that part's (start, end) in epoch seconds: nodes run in parallel threads, so the time
    a step spent in the database is the union of these intervals, not the sum of `execute_time`.
    """

    unique_id: str
    name: str
    resource_type: str
    status: str
    execution_time: float
    execute_time: float | None = None
    rows_affected: int | None = None
    failures: int | None = None
    message: str | None = None
    relation: str | None = None
    file: str | None = None
    executed: tuple[float, float] | None = None

    @property
    def failed(self) -> bool:
        return self.status in FAILED_STATUSES

    def as_dict(self) -> dict[str, Any]:
        return {
            "unique_id": self.unique_id,
            "name": self.name,
            "resource_type": self.resource_type,
            "status": self.status,
            "execution_time": round(self.execution_time, 4),
            "execute_time": None if self.execute_time is None else round(self.execute_time, 4),
            "rows_affected": self.rows_affected,
            "failures": self.failures,
            "message": self.message,
            "relation": self.relation,
            "file": self.file,
            "executed": None if self.executed is None else [round(t, 4) for t in self.executed],
        }


@dataclass(frozen=True)
class DbtResult:
    """A finished dbt invocation: per-node results, timing, whether parsing was partial, the log tail."""

    invocation: DbtInvocation
    destination: str
    success: bool
    nodes: tuple[DbtNodeResult, ...] = ()
    elapsed: float = 0.0
    """Wall-clock seconds of the whole invocation (parse, compile, run, artifacts)."""
    partial_parse: bool = False
    """True when dbt reused `partial_parse.msgpack` instead of parsing the whole project again."""
    parsed_ahead: bool = False
    """True when the step parsed nothing: the warm process it was forked from had (`parse_ahead`)."""
    log: str = ""
    work_dir: str | None = None
    error: str | None = None
    """The failure of the invocation as a whole (a parse error), when it got no per-node results."""
    full_refresh: bool = False
    """dbt ran with `--full-refresh` (incremental models and seeds rebuilt from scratch)."""

    @property
    def rows(self) -> dict[str, int]:
        """Row counts for run history: `rows_loaded` sums what the adapter reported for models, seeds and
        snapshots (a test's "rows" are the count query's single row, not data written)."""
        written = (n for n in self.nodes if n.resource_type in WRITING_TYPES)
        return {"rows_loaded": sum(n.rows_affected or 0 for n in written)}

    @property
    def failed_nodes(self) -> list[DbtNodeResult]:
        return [node for node in self.nodes if node.failed]

    @property
    def node_time(self) -> float:
        """Seconds spent in the database by the nodes (summed over threads, so it may exceed elapsed)."""
        return sum(n.execute_time if n.execute_time is not None else n.execution_time for n in self.nodes)

    def details(self) -> dict[str, Any]:
        """The JSON-able record kept in run history."""
        counts: dict[str, int] = {}
        for node in self.nodes:
            counts[node.status] = counts.get(node.status, 0) + 1
        return {
            "kind": "dbt",
            **self.invocation.as_dict(),
            "destination": self.destination,
            "success": self.success,
            "elapsed": round(self.elapsed, 4),
            "node_time": round(self.node_time, 4),
            "partial_parse": self.partial_parse,
            "full_refresh": self.full_refresh,
            "parsed_ahead": self.parsed_ahead,
            "statuses": counts,
            "rows": self.rows,
            "error": self.error,
            "nodes": [node.as_dict() for node in self.nodes],
        }
