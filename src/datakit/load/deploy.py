"""`datakit deploy`: a datakit's contracts as tables of one destination layer, and drift against them.

Deploying is idempotent: schemas are created if absent and only missing tables are created, so it is
safe to run before every load. Which contracts a layer gets (`layer_contracts`): the datakit's own
contracts of that layer; a layer it has none for mirrors its source contracts. Bronze tables carry the
loader's audit columns, so the loader finds them as it would have made them; LayerRules decide the
constraints (bronze: types and NOT NULL; silver/gold: keys, unique, foreign keys, checks).

With a tenant (`datakit.config.tenancy`), the destination is the tenant's stand-in for the one named,
the connection uses the tenant's secrets, and every schema gets the tenant's prefix
(`acme_br__pagila__public`), exactly where the tenant's loads write.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from datakit.config.project import Project
from datakit.connectors.from_config import MEMORY, DestinationParams, destination_params
from datakit.connectors.params import DuckDBParams, PostgresParams

if TYPE_CHECKING:
    from datakit.config.tenancy import Tenant
    from datakit.contracts.drift import Drift
    from datakit.contracts.model import Contract
    from datakit.datakits import Datakit


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
    from datakit.contracts.deploy import deploy_contracts
    from datakit.contracts.live import live_columns
    from datakit.datakits import load_datakit

    kit = load_datakit(project, datakit)
    destination, params = _destination(project, destination, tenant)
    report = DeployReport(destination, layer)
    with _connect(params) as connection:
        for schema, contracts in _by_schema(kit, layer, tenant).items():
            missing = [c for c in contracts if not live_columns(connection, c.name, schema)]
            deploy_contracts(missing, connection, schema, layer_rules=layer)
            created = {c.name for c in missing}
            report.tables.extend(DeployedTable(schema, c.name, c.name in created) for c in contracts)
    return report


def validate_deployment(
    project: Project, datakit: str, destination: str, layer: str = "bronze", *, tenant: Tenant | None = None
) -> list[TableDrift]:
    """Each contract's live table compared with the contract: missing tables, columns, types."""
    from datakit.contracts.drift import diff_schema
    from datakit.contracts.live import live_columns
    from datakit.datakits import load_datakit

    kit = load_datakit(project, datakit)
    found: list[TableDrift] = []
    _, params = _destination(project, destination, tenant)
    with _connect(params) as connection:
        for schema, contracts in _by_schema(kit, layer, tenant).items():
            for contract in contracts:
                live = live_columns(connection, contract.name, schema)
                drifts = tuple(diff_schema(contract, live)) if live else ()
                found.append(TableDrift(schema, contract.name, bool(live), drifts))
    return found


def _destination(project: Project, destination: str, tenant: Tenant | None) -> tuple[str, DestinationParams]:
    """The destination actually written (the tenant's stand-in) and its parameters (tenant's secrets)."""
    if tenant is None:
        return destination, destination_params(project, destination)
    name = tenant.destination_for(destination)
    return name, destination_params(project, name, tenant.secrets)


def _by_schema(kit: Datakit, layer: str, tenant: Tenant | None = None) -> dict[str, list[Contract]]:
    grouped: dict[str, list[Contract]] = {}
    for contract in layer_contracts(kit, layer):
        schema = schema_of(contract, layer, kit.name)
        grouped.setdefault(tenant.schema(schema) if tenant else schema, []).append(contract)
    return grouped


@contextmanager
def _connect(params: DestinationParams) -> Iterator[Any]:
    """A raw duckdb or psycopg connection (autocommit; `deploy_contracts` opens its own transaction)."""
    if isinstance(params, PostgresParams):
        import psycopg

        with psycopg.connect(params.conninfo(), autocommit=True) as connection:
            yield connection
        return
    assert isinstance(params, DuckDBParams)
    import duckdb

    duck = duckdb.connect(params.database if params.database != MEMORY else MEMORY)
    try:
        yield duck
    finally:
        duck.close()
