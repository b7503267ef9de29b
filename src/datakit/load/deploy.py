"""`datakit deploy`: a datakit's contracts as tables of one destination layer, and drift against them.

Deploying is idempotent: schemas are created if absent and only missing tables are created, so it is
safe to run before every load. Which contracts a layer gets (`layer_contracts`): the datakit's own
contracts of that layer; a layer it has none for mirrors its source contracts. Bronze tables carry the
loader's audit columns, so the loader finds them as it would have made them; LayerRules decide the
constraints (bronze: types and NOT NULL; silver/gold: keys, unique, foreign keys, checks).

With a tenant (`datakit.config.tenancy`), the destination is the tenant's stand-in for the one named,
the connection uses the tenant's secrets, and every schema gets the tenant's prefix
(`acme_br__pagila__public`), exactly where the tenant's loads write.

Deploy records, in `_datakit.tables`, which datakit version each table it creates comes from (a load
records it too when it creates or changes a table), and `--validate` reports it next to any drift.

Both go through the destination like a load does: one transaction (a failed deploy leaves nothing
half-made), its engine's DDL and catalog, and the loader's drift rules (`datakit.load.drift`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from datakit.config.project import Project
from datakit.connectors import Destination, TableRef
from datakit.connectors.from_config import open_destination_named

if TYPE_CHECKING:
    from datakit.config.tenancy import Tenant
    from datakit.contracts.model import Contract
    from datakit.datakits import Datakit
    from datakit.load.drift import Drift
    from datakit.load.state import TableOrigin


@dataclass(frozen=True)
class DeployedTable:
    """One contract's table: where it is and whether this deploy created it."""

    schema: str
    table: str
    created: bool


@dataclass
class DeployReport:
    destination: str
    layer: str
    tables: list[DeployedTable] = field(default_factory=list)

    @property
    def schemas(self) -> list[str]:
        return sorted({t.schema for t in self.tables})


@dataclass(frozen=True)
class TableDrift:
    """How one live table differs from its contract (`exists=False`: the table is missing)."""

    schema: str
    table: str
    exists: bool
    drifts: tuple[Drift, ...] = ()
    deployed_from: TableOrigin | None = None
    """The datakit version the table was deployed from (or last changed by a load from), if recorded."""

    @property
    def ok(self) -> bool:
        return self.exists and not self.drifts


def layer_contracts(kit: Datakit, layer: str) -> list[Contract]:
    """The contracts `layer` gets from `kit`, as deployed (bronze: with the audit columns)."""
    from datakit.contracts.audit import with_audit_columns

    contracts = kit.contracts(layer) or [c.evolve(layer=layer) for c in kit.contracts("source")]
    if layer == "bronze":
        contracts = [with_audit_columns(c) for c in contracts]
    return contracts


def schema_of(contract: Contract, layer: str, datakit: str) -> str:
    """`<layer prefix>__<system>__<schema>` of a contract (source schema `public` when it names none)."""
    from datakit.contracts.naming import layer_schema_name

    return layer_schema_name(layer, contract.system or datakit, contract.schema_name or "public")


def deploy_datakit(
    project: Project, datakit: str, destination: str, layer: str = "bronze", *, tenant: Tenant | None = None
) -> DeployReport:
    """Create the schemas and the missing tables of `datakit`'s `layer` contracts in `destination`
    (with `tenant`: in the tenant's destination and prefixed schemas)."""
    from datetime import UTC, datetime

    from datakit.datakits import load_datakit
    from datakit.load import state

    kit = load_datakit(project, datakit)
    name, target = _destination(project, destination, tenant)
    report = DeployReport(name, layer)
    engine = target.engine
    state_schema = _state_schema(tenant)
    now = datetime.now(UTC)
    with target.transaction() as tx:
        state.ensure(tx, state_schema)
        for schema, contracts in _by_schema(kit, layer, tenant).items():
            missing = [c for c in contracts if not tx.columns(TableRef(c.name, schema))]
            tx.execute(engine.create_schema_sql(schema))
            for statement in engine.create_tables_sql(missing, schema, layer_rules=layer):
                tx.execute(statement)
            for contract in missing:
                state.record_table_origin(
                    tx,
                    TableRef(contract.name, schema),
                    datakit=kit.name,
                    version=kit.version,
                    by="deploy",
                    at=now,
                    state_schema=state_schema,
                )
            created = {c.name for c in missing}
            report.tables.extend(DeployedTable(schema, c.name, c.name in created) for c in contracts)
    return report


def validate_deployment(
    project: Project, datakit: str, destination: str, layer: str = "bronze", *, tenant: Tenant | None = None
) -> list[TableDrift]:
    """Each contract's live table compared with the contract: missing tables, columns, types."""
    from datakit.contracts.audit import in_layout
    from datakit.datakits import load_datakit
    from datakit.load.drift import diff_schema
    from datakit.load.state import table_origin

    kit = load_datakit(project, datakit)
    found: list[TableDrift] = []
    _, target = _destination(project, destination, tenant)
    state_schema = _state_schema(tenant)
    with target.transaction() as tx:
        for schema, contracts in _by_schema(kit, layer, tenant).items():
            for declared in contracts:
                ref = TableRef(declared.name, schema)
                live = tx.columns(ref)
                contract = declared
                if layer == "bronze":  # a table of the old audit layout is read as before: no drift
                    contract = in_layout(declared, (column.name for column in live))
                drifts = tuple(diff_schema(contract, live, target.engine)) if live else ()
                origin = table_origin(tx, ref, state_schema=state_schema) if live else None
                found.append(TableDrift(schema, contract.name, bool(live), drifts, origin))
    return found


def _state_schema(tenant: Tenant | None) -> str:
    from datakit.load.plan import STATE_SCHEMA

    return tenant.schema(STATE_SCHEMA) if tenant is not None else STATE_SCHEMA


def _destination(project: Project, destination: str, tenant: Tenant | None) -> tuple[str, Destination]:
    """The destination actually written (the tenant's stand-in, with the tenant's secrets) and its name."""
    if tenant is None:
        return destination, open_destination_named(project, destination)
    name = tenant.destination_for(destination)
    return name, open_destination_named(project, name, tenant.secrets)


def _by_schema(kit: Datakit, layer: str, tenant: Tenant | None = None) -> dict[str, list[Contract]]:
    grouped: dict[str, list[Contract]] = {}
    for contract in layer_contracts(kit, layer):
        schema = schema_of(contract, layer, kit.name)
        grouped.setdefault(tenant.schema(schema) if tenant else schema, []).append(contract)
    return grouped
