"""The bronze tables a destination holds, by schema: what dbt's generated sources describe.

The rules are the loader's, from `datakit.datakits.targets`: a pipeline's datakit, a resource's
contract at bronze, its schema. A resource without a datakit contract (reflected or inferred at load
time) is listed by table name only: `source()` resolves, columns are whatever was loaded. Resolving
here opens no source.

Schemas are named as the project without tenants has them (`br__pagila__public`); a tenant's
physical schema is `tenant.schema(name)`, which the generated sources apply. For a tenant
(`datakit.config.tenancy`) the tables are those of the bronze pipelines of the jobs it runs, whose
destination it stands in for with `destination`: what that tenant's loads wrote. Other pipelines'
tables are not the tenant's (they may not even exist in its schemas), so an unselected `dbt build` of
a tenant never tests them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from datakit.config.models.sources import Resource, SqlResource
from datakit.datakits.targets import (
    BRONZE,
    layer_contract,
    pipeline_datakit,
    sql_source_schema,
    target_schema,
)

if TYPE_CHECKING:
    from datakit.config.models.pipelines import Pipeline
    from datakit.config.project import Project
    from datakit.config.tenancy import Tenant
    from datakit.contracts.model import Contract
    from datakit.datakits import Datakit


@dataclass(frozen=True)
class BronzeTable:
    """One bronze table: its schema and name, the contract it was loaded with (if known), who loads it.

    `keyed` is False when some resource appends into the table: its primary key then repeats by
    design, so no `unique` test is generated for it.
    """

    schema: str
    name: str
    contract: Contract | None
    pipelines: tuple[str, ...]
    keyed: bool = True


def bronze_tables(
    project: Project,
    destination: str,
    *,
    tenant: Tenant | None = None,
    referenced: set[tuple[str, str]] | None = None,
) -> list[BronzeTable]:
    """Every table the project's bronze pipelines (those of `tenant`'s jobs, if given) load into
    `destination`, sorted by schema and name; only those in `referenced` (schema, table), if given."""
    wanted = project.resolve_name("destination", destination) or destination
    mine = _tenant_pipelines(project, tenant)
    found: dict[tuple[str, str], BronzeTable] = {}
    for pipeline in project.pipelines.values():
        if pipeline.destination.layer != BRONZE or (mine is not None and pipeline.name not in mine):
            continue
        if _loads_into(project, pipeline, tenant) != wanted:
            continue
        for _, table in _pipeline_tables(project, pipeline):
            key = (table.schema, table.name)
            if referenced is not None and key not in referenced:
                continue
            seen = found.get(key)
            if seen is None:
                found[key] = table
            else:  # two pipelines load one table (e.g. a full and an hourly one): keep the first contract
                found[key] = BronzeTable(
                    seen.schema,
                    seen.name,
                    seen.contract or table.contract,
                    (*seen.pipelines, *table.pipelines),
                    seen.keyed and table.keyed,
                )
    return [found[key] for key in sorted(found)]


def _tenant_pipelines(project: Project, tenant: Tenant | None) -> set[str] | None:
    """The pipelines of the jobs `tenant` runs; None (all of them) for the project without tenants."""
    if tenant is None or tenant.name is None:
        return None
    names: set[str] = set()
    for job in tenant.jobs:
        for entry in project.job(job).pipelines:
            names.add(project.resolve_name("pipeline", entry.name) or entry.name)
    return names


def _loads_into(project: Project, pipeline: Pipeline, tenant: Tenant | None) -> str | None:
    """The destination the pipeline writes into (for `tenant`: its stand-in, None when it has none)."""
    from datakit.errors import DatakitError

    name = project.resolve_name("destination", pipeline.destination.ref)
    if tenant is None or name is None:
        return name
    try:
        return tenant.destination_for(name)
    except DatakitError:
        return None


def resource_tables(project: Project, pipeline_name: str) -> dict[str, tuple[str, str]]:
    """(schema, table) each resource of a pipeline loads into, as the project without tenants names
    it (the loader's rules; nothing opened). A resource the loader would refuse (a query without a
    contract) is absent."""
    pipeline = project.pipeline(pipeline_name)
    return {resource: (table.schema, table.name) for resource, table in _pipeline_tables(project, pipeline)}


def _pipeline_tables(project: Project, pipeline: Pipeline) -> Iterable[tuple[str, BronzeTable]]:
    """(resource name, its table) of each resource the pipeline loads."""
    source_name = project.resolve_name("source", pipeline.source.ref) or pipeline.source.ref
    source = project.source(source_name)
    kit = pipeline_datakit(project, pipeline, source.name)
    by_name = {resource.name: resource for resource in source.resources}
    chosen = [by_name[name] for name in pipeline.source.resources if name in by_name] or list(
        by_name.values()
    )
    for resource in chosen:
        keyed = resource.write_disposition != "append"
        source_schema = sql_source_schema(source, resource) if isinstance(resource, SqlResource) else None
        contract = _contract(kit, resource)
        if contract is not None:
            system = contract.system or (kit.name if kit is not None else source.name)
            if _foreign(kit, resource):  # another datakit's table: its own schema, not the source's
                source_schema = None
            schema = target_schema(project, pipeline, system, contract.schema_name or source_schema or "main")
            yield resource.name, BronzeTable(schema, contract.name, contract, (pipeline.name,), keyed)
            continue
        if isinstance(resource, SqlResource):
            if resource.query is not None:
                continue  # the loader refuses a query without a contract: nothing is loaded
            name = resource.table or resource.name
        else:
            name = resource.contract or resource.name
            source_schema = "main"
        schema = target_schema(project, pipeline, source.name, source_schema or "main")
        yield resource.name, BronzeTable(schema, name, None, (pipeline.name,), keyed)


def _contract(kit: Datakit | None, resource: Resource) -> Contract | None:
    """The datakit's bronze contract of `resource` (or its source contract at bronze), if it has one."""
    if kit is None:
        return None
    from datakit.datakits.consolidation import resource_binding

    binding = resource_binding(kit, resource, BRONZE)
    if binding is not None and binding.foreign:  # a typed transform into another datakit's table
        return binding.table.contract
    name = resource.contract or resource.name
    found = layer_contract(kit, name, BRONZE)
    if found is not None:
        return found
    if resource.contract is not None or isinstance(resource, SqlResource):
        return kit.contract(name, BRONZE)  # the loader fails the same way: say so before dbt does
    return None  # a REST/files resource without a contract: inferred at load time


def _foreign(kit: Datakit | None, resource: Resource) -> bool:
    from datakit.datakits.consolidation import resource_binding

    binding = resource_binding(kit, resource, BRONZE)
    return binding is not None and binding.foreign
