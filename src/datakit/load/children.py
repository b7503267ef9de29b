"""Child tables of a resource: its nested lists, loaded in the parent's transaction.

For sources that split nested lists into child tables (`SourceCapabilities.child_tables`, the
`ChildTableSource` protocol: REST APIs). `read_tables` yields the resource's rows and, for each list
column, rows of a child table
`<resource>__<column>` (lists inside its elements: `<resource>__<column>__<field>`, to any depth; see
`datakit.connectors.rest.records`), every one linked by `_dk_parent__<key>` (the root record's
primary key) and its `_dk_list_idx` positions. The
parent streams through the loader as usual; child batches wait in Arrow IPC files on local disk (the
destination connection is busy with the parent's bulk write, as for rejected rows), and are written
after it, in the same transaction, into `<target>__<column>` next to the target:

* the contract is inferred from the child rows (`datakit.load.infer`), the table created when missing
  and evolved (new columns added) under the pipeline's drift mode;
* replace (and full refresh) empties the child table; merge, and an incremental append that re-reads a
  window, first delete the children of every parent row read in this load (found through the parent's
  stage), so a parent's list is replaced whole, never duplicated; plain append inserts;
* child rows carry the audit columns; they are not validated (their contract is only inferred).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, cast

from datakit.connectors import TableRef
from datakit.connectors.rest.records import PARENT_PREFIX, SEP
from datakit.contracts.audit import is_legacy
from datakit.load.audit import AuditValues
from datakit.load.drift import plan_drift, shapes_from_arrow, shapes_from_catalog
from datakit.load.infer import contract_from_arrow

if TYPE_CHECKING:
    import pyarrow as pa

    from datakit.connectors import ReadRequest, Transaction
    from datakit.connectors.base import ChildTableSource
    from datakit.load.plan import ResourcePlan


def wants_children(plan: ResourcePlan) -> bool:
    """Whether the plan reads a resource whose lists become child tables."""
    if not plan.source.capabilities.child_tables or plan.request.table is None:
        return False
    return _source(plan).has_child_tables(plan.request.table)


def _source(plan: ResourcePlan) -> ChildTableSource:
    return cast("ChildTableSource", plan.source)  # what `child_tables` declares


class ChildTables:
    """Child batches of one load, spooled per table while the parent streams, written afterwards."""

    def __init__(self, plan: ResourcePlan) -> None:
        assert plan.request.table is not None
        self.plan = plan
        self.parent = plan.request.table.name
        self._spools: dict[str, tuple[Any, Any, pa.Schema]] = {}  # file, writer, schema
        self.rows: dict[str, int] = {}

    def split(self, request: ReadRequest) -> Iterator[pa.RecordBatch]:
        """The parent's batches; child batches go to their spool."""
        for name, batch in _source(self.plan).read_tables(request):
            if name == self.parent:
                yield batch
            elif batch.num_rows:
                self._add(name, batch)

    def write(
        self,
        tx: Transaction,
        *,
        disposition: str,
        parent_stage: TableRef | None,
        key: Sequence[str],
        audit: AuditValues,
    ) -> dict[str, int]:
        """Write every child table seen; returns the rows written per child table."""
        report: dict[str, int] = {}
        engine = tx.engine
        for name in sorted(self._spools):
            target = self._target(name)
            columns, legacy = self._prepare(tx, name, target)
            if disposition == "replace":
                tx.execute(f"DELETE FROM {engine.table(target)}")
            elif parent_stage is not None and key:
                flat = [SEP.join(k.split(".")) for k in key]
                links = " AND ".join(f"s.{tx.quote(k)} = c.{tx.quote(PARENT_PREFIX + k)}" for k in flat)
                tx.execute(
                    f"DELETE FROM {engine.table(target)} AS c WHERE EXISTS "
                    f"(SELECT 1 FROM {engine.table(parent_stage)} AS s WHERE {links})"
                )
            tx.write(target, self._batches(name), audit.stamp(columns, legacy=legacy))
            report[str(target)] = self.rows[name]
        return report

    def close(self) -> None:
        for file, writer, _ in self._spools.values():
            writer.close()  # closing twice is harmless
            file.close()

    # -- internals ---------------------------------------------------------------------------------

    def _target(self, name: str) -> TableRef:
        target = self.plan.target
        return TableRef(target.name + name[len(self.parent) :], target.schema)

    def _prepare(self, tx: Transaction, name: str, target: TableRef) -> tuple[list[str], bool]:
        """Create or evolve the child table from the spooled schema; returns its data columns, and whether
        it has the old audit layout (`datakit.contracts.audit.is_legacy`)."""
        schema = self._spools[name][2]
        contract = contract_from_arrow(target.name, schema, layer=self.plan.contract.layer)
        writes = tx.engine.writes()
        live = tx.columns(target)
        if not live:
            writes.create_target(tx, contract, target)
            live = tx.columns(target)
        drift = plan_drift(
            contract,
            shapes_from_arrow(schema),
            shapes_from_catalog(live),
            engine=tx.engine,
            mode=self.plan.drift_mode,
            table=str(target),
        )
        writes.apply_changes(tx, target, drift.changes, history=False)
        return list(contract.column_names), is_legacy(c.name for c in live)

    def _add(self, name: str, batch: pa.RecordBatch) -> None:
        import pyarrow as pa

        if name not in self._spools:
            file = tempfile.TemporaryFile(prefix="datakit-child-")  # noqa: SIM115 - closed by close()
            self._spools[name] = (file, pa.ipc.new_stream(file, batch.schema), batch.schema)
            self.rows[name] = 0
        self._spools[name][1].write_batch(batch)
        self.rows[name] += batch.num_rows

    def _batches(self, name: str) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        file, writer, _ = self._spools[name]
        writer.close()
        file.seek(0)
        yield from pa.ipc.open_stream(file)
