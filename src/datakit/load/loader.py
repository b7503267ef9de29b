"""Carry out one `ResourcePlan`: source batches -> transform -> contract check -> one transaction.

Order of a load (DESIGN.md 3.2, issue 3 item 6):

1. `_datakit` and the target schema are created if missing, in a short transaction of their own.
2. Outside any transaction: the source's schema, and the transform run on an empty batch, so a bad SQL
   expression or an unreadable source fails before anything is written.
3. ONE destination transaction: create the target, rejected and history tables if missing; compare the
   delivered columns with the live table and evolve or refuse (`drift`); a reader thread
   (`connectors.pipe`) reads the source, transforms, validates (vectorized) and adds audit columns,
   while this thread bulk-writes good rows into the target or a stage (`apply` says which, and why);
   then apply the write disposition, history, rejected rows, cursor and the load record; commit.

A crash or `kill -9` at any instant therefore leaves target, rejected, history, cursor and load record
all as before or all as after. A failed load is recorded afterwards in its own small transaction
(status failed, the error text) while the data transaction has rolled back.

Incremental rule: the read is `cursor >= saved - lag` (inclusive, so rows sharing the boundary value
are always re-read, whether they were split by a batch or by a run). Re-read rows are not duplicated:
merge dedupes on the key and rewrites only changed rows; append stages the window and drops rows whose
record hash and cursor value are already in the target (an identical row at the same cursor value is
the same row read twice). A late row whose cursor is older than the saved cursor is caught when it is
within `lag`, otherwise only by `--full-refresh`. The saved cursor is the largest cursor value among
rows that passed validation, and never moves backwards. `rows_loaded` counts rows that passed
validation (written, or already present unchanged), so `rows_read == rows_loaded + rows_rejected`.

Files sources read only the files not loaded yet and record them with the data (`datakit.load.files`);
their malformed lines count as read and rejected. A load of files reads part of the set, so it never
detects deletions (history) from what it did not read.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from datakit.connectors import Incremental, pipe
from datakit.connectors.errors import NoRowsToInfer
from datakit.connectors.stamp import constant
from datakit.contracts.audit import AUDIT_COLUMN_NAMES
from datakit.contracts.sqltypes import Dialect
from datakit.contracts.validate import validate_batch
from datakit.errors import DatakitError
from datakit.load import apply, state
from datakit.load.audit import AuditValues
from datakit.load.children import ChildTables, wants_children
from datakit.load.drift import DriftPlan, plan_drift, shapes_from_arrow, shapes_from_catalog
from datakit.load.errors import LoadError
from datakit.load.files import REJECT_COLUMNS, FileLoad
from datakit.load.history import SYSTIME, apply_history
from datakit.load.plan import LoadResult, Progress, ResourcePlan, RunOptions
from datakit.load.rejected import RejectSpool
from datakit.load.tables import (
    apply_changes,
    create_history,
    create_target,
    ensure_rejected,
    exists,
    history_ref,
    rejected_ref,
)
from datakit.log import redact

if TYPE_CHECKING:
    import pyarrow as pa

    from datakit.connectors import Destination, ReadRequest, TableRef, Transaction
    from datakit.contracts.model import Contract
    from datakit.load.drift import Shape

log = logging.getLogger(__name__)
_DEFAULT_OPTIONS = RunOptions()


def load_resource(
    plan: ResourcePlan, destination: Destination, options: RunOptions = _DEFAULT_OPTIONS
) -> LoadResult:
    """Load one resource into its target table in one transaction; raise a `DatakitError` on failure.

    The failure is recorded in `_datakit.loads` (status failed) before the error is raised.
    """
    load = _Load(plan, destination, options)
    try:
        return load.run()
    except Exception as exc:
        error = exc if isinstance(exc, DatakitError) else _wrap(exc, plan)
        load.record_failure(error)
        if error is exc:
            raise
        raise error from None


def _wrap(exc: Exception, plan: ResourcePlan) -> LoadError:
    log.debug("load of %s.%s failed", plan.pipeline, plan.resource, exc_info=exc)
    detail = redact(str(exc).strip().splitlines()[0][:2000]) if str(exc).strip() else ""
    return LoadError(
        f"loading {plan.pipeline}.{plan.resource} into {plan.target} failed: {type(exc).__name__}: {detail}",
        pipeline=plan.pipeline,
        resource=plan.resource,
        table=str(plan.target),
    )


def _file_load(tx: Transaction, plan: ResourcePlan, disposition: str, full: bool) -> FileLoad | None:
    """The exactly-once bookkeeping of a files source (None for every other source)."""
    from datakit.connectors.files.source import FilesSource

    if not isinstance(plan.source, FilesSource):
        return None
    return FileLoad(tx, plan, disposition=disposition, full_refresh=full)


def _reader(
    plan: ResourcePlan, request: ReadRequest, files: FileLoad | None, children: ChildTables | None
) -> Iterator[pa.RecordBatch]:
    """The batches of the target table: the pending files, the parent of child tables, or the table."""
    if files is not None:
        return files.read(request)
    if children is not None:
        return children.split(request)
    return plan.source.read(request)


def _dialect(destination: Destination) -> Dialect:
    return Dialect.POSTGRES if destination.capabilities.dialect == "postgres" else Dialect.DUCKDB


class _Load:
    """The state of one load while it runs (counters, cursor, the rejected spool)."""

    def __init__(self, plan: ResourcePlan, destination: Destination, options: RunOptions) -> None:
        self.plan = plan
        self.destination = destination
        self.options = options
        self.dialect = _dialect(destination)
        self.load_id = str(uuid.uuid4())
        self.started_at = datetime.now(UTC)
        self.audit = AuditValues(self.load_id, self.started_at, plan.source_label)
        self.rows_read = 0
        self.rows_loaded = 0
        self.rows_rejected = 0
        self.cursor: Any = None
        self.changes: tuple[str, ...] = ()
        self.child_rows: dict[str, int] = {}

    # -- the load ------------------------------------------------------------------------------------

    def run(self) -> LoadResult:
        plan, options = self.plan, self.options
        target = plan.target
        state.prepare(
            self.destination, (target.schema,) if target.schema else (), state_schema=plan.state_schema
        )
        source_schema = self._source_schema()
        delivered = self._delivered(source_schema)
        full = options.full_refresh
        disposition = "replace" if full else plan.write_disposition
        key = plan.merge_key
        history = plan.contract.history
        if (disposition == "merge" or history) and not key:
            what = "merge" if disposition == "merge" else "history"
            raise LoadError(
                f"{what} into {target} needs a key, and the contract has no primary key",
                hint="set primary_key on the resource or the contract",
                pipeline=plan.pipeline,
                resource=plan.resource,
                table=str(target),
            )
        with self.destination.transaction() as tx:
            state.ensure(tx, plan.state_schema)
            drift = self._prepare_tables(tx, delivered)
            contract = drift.contract
            self.changes = tuple(drift.messages)
            if plan.incremental is not None and plan.incremental.cursor_field not in contract.column_names:
                raise LoadError(
                    f"cursor field {plan.incremental.cursor_field!r} is not a column of {target}",
                    table=str(target),
                )
            request, saved = self._request(tx)
            window = saved is not None
            staged = disposition == "merge" or history or (disposition == "append" and window)
            columns = [*contract.column_names, *AUDIT_COLUMN_NAMES]
            files = _file_load(tx, plan, disposition, full)
            children = ChildTables(plan) if wants_children(plan) else None
            spool = RejectSpool(
                [*contract.column_names, *source_schema.names, *(REJECT_COLUMNS if files else ())],
                self.load_id,
                self.started_at,
            )
            try:
                ensure_rejected(tx, target, spool.columns)
                if disposition == "replace" and (files is None or files.replace_all):
                    apply.empty(tx, target)
                into = (
                    apply.create_stage(tx, target, columns, self.dialect, self.load_id) if staged else target
                )
                # Validation runs on the reader's thread, so it overlaps the writes; the destination
                # fills the audit columns as it writes (`stamp`).
                stamp = self.audit.stamp(contract.change_columns)
                pipe(
                    self._batches(_reader(plan, request, files, children), contract, spool, staged=staged),
                    lambda batches: tx.write(into, batches, stamp),
                )
                self._side_tables(tx, spool, files, children, stage=into if staged else None, key=key)
                if staged:
                    full_read = (plan.incremental is None or full) and files is None
                    self._from_stage(tx, into, contract, disposition, full_read=full_read, window=window)
                if spool.rows:
                    tx.write(rejected_ref(target), spool.batches())
            finally:
                spool.close()
                if children is not None:
                    children.close()
            if files is not None:
                files.record(tx, self.load_id, self.started_at)
            if plan.incremental is not None and self.cursor is not None:
                state.save_cursor(
                    tx,
                    pipeline=plan.pipeline,
                    resource=plan.resource,
                    target=str(target),
                    field=plan.incremental.cursor_field,
                    value=self.cursor,
                    load_id=self.load_id,
                    at=self.started_at,
                    state_schema=plan.state_schema,
                )
            result = self._result("succeeded")
            state.record_load(tx, result, state_schema=plan.state_schema)
        return result

    def _side_tables(
        self,
        tx: Transaction,
        spool: RejectSpool,
        files: FileLoad | None,
        children: ChildTables | None,
        *,
        stage: TableRef | None,
        key: tuple[str, ...],
    ) -> None:
        """After the read: malformed file lines to the rejected spool, child tables written.

        Children are written before the parent's stage goes, because the stage names the parents read.
        """
        if files is not None and files.rejected:
            spool.add(files.rejected_table(), 0)  # line numbers are the row index
            self.rows_read += len(files.rejected)
            self.rows_rejected = spool.rows
        if children is not None:
            disposition = "replace" if self.options.full_refresh else self.plan.write_disposition
            self.child_rows = children.write(
                tx,
                dialect=self.dialect,
                disposition=disposition,
                parent_stage=stage,
                key=key,
                audit=self.audit,
            )

    def _source_schema(self) -> pa.Schema:
        """The schema the read will deliver, asked before the data transaction opens.

        A REST API infers it from the first page of what the load will read, so an incremental load
        asks with its lower bound (never fetching old pages); nothing new means no page to infer from,
        and the contract's schema stands in for the empty read.
        """
        plan = self.plan
        if plan.incremental is None or plan.source.capabilities.dialect != "rest_api":
            return plan.source.arrow_schema(plan.request)
        with self.destination.transaction() as tx:
            request, _ = self._request(tx)
        try:
            return plan.source.arrow_schema(request)
        except NoRowsToInfer:
            from datakit.contracts.arrow import to_arrow_schema

            return to_arrow_schema(plan.contract)

    def _delivered(self, source_schema: pa.Schema) -> list[Shape]:
        """What the load will deliver to the target: the transform's output, or the source's columns."""
        import pyarrow as pa

        plan = self.plan
        if plan.transform is not None:
            empty = pa.RecordBatch.from_arrays(
                [pa.array([], f.type) for f in source_schema], schema=source_schema
            )
            return shapes_from_arrow(plan.transform(empty).batch.schema)
        request = plan.request
        if plan.source.capabilities.dialect == "postgres" and request.table is not None:
            columns = plan.source.columns(request.table)
            if request.columns is not None:
                wanted = set(request.columns)
                columns = [c for c in columns if c.name in wanted]
            return shapes_from_catalog(columns, Dialect.POSTGRES)
        return shapes_from_arrow(source_schema)

    def _prepare_tables(self, tx: Transaction, delivered: list[Shape]) -> DriftPlan:
        plan, target = self.plan, self.plan.target
        if not exists(tx, target):
            create_target(tx, plan.contract, target, self.dialect)
        live = shapes_from_catalog(tx.columns(target), self.dialect)
        drift = plan_drift(
            plan.contract,
            delivered,
            live,
            dialect=self.dialect,
            mode=plan.drift_mode,
            table=str(target),
            full_refresh=self.options.full_refresh,
            exact_types=plan.source.capabilities.exact_types,
        )
        if any(change.kind == "retype" for change in drift.changes):
            apply.empty(tx, target)  # full refresh: the table is replaced anyway, so any type fits
        apply_changes(tx, target, drift.changes, history=False)
        if plan.contract.history:
            hist = history_ref(target)
            if exists(tx, hist):
                apply_changes(tx, hist, drift.changes, history=True)
            else:
                create_history(tx, drift.contract, target, self.dialect)
        return drift

    def _request(self, tx: Transaction) -> tuple[ReadRequest, Any]:
        """The read request with the incremental predicate, and the saved cursor (None: no window)."""
        plan = self.plan
        inc = plan.incremental
        if inc is None:
            return plan.request, None
        saved = None
        if not self.options.full_refresh:
            saved = state.read_cursor(
                tx, plan.pipeline, plan.resource, str(plan.target), state_schema=plan.state_schema
            )
        lower = inc.initial_value
        if saved is not None:
            lower = saved - inc.lag if inc.lag is not None else saved
        self.cursor = saved
        incremental = Incremental(inc.cursor_field, lower, inclusive=True)
        return dataclasses.replace(plan.request, incremental=incremental), saved

    def _batches(
        self, batches: Iterator[pa.RecordBatch], contract: Contract, spool: RejectSpool, *, staged: bool
    ) -> Iterator[pa.RecordBatch]:
        """Source batches -> (transform) -> validate; rejected rows to the spool."""
        import pyarrow as pa
        import pyarrow.compute as pc

        plan = self.plan
        cursor_field = plan.incremental.cursor_field if plan.incremental is not None else None
        total = self._estimate()
        for batch in batches:
            offset = self.rows_read
            self.rows_read += batch.num_rows
            work = batch
            if plan.transform is not None:
                outcome = plan.transform(batch)
                work = outcome.batch
                if outcome.rejected is not None:
                    spool.add(outcome.rejected, offset)
            checked = validate_batch(contract, work)
            spool.add(checked.rejected, offset)
            good = checked.good
            self.rows_rejected = spool.rows
            if cursor_field is not None and good.num_rows:
                top = pc.max(good.column(cursor_field)).as_py()
                if top is not None and (self.cursor is None or top > self.cursor):
                    self.cursor = top
            if good.num_rows:
                out = good
                if staged:
                    ones = constant(1, good.num_rows, pa.int64())
                    position = pc.add(pc.cumulative_sum(ones), self.rows_loaded)
                    out = out.append_column(pa.field(apply.ROW, pa.int64()), position)
                self.rows_loaded += good.num_rows
                yield out
            self._progress(total)

    def _from_stage(
        self,
        tx: Transaction,
        stage: Any,
        contract: Contract,
        disposition: str,
        *,
        full_read: bool,
        window: bool,
    ) -> None:
        plan, target = self.plan, self.plan.target
        key = plan.merge_key
        columns = [*contract.column_names, *AUDIT_COLUMN_NAMES]
        apply.analyze(tx, stage, self.dialect)
        if disposition == "append" and window:
            assert plan.incremental is not None
            apply.append_unseen(tx, stage, target, columns, plan.incremental.cursor_field)
        elif disposition in ("append", "replace"):
            apply.insert_all(tx, stage, target, columns)
        detect_deletes = full_read and self.rows_rejected == 0
        if key:
            apply.dedupe(tx, stage, key)
        if plan.contract.history:
            apply_history(
                tx,
                stage,
                history_ref(target),
                contract.column_names,
                key,
                load_id=self.load_id,
                loaded_at=self.started_at,
                detect_deletes=detect_deletes,
                by_systime=SYSTIME in plan.contract.column_names,
            )
        if disposition == "merge":
            apply.merge(
                tx, stage, target, columns, key, delete_missing=plan.contract.history and detect_deletes
            )
        apply.drop_stage(tx, stage)

    # -- reporting -----------------------------------------------------------------------------------

    def _estimate(self) -> int | None:
        request = self.plan.request
        if request.table is None or not self.plan.source.capabilities.cheap_estimate:
            return None
        try:
            return self.plan.source.estimate_rows(request.table)
        except DatakitError:
            return None

    def _progress(self, total: int | None) -> None:
        if self.options.progress is not None:
            self.options.progress(
                Progress(
                    self.plan.pipeline,
                    self.plan.resource,
                    self.rows_read,
                    self.rows_loaded,
                    self.rows_rejected,
                    total,
                )
            )

    def _result(self, status: Any, error: str | None = None) -> LoadResult:
        return LoadResult(
            load_id=self.load_id,
            pipeline=self.plan.pipeline,
            resource=self.plan.resource,
            target=str(self.plan.target),
            status=status,
            rows_read=self.rows_read,
            rows_loaded=self.rows_loaded,
            rows_rejected=self.rows_rejected,
            started_at=self.started_at,
            finished_at=datetime.now(UTC),
            cursor=self.cursor,
            schema_changes=self.changes,
            child_rows=tuple(self.child_rows.items()),
            error=error,
            run_id=self.options.run_id,
            step_id=self.options.step_id,
        )

    def record_failure(self, error: Exception) -> None:
        """Write the failed load's record in its own transaction (the data transaction rolled back)."""
        try:
            with self.destination.transaction() as tx:
                state.ensure(tx, self.plan.state_schema)
                failed = dataclasses.replace(self._result("failed", str(error)), cursor=None)
                state.record_load(tx, failed, state_schema=self.plan.state_schema)
        except Exception:  # the destination may be the very thing that failed; the load's error matters
            log.warning("could not record the failed load %s", self.load_id, exc_info=True)
