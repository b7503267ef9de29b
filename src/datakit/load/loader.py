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

The loader asks its source what it can do (`SourceCapabilities`), never what it is, and its destination's
engine how to say things (`Engine`, the statements of `datakit.connectors.writes`).

File-set sources read only the files not loaded yet and record them with the data (`datakit.load.files`);
their malformed lines count as read and rejected, and every rejected row of theirs names its file. A
load of files reads part of the set, so it never detects deletions (history) from what it did not read.

What a load delivers is checked before the data transaction opens: every contract column must come
from the source (its query or table, the files' columns, or the resource's `columns:` expressions or
typed transform), or be one the loader fills itself (audit columns, a mixin's times:
`datakit.load.times`). A contract column nobody delivers is an error naming it, never a column of
NULLs. Sources whose schema is only a sample of records (REST pages, JSON Lines) are exempt: a field
absent from a sample may come in later records.

A merge keeps one row per key: the last one read; the earlier ones are rejected (rule
`duplicate_key`, `datakit.connectors.writes`), so they are counted, not dropped.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from datakit.connectors import Incremental, pipe
from datakit.connectors.base import CheckedWrite
from datakit.connectors.errors import NoRowsToInfer
from datakit.connectors.writes import FILE, ROW, SYSTIME, Origin, Scope, history_ref, rejected_ref
from datakit.contracts.audit import AUDIT_COLUMN_NAMES, RESERVED_AUDIT_NAMES, audit_names, is_legacy
from datakit.contracts.validate import ROW_INDEX, validate_batch
from datakit.errors import DatakitError, did_you_mean
from datakit.load import state
from datakit.load.audit import AuditValues
from datakit.load.children import ChildTables, wants_children
from datakit.load.drift import DriftPlan, Shape, plan_drift, shapes_from_arrow, shapes_from_catalog
from datakit.load.errors import DriftError, LoadError
from datakit.load.files import REJECT_COLUMNS, FileLoad
from datakit.load.infer import ContractToInfer
from datakit.load.plan import RESOLVED_SUFFIX, LoadResult, Progress, ResourcePlan, RunOptions
from datakit.load.rejected import RejectSpool
from datakit.load.times import LoadTimes
from datakit.log import redact

if TYPE_CHECKING:
    import pyarrow as pa

    from datakit.connectors import Destination, ReadRequest, TableRef, Transaction
    from datakit.connectors.base import (
        CheckedRows,
        FileSetSource,
        NativeFileSource,
        NativeRead,
        NativeSource,
        ValidatingTransaction,
    )
    from datakit.contracts.model import Contract

log = logging.getLogger(__name__)
_DEFAULT_OPTIONS = RunOptions()


def load_resource(
    plan: ResourcePlan, destination: Destination, options: RunOptions = _DEFAULT_OPTIONS
) -> LoadResult:
    """Load one resource into its target table in one transaction; raise a `DatakitError` on failure.

    The failure is recorded in `_datakit.loads` (status failed) before the error is raised.
    """
    load = _Load(plan, destination, options)
    with destination.held():  # set-up, data and a failure's record: one connection (`connectors.held`)
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
    """The exactly-once bookkeeping of a file-set source (None for every other source)."""
    if not plan.source.capabilities.file_sets:
        return None
    source = cast("FileSetSource", plan.source)  # what `file_sets` declares
    return FileLoad(tx, plan, source, disposition=disposition, full_refresh=full)


Read = Iterator[tuple["pa.RecordBatch", str | None]]
"""Batches of the target table, each with the file it came from (None: not a files source)."""


def _reader(
    plan: ResourcePlan, request: ReadRequest, files: FileLoad | None, children: ChildTables | None
) -> Read:
    """The batches of the target table: the pending files, the parent of child tables, or the table."""
    if files is not None:
        return files.read(request)
    batches = children.split(request) if children is not None else plan.source.read(request)
    return ((batch, None) for batch in batches)


def _with_provenance(batch: pa.RecordBatch, column: str, source: str) -> pa.RecordBatch:
    """`batch` with `column` set to `source` in every row (added when the batch lacks it)."""
    import pyarrow as pa

    values = pa.array([source] * batch.num_rows, pa.string())
    index = batch.schema.get_field_index(column)
    if index < 0:
        return batch.append_column(pa.field(column, pa.string()), values)
    return batch.set_column(index, pa.field(column, pa.string()), values)


def _kept(rows: int, dropped: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Positions 0..rows-1 but `dropped`, in order (transforms and validation keep the rows' order)."""
    import numpy as np
    import pyarrow as pa

    keep = np.ones(rows, dtype=bool)
    if len(dropped):
        keep[dropped.to_numpy()] = False
    return pa.array(np.flatnonzero(keep), pa.int64())


class _Load:
    """The state of one load while it runs (counters, cursor, the rejected spool)."""

    def __init__(self, plan: ResourcePlan, destination: Destination, options: RunOptions) -> None:
        self.plan = plan
        self.destination = destination
        self.options = options
        self.engine = destination.engine
        self.writes = self.engine.writes()
        self.load_id = str(uuid.uuid4())
        self.started_at = datetime.now(UTC)
        self.id: int | None = None  # the load record's integer id, allocated in the data transaction
        self.audit_columns = AUDIT_COLUMN_NAMES  # the target's layout's (`_prepare_tables`)
        self.origins: list[Origin] = []  # the read positions each file covered
        self.rows_read = 0
        self.rows_loaded = 0
        self.rows_rejected = 0
        self.checked_rejected = 0  # rows the engine rejected (`validates_rows`), besides the spool's
        self.cursor: Any = None
        self.changes: tuple[str, ...] = ()
        self.child_rows: dict[str, int] = {}
        self.rejected_ready = False  # the rejected table is made when the first row is rejected

    # -- the load ------------------------------------------------------------------------------------

    def run(self) -> LoadResult:
        plan, options = self.plan, self.options
        target = plan.target
        self._set_up()
        source_schema = self._source_schema()  # infers the contract when it is one to infer
        delivered = self._with_loader_columns(self._delivered(source_schema))
        full = options.full_refresh
        disposition = "replace" if full else plan.write_disposition
        history = self.contract.history
        self._check_request(disposition)
        spool_columns = self._spool_columns(source_schema)
        if plan.consolidation is not None:
            self._prepare_shared(spool_columns)
        with self.destination.transaction() as tx:
            state.ensure(tx, plan.state_schema)
            self.id = state.next_load_id(tx, plan.state_schema)
            refreshed = self._refresh(tx) if full else []
            drift = self._prepare_tables(tx, delivered)
            contract = drift.contract
            self.changes = (*refreshed, *drift.messages)
            if plan.incremental is not None and plan.incremental.cursor_field not in contract.column_names:
                raise LoadError(
                    f"cursor field {plan.incremental.cursor_field!r} is not a column of {target}",
                    table=str(target),
                )
            request, saved = self._request(tx)
            window = saved is not None or options.window is not None
            staged = disposition == "merge" or history or (disposition == "append" and window)
            columns = [*contract.column_names, *self.audit_columns]
            files = _file_load(tx, plan, disposition, full)
            children = ChildTables(plan) if wants_children(plan) else None
            spool = RejectSpool(
                list(dict.fromkeys([*contract.column_names, *spool_columns])), self.load_id, self.started_at
            )
            try:
                if self.engine.validates_rows:  # the engine writes rejected rows as it validates
                    self._ensure_rejected(tx, spool)
                if disposition == "replace" and (files is None or files.replace_all):
                    self.writes.empty(tx, target, self._scope)
                into = self.writes.create_stage(tx, target, columns, self.load_id) if staged else target
                self._write(tx, into, request, contract, spool, staged=staged, files=files, children=children)
                self._side_tables(
                    tx, spool, files, children, stage=into if staged else None, key=plan.merge_key
                )
                if staged:
                    full_read = (plan.incremental is None or full) and files is None
                    self._from_stage(
                        tx, into, contract, disposition, spool, full_read=full_read, window=window
                    )
                self._write_rejected(tx, spool)
            finally:
                spool.close()
                if children is not None:
                    children.close()
            if files is not None:
                files.record(tx, self.load_id, self.started_at)
            self._save_cursor(tx)
            result = self._result("succeeded")
            state.record_load(tx, result, state_schema=plan.state_schema)
        return result

    def _set_up(self) -> None:
        """The state schema and the target's schema, in a transaction of their own (unless the caller
        made them: `RunOptions.prepared`)."""
        if not self.options.prepared:
            target = self.plan.target
            schemas = (target.schema,) if target.schema else ()
            state.prepare(self.destination, schemas, state_schema=self.plan.state_schema)

    def _write_rejected(self, tx: Transaction, spool: RejectSpool) -> None:
        """The spooled rejected rows into the rejected table (made now if it is not there)."""
        if spool.rows:
            self._ensure_rejected(tx, spool)
            tx.write(rejected_ref(self.plan.target), spool.batches())

    def _ensure_rejected(self, tx: Transaction, spool: RejectSpool) -> None:
        """Create the rejected table, or add the columns it lacks, once this load rejects a row: a
        clean load creates none (a table that exists is left as it is)."""
        if not self.rejected_ready:
            self.writes.ensure_rejected(tx, self.plan.target, spool.columns)
            self.rejected_ready = True

    def _check_request(self, disposition: str) -> None:
        """What the load is asked to do can be done: a backfill's window (`_check_window`), and a key
        for a merge or a table with history."""
        self._check_window()
        if (disposition == "merge" or self.contract.history) and not self.plan.merge_key:
            what = "merge" if disposition == "merge" else "history"
            raise LoadError(
                f"{what} into {self.plan.target} needs a key, and the contract has no primary key",
                hint="set primary_key on the resource or the contract",
                pipeline=self.plan.pipeline,
                resource=self.plan.resource,
                table=str(self.plan.target),
            )

    def _save_cursor(self, tx: Transaction) -> None:
        """The largest cursor read becomes the saved one (a backfill's window leaves it as it is)."""
        plan = self.plan
        if plan.incremental is None or self.cursor is None or self.options.window is not None:
            return
        state.save_cursor(
            tx,
            pipeline=plan.pipeline,
            resource=plan.resource,
            target=str(plan.target),
            field=plan.incremental.cursor_field,
            value=self.cursor,
            load_id=self.load_id,
            at=self.started_at,
            state_schema=plan.state_schema,
        )

    def _spool_columns(self, source_schema: pa.Schema) -> list[str]:
        """The columns the rejected table needs for this load: the contract's, the source's, a file's."""
        files = REJECT_COLUMNS if self.plan.source.capabilities.file_sets else ()
        return list(dict.fromkeys([*self.contract.column_names, *source_schema.names, *files]))

    @property
    def _scope(self) -> Scope | None:
        """The rows this load owns in a table several sources load (None: all of them)."""
        shared = self.plan.consolidation
        return (shared.provenance, shared.source) if shared is not None else None

    def _prepare_shared(self, spool_columns: list[str]) -> None:
        """Create a consolidated target, its rejected and history tables, and its precedence view, in a
        short transaction of their own (under the set-up lock): the loads of its other sources then
        find them made and never wait on each other's DDL, nor race to create them."""
        plan, target, writes = self.plan, self.plan.target, self.writes
        shared = plan.consolidation
        assert shared is not None
        with self.destination.transaction() as tx:
            self.engine.lock_setup(tx)
            state.ensure(tx, plan.state_schema)
            if not tx.columns(target):
                writes.create_target(tx, self.contract, target)
                self._record_origin(tx)
            if self.contract.history and not tx.columns(history_ref(target)):
                writes.create_history(tx, self.contract, target)
            writes.ensure_rejected(tx, target, spool_columns)
            if shared.rule == "precedence":
                live = [c.name for c in tx.columns(target)]
                writes.resolved_view(
                    tx,
                    target,
                    dataclasses.replace(target, name=target.name + RESOLVED_SUFFIX),
                    live,
                    shared.key,
                    shared.provenance,
                    shared.order,
                )

    def _record_origin(self, tx: Transaction) -> None:
        if self.plan.contract_origin is None:
            return
        name, version = self.plan.contract_origin
        state.record_table_origin(
            tx,
            self.plan.target,
            datakit=name,
            version=version,
            by=f"load {self.load_id}",
            at=self.started_at,
            state_schema=self.plan.state_schema,
        )

    def _check_window(self) -> None:
        """A backfill needs an incremental cursor, a source that reads windows by it, and no refresh."""
        plan = self.plan
        if self.options.window is None:
            return
        where = f"{plan.pipeline}.{plan.resource}"
        if plan.incremental is None:
            raise LoadError(
                f"{where} has no incremental cursor: a backfill re-reads rows by cursor",
                hint="give the resource `incremental: {cursor_field: ...}`, or reload it with --full-refresh",
                pipeline=plan.pipeline,
                resource=plan.resource,
            )
        if not plan.source.capabilities.cursor_windows:
            raise LoadError(
                f"{where}: its source cannot read a window of rows by cursor, so it cannot be backfilled",
                hint="reload it with --full-refresh instead",
                pipeline=plan.pipeline,
                resource=plan.resource,
            )
        if self.options.full_refresh:
            raise LoadError(f"{where}: a backfill re-reads a window; it is not a full refresh")

    def _refresh(self, tx: Transaction) -> list[str]:
        """A full refresh starts from nothing: the target and its rejected rows are dropped (and created
        again from the contract), the saved cursor is forgotten; what happened, for the load's messages.

        A table that views depend on (PostgreSQL refuses to drop it: dbt's staging views over bronze) is
        emptied instead, its columns changed as the contract says where they differ. Its history table
        is kept: it is the record of the past, which a reload does not change. A table several sources
        load (`Consolidation`) is never dropped: the refresh replaces only this source's rows.
        """
        plan, target = self.plan, self.plan.target
        done: list[str] = []
        shared = plan.consolidation
        if shared is not None:  # other sources' rows live there too: only this source's go (the replace)
            if plan.incremental is not None:
                state.forget_cursor(
                    tx, plan.pipeline, plan.resource, str(target), state_schema=plan.state_schema
                )
            return [
                f"replaced the rows of source {shared.source} in {target} (full refresh of a shared table)"
            ]
        if tx.columns(target):
            views = self.engine.dependent_views(tx, target)
            if views:
                done.append(
                    f"emptied {target} (full refresh; not dropped: views read it: {', '.join(views)})"
                )
            else:
                self.writes.drop(tx, target)
                done.append(f"dropped and recreated {target} (full refresh)")
        rejected = rejected_ref(target)
        if tx.columns(rejected) and not self.engine.dependent_views(tx, rejected):
            self.writes.drop(tx, rejected)
        if plan.incremental is not None:
            state.forget_cursor(tx, plan.pipeline, plan.resource, str(target), state_schema=plan.state_schema)
        return done

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
            self.rows_rejected = spool.rows + self.checked_rejected
        if children is not None:
            disposition = "replace" if self.options.full_refresh else self.plan.write_disposition
            self.child_rows = children.write(
                tx,
                disposition=disposition,
                parent_stage=stage,
                key=key,
                audit=self.audit,
            )

    @property
    def audit(self) -> AuditValues:
        """The audit columns' values (once the load id is allocated, in the data transaction)."""
        assert self.id is not None, "the load id is allocated first"
        return AuditValues(self.id, self.load_id, self.started_at, self.plan.source_label)

    @property
    def contract(self) -> Contract:
        """The target's contract (one to infer is inferred by `_source_schema`, before any use)."""
        contract = self.plan.contract
        assert not isinstance(contract, ContractToInfer), "the contract is inferred first"
        return contract

    @functools.cached_property
    def times(self) -> LoadTimes:
        """The mixin times the loader fills (from the contract, so asked only once it is known)."""
        return LoadTimes.of(self.contract, self.started_at)

    def _source_schema(self) -> pa.Schema:
        """The schema the read will deliver, asked before the data transaction opens; a contract to
        infer is inferred from it here (`datakit.load.infer`).

        A REST API infers it from the first batch of what the load will read (and keeps those pages for
        the read), so an incremental load asks with its lower bound (never fetching old pages); nothing
        new means no page to infer from, and the contract's schema stands in for the empty read (an
        inferred contract's: the table's as an earlier load left it).
        """
        plan = self.plan
        request = plan.request
        incremental_api = plan.incremental is not None and plan.source.capabilities.sample_after_cursor
        if incremental_api:
            with self.destination.transaction() as tx:
                request, _ = self._request(tx)
        try:
            schema = plan.source.arrow_schema(request)
        except NoRowsToInfer:
            if not incremental_api:
                raise
            from datakit.contracts.arrow import to_arrow_schema

            contract = plan.contract
            if isinstance(contract, ContractToInfer):
                with self.destination.transaction() as tx:
                    live = tx.columns(plan.target)
                if not live:
                    raise
                contract = contract.from_catalog(live)
                self.plan = dataclasses.replace(plan, contract=contract)
            return to_arrow_schema(contract)
        if isinstance(plan.contract, ContractToInfer):
            self.plan = dataclasses.replace(plan, contract=plan.contract.infer(schema))
        return schema

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
        if plan.source.capabilities.catalog_types and request.table is not None:
            columns = plan.source.columns(request.table)
            if request.columns is not None:
                wanted = set(request.columns)
                columns = [c for c in columns if c.name in wanted]
            return shapes_from_catalog(columns)
        return shapes_from_arrow(source_schema)

    def _with_loader_columns(self, delivered: list[Shape]) -> list[Shape]:
        """`delivered` and the mixin columns the loader fills; an error for a contract column neither has."""
        plan = self.plan
        names = [shape.name for shape in delivered]
        filled = set(self.times.columns)
        if plan.consolidation is not None:
            filled.add(plan.consolidation.provenance)
        missing = [
            name
            for name in self.contract.column_names
            if name not in names and name not in filled and name not in RESERVED_AUDIT_NAMES
        ]
        if missing and not plan.source.capabilities.sampled_schema:
            raise self._missing(missing, names)
        extra = [Shape(c.name, c.type, c.max_length) for c in self.contract.columns if c.name in filled]
        return [*delivered, *(shape for shape in extra if shape.name not in names)]

    def _missing(self, missing: list[str], delivered: list[str]) -> LoadError:
        plan, contract = self.plan, self.contract
        many = len(missing) > 1
        it = "them" if many else "it"
        guess = did_you_mean(missing[0], delivered)
        return LoadError(
            f"{plan.pipeline}.{plan.resource}: the source does not deliver column{'s' if many else ''} "
            f"{', '.join(missing)} of contract {contract.qualified_name!r} (layer {contract.layer}); "
            f"{'they' if many else 'it'} would load as NULL in every row",
            hint=(f"{guess} " if guess else "")
            + f"add {it} to the source's query or table (or the files), or compute {it} in the resource's "
            "`columns:` expressions (a constant expression is a default) or typed transform; or remove "
            f"{it} from the contract. The source delivers: {', '.join(delivered)}",
            pipeline=plan.pipeline,
            resource=plan.resource,
            table=str(plan.target),
        )

    def _prepare_tables(self, tx: Transaction, delivered: list[Shape]) -> DriftPlan:
        plan, target, writes = self.plan, self.plan.target, self.writes
        live_columns = tx.columns(target)
        created = not live_columns
        if created:
            writes.create_target(tx, self.contract, target)
            live_columns = tx.columns(target)
        self.audit_columns = audit_names(c.name for c in live_columns)
        try:
            drift = plan_drift(
                self.contract,
                delivered,
                shapes_from_catalog(live_columns),
                engine=self.engine,
                mode=plan.drift_mode,
                table=str(target),
                full_refresh=self.options.full_refresh,
                exact_types=plan.source.capabilities.exact_types,
            )
        except DriftError as exc:
            raise self._with_origin(tx, exc) from None
        if created or drift.changes:
            self._record_origin(tx)
        if any(change.kind == "retype" for change in drift.changes):
            writes.empty(tx, target)  # full refresh: the table is replaced anyway, so any type fits
        writes.apply_changes(tx, target, drift.changes, history=False)
        if self.contract.history:
            hist = history_ref(target)
            if tx.columns(hist):
                writes.apply_changes(tx, hist, drift.changes, history=True)
            else:
                writes.create_history(tx, drift.contract, target)
        return drift

    def _with_origin(self, tx: Transaction, error: DriftError) -> DriftError:
        """`error` naming the datakit version the table was deployed from, and the one this load uses."""
        origin = state.table_origin(tx, self.plan.target, state_schema=self.plan.state_schema)
        if origin is None:
            return error
        now = self.plan.contract_origin
        using = ""
        if now is not None:
            using = f"; this load's contract is {now[0]} {now[1]}" if now[1] else f"; this load uses {now[0]}"
        return DriftError(
            f"{error.message} (the table was deployed from datakit {origin.label}{using})",
            hint=error.hint,
            pipeline=self.plan.pipeline,
            resource=self.plan.resource,
            table=error.table,
        )

    def _request(self, tx: Transaction) -> tuple[ReadRequest, Any]:
        """The read request with the incremental predicate, and the saved cursor (None: no window)."""
        plan = self.plan
        inc = plan.incremental
        if inc is None:
            return plan.request, None
        window = self.options.window
        if window is not None:  # a backfill: the window, whatever the cursor (which stays as it is)
            incremental = Incremental(inc.cursor_field, window.start, inclusive=True, upper=window.end)
            return dataclasses.replace(plan.request, incremental=incremental), None
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
        self, batches: Read, contract: Contract, spool: RejectSpool, *, staged: bool
    ) -> Iterator[pa.RecordBatch]:
        """Source batches -> (transform) -> validate -> mixin times; rejected rows to the spool.

        A staged row carries its position in the read (`ROW`), the same number a rejected row
        has in `_dk_row_index`, so the last row read of a key is known.
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        plan = self.plan
        cursor_field = plan.incremental.cursor_field if plan.incremental is not None else None
        total = self._estimate()
        contract = self.times.checked(contract)  # the loader fills a mixin's times where rows lack them
        for batch, origin in batches:
            offset = self.rows_read
            self.rows_read += batch.num_rows
            if origin is not None and batch.num_rows:
                self._add_origin(origin, offset, self.rows_read - 1)
            work, rows = batch, None  # rows: positions in `batch` of the rows of `work`, if not 0..n-1
            if plan.transform is not None:
                outcome = plan.transform(batch)
                work = outcome.batch
                if outcome.rejected is not None and outcome.rejected.num_rows:
                    spool.add(outcome.rejected, offset, file=origin)
                    rows = _kept(batch.num_rows, outcome.rejected.column(ROW_INDEX))
            if plan.consolidation is not None:
                work = _with_provenance(work, plan.consolidation.provenance, plan.consolidation.source)
            checked = validate_batch(contract, work)
            rejected = checked.rejected
            if rejected.num_rows and rows is not None:
                index = rejected.schema.get_field_index(ROW_INDEX)
                in_batch = pc.take(rows, rejected.column(index))
                rejected = rejected.set_column(index, rejected.schema.field(index), in_batch)
            spool.add(rejected, offset, file=origin)
            good = checked.good
            self.rows_rejected = spool.rows
            if cursor_field is not None and good.num_rows:
                top = pc.max(good.column(cursor_field)).as_py()
                if top is not None and (self.cursor is None or top > self.cursor):
                    self.cursor = top
            if good.num_rows:
                out = self.times.fill(good, staged=staged)
                if staged:
                    kept = _kept(work.num_rows, checked.rejected.column(ROW_INDEX))
                    position = pc.add(pc.take(rows, kept) if rows is not None else kept, offset)
                    out = out.append_column(pa.field(ROW, pa.int64()), position)
                self.rows_loaded += good.num_rows
                yield out
            self._progress(total)

    def _write(
        self,
        tx: Transaction,
        into: TableRef,
        request: ReadRequest,
        contract: Contract,
        spool: RejectSpool,
        *,
        staged: bool,
        files: FileLoad | None,
        children: ChildTables | None,
    ) -> None:
        """The read's rows into `into`, validated on the reader's thread (so validation overlaps the
        writes) or, when the engine `validates_rows`, by the engine — which reads the source itself
        when it can (`NativeSource`); the destination fills the audit columns as it writes (`stamp`)."""
        stamp = self.audit.stamp(contract.change_columns, legacy=is_legacy(self.audit_columns))
        if not self.engine.validates_rows:
            pipe(
                self._batches(_reader(self.plan, request, files, children), contract, spool, staged=staged),
                lambda batches: tx.write(into, batches, stamp),
            )
            return
        spec = self._checked_write(contract, staged=staged, files=files is not None)
        checked = cast("ValidatingTransaction", tx)
        native = self._native_read(request, files) if children is None else None
        if native is not None and checked.reads(native):
            outcome = checked.read_checked(into, native, stamp, spec)
            for file, first, last in outcome.origins:
                self._add_origin(file, self.rows_read + first, self.rows_read + last)
            self.rows_read += outcome.read or 0
        else:
            outcome = pipe(
                self._delivered_batches(_reader(self.plan, request, files, children), spool),
                lambda batches: checked.write_checked(into, batches, stamp, spec),
            )
        self._count_checked(outcome, spool)
        self._progress(self._estimate())  # the validated counts, once the engine has them

    def _native_read(self, request: ReadRequest, files: FileLoad | None) -> NativeRead | None:
        """The read as the engine's workers may do it, when the source can say so and no Python
        transform must see the rows: a table or query split on the key's first column, or the files
        this load reads."""
        plan = self.plan
        capabilities = plan.source.capabilities
        if plan.transform is not None or plan.consolidation is not None:
            return None
        if files is not None:
            if not capabilities.native_file_reads or not files.pending:
                return None
            file_source = cast("NativeFileSource", plan.source)  # what `native_file_reads` declares
            return file_source.native_file_read(request, files.pending)
        if not capabilities.native_reads:
            return None
        source = cast("NativeSource", plan.source)  # what `native_reads` declares
        return source.native_read(request, split_by=plan.merge_key[0] if plan.merge_key else None)

    def _checked_write(self, contract: Contract, *, staged: bool, files: bool) -> CheckedWrite:
        """What an engine that validates rows itself needs (`Engine.validates_rows`)."""
        inc = self.plan.incremental
        return CheckedWrite(
            contract=self.times.checked(contract),
            rejected=rejected_ref(self.plan.target),
            load_id=self.load_id,
            at=self.started_at,
            row=ROW,
            keep_row=staged,
            file=FILE if files else None,
            cursor=inc.cursor_field if inc is not None else None,
            fill=self.times.latest if staged else self.times.columns,
        )

    def _delivered_batches(self, batches: Read, spool: RejectSpool) -> Iterator[pa.RecordBatch]:
        """Source batches -> (transform), each row with its read position (and file), for an engine
        that validates them itself; a transform's rejected rows to the spool. Progress is reported a
        batch late, so that the last report, after the write, has the validated counts."""
        import pyarrow as pa
        import pyarrow.compute as pc

        plan = self.plan
        total = self._estimate()
        for batch, origin in batches:
            offset = self.rows_read
            self.rows_read += batch.num_rows
            if origin is not None and batch.num_rows:
                self._add_origin(origin, offset, self.rows_read - 1)
            work, rows = batch, None
            if plan.transform is not None:
                outcome = plan.transform(batch)
                work = outcome.batch
                if outcome.rejected is not None and outcome.rejected.num_rows:
                    spool.add(outcome.rejected, offset, file=origin)
                    rows = _kept(batch.num_rows, outcome.rejected.column(ROW_INDEX))
                    self.rows_rejected = spool.rows
            if plan.consolidation is not None:
                work = _with_provenance(work, plan.consolidation.provenance, plan.consolidation.source)
            positions = rows if rows is not None else pa.array(range(work.num_rows), pa.int64())
            out = work.append_column(pa.field(ROW, pa.int64()), pc.add(positions, offset))
            if origin is not None:
                out = out.append_column(
                    pa.field(FILE, pa.string()), pa.repeat(pa.scalar(origin, pa.string()), out.num_rows)
                )
            if offset:  # the progress of the batches before it (this one's after the write: `_write`)
                self._progress(total)
            yield out

    def _count_checked(self, outcome: CheckedRows, spool: RejectSpool) -> None:
        self.rows_loaded += outcome.loaded
        self.checked_rejected += outcome.rejected
        self.rows_rejected = spool.rows + self.checked_rejected
        top = outcome.cursor
        if top is not None and (self.cursor is None or top > self.cursor):
            self.cursor = top

    def _add_origin(self, file: str, first: int, last: int) -> None:
        """Record that read positions `first`..`last` came from `file` (extending its last range)."""
        if self.origins and self.origins[-1][0] == file and self.origins[-1][2] == first - 1:
            first = self.origins.pop()[1]
        self.origins.append((file, first, last))

    def _from_stage(
        self,
        tx: Transaction,
        stage: Any,
        contract: Contract,
        disposition: str,
        spool: RejectSpool,
        *,
        full_read: bool,
        window: bool,
    ) -> None:
        plan, target, writes = self.plan, self.plan.target, self.writes
        keep = self.times.keep
        key = plan.merge_key
        columns = [*contract.column_names, *self.audit_columns]
        writes.prepare_stage(tx, stage)
        if disposition == "append" and window:
            assert plan.incremental is not None
            writes.append_unseen(tx, stage, target, columns, plan.incremental.cursor_field, keep)
        elif disposition in ("append", "replace"):
            writes.insert_all(tx, stage, target, columns, keep)
        detect_deletes = full_read and self.rows_rejected == 0
        if key and disposition == "merge":  # the rows a merge does not keep are rejected, not lost
            repeated = writes.reject_duplicates(
                tx,
                stage,
                rejected_ref(target),
                key,
                contract.column_names,
                load_id=self.load_id,
                at=self.started_at,
                origins=self.origins,
                before=lambda: self._ensure_rejected(tx, spool),
            )
            self.rows_loaded -= repeated
            self.rows_rejected += repeated
        elif key:  # append and replace keep every row in the target; history records the last
            writes.dedupe(tx, stage, key)
        if self.contract.history:
            writes.history(
                tx,
                stage,
                history_ref(target),
                contract.column_names,
                key,
                load_id=self.load_id,
                loaded_at=self.started_at,
                detect_deletes=detect_deletes,
                by_systime=SYSTIME in self.contract.column_names,
                keep=keep,
                scope=self._scope,
            )
        if disposition == "merge":
            delete_missing = self.contract.history and detect_deletes
            writes.merge(
                tx, stage, target, columns, key, delete_missing=delete_missing, keep=keep, scope=self._scope
            )
        writes.drop(tx, stage)

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
            window=self.options.window,
            id=self.id,
            source=self.plan.source_label,
        )

    def record_failure(self, error: Exception) -> None:
        """Write the failed load's record in its own transaction (the data transaction rolled back)."""
        try:
            with self.destination.transaction() as tx:
                state.ensure(tx, self.plan.state_schema)
                failed = dataclasses.replace(
                    self._result("failed", str(error)),
                    cursor=None,
                    id=state.next_load_id(tx, self.plan.state_schema),  # the data transaction's is gone
                )
                state.record_load(tx, failed, state_schema=self.plan.state_schema)
        except Exception:  # the destination may be the very thing that failed; the load's error matters
            log.warning("could not record the failed load %s", self.load_id, exc_info=True)
