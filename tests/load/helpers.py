"""Building plans and source tables for the loader tests."""

from __future__ import annotations

from typing import Any

from datakit.connectors import ReadRequest, Source, TableRef
from datakit.contracts import Contract, contract_from_spec
from datakit.load.plan import DriftMode, IncrementalPlan, ResourcePlan

# A small customer table: a key, text with a length limit, a value with a range, a cursor.
CUSTOMER_SPEC: dict[str, Any] = {
    "table": "customer",
    "layer": "bronze",
    "primary_key": ["id"],
    "columns": {
        "id": {"type": "integer"},
        "name": {"type": "string", "max_length": 20, "nullable": False},
        "score": {"type": "integer", "min": 0, "max": 100},
        "updated": {"type": "timestamptz", "nullable": False},
    },
}
CUSTOMER_DDL = "id integer, name varchar(20) NOT NULL, score integer, updated timestamptz NOT NULL"


def customer_contract(**changes: Any) -> Contract:
    return contract_from_spec({**CUSTOMER_SPEC, **changes})


def plan_for(
    source: Source,
    source_schema: str | None,
    table: str,
    contract: Contract,
    target: TableRef,
    *,
    disposition: str = "append",
    incremental: IncrementalPlan | None = None,
    batch_size: int = 65_536,
    drift_mode: DriftMode = DriftMode.EVOLVE,
    transform: Any = None,
    order_by: tuple[str, ...] = (),
    pipeline: str = "test",
) -> ResourcePlan:
    return ResourcePlan(
        pipeline=pipeline,
        resource=table,
        source=source,
        request=ReadRequest(table=TableRef(table, source_schema), batch_size=batch_size, order_by=order_by),
        contract=contract,
        target=target,
        source_label=".".join(["test", *filter(None, [source_schema]), table]),
        write_disposition=disposition,  # type: ignore[arg-type]
        incremental=incremental,
        drift_mode=drift_mode,
        transform=transform,
    )
