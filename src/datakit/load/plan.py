"""What one load of one resource is: the plan the loader carries out, and the result it reports.

A `ResourcePlan` is fully resolved (connectors open, contracts loaded, names chosen): the config layer
and the datakit packages are turned into plans by `datakit.load.resolve`, and `datakit.load.loader`
carries a plan out without looking at YAML again. Tests build plans directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from datakit.contracts.audit import LOADS_SCHEMA
from datakit.load.drift_mode import DriftMode

if TYPE_CHECKING:
    import pyarrow as pa

    from datakit.connectors import ReadRequest, Source, TableRef
    from datakit.contracts import Contract
    from datakit.load.infer import ContractToInfer

WriteDisposition = Literal["append", "replace", "merge"]
STATE_SCHEMA = LOADS_SCHEMA
"""Where load records, cursors and file records are kept in a destination (`datakit.load.state`)."""


@dataclass(frozen=True)
class TransformOutcome:
    """A transformed batch, and the rows the transform could not handle (text values + `_dk_reason`)."""

    batch: pa.RecordBatch
    rejected: pa.Table | None = None


BatchTransform = Callable[["pa.RecordBatch"], TransformOutcome]
"""Source batch -> target batch. Built by `datakit.load.transforms` from a typed row function or from
SQL column expressions; rows it fails on are rejected with the error, never dropped."""


@dataclass(frozen=True)
class IncrementalPlan:
    """Load only rows whose `cursor_field` is past the saved cursor (or `initial_value` on the first run)."""

    cursor_field: str
    initial_value: Any = None
    lag: Any = None
    """Re-read this far behind the saved cursor (a timedelta or a number) to catch late-arriving rows."""


RESOLVED_SUFFIX = "__resolved"


@dataclass(frozen=True)
class Consolidation:
    """A load into a table several sources load (a `target:`): whose rows this load may touch.

    The loader writes `source` into the `provenance` column of every row, merges on (provenance, key),
    and replaces or deletes only rows whose provenance is `source`. With rule `precedence` it keeps the
    view `<table>__resolved`: one row per `key`, the first source of `order` that has it.
    """

    target: str
    provenance: str
    source: str
    rule: str
    key: tuple[str, ...]
    """The contract's primary key (with rule precedence, the business key the view picks by)."""
    order: tuple[str, ...] = ()


@dataclass(frozen=True)
class Window:
    """A backfill's bounds: the rows with `start <= cursor < end` (times, dates or numbers)."""

    start: Any
    end: Any


@dataclass(frozen=True)
class ResourcePlan:
    """One resource of one pipeline, from a source table (or query) to one target table."""

    pipeline: str
    resource: str
    source: Source
    request: ReadRequest
    """What to read. The loader adds the incremental predicate from the saved cursor."""
    contract: Contract | ContractToInfer
    """The target table's contract, without audit columns (the loader adds them in bronze); for a REST
    or files resource without a datakit contract, the loader infers it from the first rows it reads."""
    target: TableRef
    source_label: str
    """Where the rows come from (e.g. `pagila.public.rental`): the load record's `source` (a table of the
    old audit layout: every row's `_dk_source`)."""
    write_disposition: WriteDisposition = "append"
    primary_key: tuple[str, ...] = ()
    """Merge key; defaults to the contract's primary key."""
    incremental: IncrementalPlan | None = None
    drift_mode: DriftMode = DriftMode.EVOLVE
    transform: BatchTransform | None = None
    consolidation: Consolidation | None = None
    """Set when the target is shared with other sources' loads (see `Consolidation`)."""
    contract_origin: tuple[str, str | None] | None = None
    """The datakit (name, version) the contract comes from; None: reflected or inferred. Recorded in
    `_datakit.tables` when the load creates or changes the table, and named when drift stops it."""
    state_schema: str = STATE_SCHEMA
    """Where the cursor, the load record and the files record go: `_datakit`, or a tenant's own
    (`acme__datakit`), so tenants sharing a database never share incremental state."""

    @property
    def merge_key(self) -> tuple[str, ...]:
        return self.primary_key or self.contract.primary_key


@dataclass(frozen=True)
class Progress:
    """Reported after every batch (for progress bars); `total` is an estimate or None."""

    pipeline: str
    resource: str
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    total: int | None = None


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True)
class LoadResult:
    """What one load did; also the row of `_datakit.loads` it wrote (in the same transaction as the data)."""

    load_id: str
    pipeline: str
    resource: str
    target: str
    status: Literal["succeeded", "failed"]
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    started_at: datetime
    finished_at: datetime
    cursor: Any = None
    schema_changes: tuple[str, ...] = field(default=())
    """Human-readable drift handled in `evolve` mode, e.g. "added column rental.note (text)"."""
    child_rows: tuple[tuple[str, int], ...] = field(default=())
    """Rows written into each child table (REST resources whose lists are child tables)."""
    error: str | None = None
    run_id: str | None = None
    """The run and the step this load was part of (`RunOptions`), recorded with the data."""
    step_id: str | None = None
    window: Window | None = None
    """The backfill window it re-read (`RunOptions.window`), recorded with the data."""
    id: int | None = None
    """The record's integer id in `_datakit.loads`: its bronze rows' `_dk_load_id`."""
    source: str | None = None
    """Where the rows came from (`ResourcePlan.source_label`)."""


@dataclass(frozen=True)
class RunOptions:
    full_refresh: bool = False
    """Ignore the saved cursor and replace the target (as if it were the first load)."""
    progress: ProgressCallback | None = None
    run_id: str | None = None
    """The run (and `step_id`, its step) loading: recorded in the load record with the data, so a retry
    or a resume of the run knows the load is done (`datakit.load.state.committed_load`)."""
    step_id: str | None = None
    window: Window | None = None
    """Backfill: re-read the rows with `window.start <= cursor < window.end`, whatever the saved cursor,
    and leave that cursor where it is (it never moves back, nor past rows not yet re-read)."""
    prepared: bool = False
    """The caller made the state schema and the target's schema already (`datakit.load.state.prepare`,
    once for a grouped step's loads): the load skips that set-up transaction. Its data transaction
    still makes missing state tables, as always."""
