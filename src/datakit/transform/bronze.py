"""The bronze tables a destination holds, by schema: what dbt's generated sources describe.

The rules are the loader's (`datakit.load.resolve`): a pipeline's datakit is its `datakit:`, else the
datakit named like its source; a resource's contract is the datakit's table `contract:` (default: the
resource name) at bronze, else its source contract; the schema is the pipeline's `dataset_name`, else
the destination's `settings.schema`, else `br__<system>__<source schema>`. `transform` sits beside
`load` in the layers, so it cannot call `plans_for`; the rules are restated here, without opening a
source, and a test checks both agree on the example project. A resource without a datakit contract
(reflected or inferred at load time) is listed by table name only: `source()` resolves, columns are
whatever was loaded.

For a tenant (`datakit.config.tenancy`) the tables are those of the bronze pipelines whose destination
the tenant stands in for with `destination`, in the tenant's prefixed schemas (`acme_br__pagila__public`):
what that tenant's loads wrote. Pipelines into a destination the tenant has no stand-in for are not
the tenant's, and are left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from datakit.config.models.sources import (
    FilesSource,
    MysqlSource,
    PostgresSource,
    Resource,
    RestApiSource,
    SqlResource,
)

if TYPE_CHECKING:
    from datakit.config.models.pipelines import Pipeline
    from datakit.config.project import Project
    from datakit.config.tenancy import Tenant
    from datakit.contracts.model import Contract
    from datakit.datakits import Datakit

BRONZE = "bronze"


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


def bronze_tables(project: Project, destination: str, *, tenant: Tenant | None = None) -> list[BronzeTable]:
    """Every table the project's bronze pipelines load into `destination` (as `tenant`, if given),
    sorted by schema and name."""
    from dataclasses import replace

    wanted = project.resolve_name("destination", destination) or destination
    found: dict[tuple[str, str], BronzeTable] = {}
    for pipeline in project.pipelines.values():
        if pipeline.destination.layer != BRONZE:
            continue
        if _loads_into(project, pipeline, tenant) != wanted:
            continue
        for loaded in _pipeline_tables(project, pipeline):
            table = replace(loaded, schema=tenant.schema(loaded.schema)) if tenant is not None else loaded
            key = (table.schema, table.name)
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


def _pipeline_tables(project: Project, pipeline: Pipeline) -> Iterable[BronzeTable]:
    source_name = project.resolve_name("source", pipeline.source.ref) or pipeline.source.ref
    source = project.source(source_name)
    kit = _datakit(project, pipeline, source.name)
    by_name = {resource.name: resource for resource in source.resources}
    chosen = [by_name[name] for name in pipeline.source.resources if name in by_name] or list(
        by_name.values()
    )
    for resource in chosen:
        keyed = resource.write_disposition != "append"
        source_schema = _source_schema(source, resource)
        contract = _contract(kit, resource)
        if contract is not None:
            system = contract.system or (kit.name if kit is not None else source.name)
            fallback = "main" if isinstance(source, RestApiSource | FilesSource) else source_schema
            schema = _schema(project, pipeline, system, contract.schema_name or fallback or "main")
            yield BronzeTable(schema, contract.name, contract, (pipeline.name,), keyed)
            continue
        if isinstance(resource, SqlResource):
            if resource.query is not None:
                continue  # the loader refuses a query without a contract: nothing is loaded
            name = resource.table or resource.name
        else:
            name = resource.contract or resource.name
            source_schema = "main"
        schema = _schema(project, pipeline, source.name, source_schema or "main")
        yield BronzeTable(schema, name, None, (pipeline.name,), keyed)


def _datakit(project: Project, pipeline: Pipeline, source_name: str) -> Datakit | None:
    from datakit.datakits import datakit_names, datakits_dir, load_datakit

    name = pipeline.datakit
    if name is None and source_name in datakit_names(datakits_dir(project)):
        name = source_name
    return load_datakit(project, name) if name is not None else None


def _contract(kit: Datakit | None, resource: Resource) -> Contract | None:
    """The datakit's bronze contract of `resource` (or its source contract at bronze), if it has one."""
    if kit is None:
        return None
    name = resource.contract or resource.name
    if kit.has_table(name, BRONZE):
        return kit.contract(name, BRONZE)
    if kit.has_table(name, "source"):
        return kit.contract(name, "source").evolve(layer=BRONZE)
    if resource.contract is not None or isinstance(resource, SqlResource):
        return kit.contract(name, BRONZE)  # the loader fails the same way: say so before dbt does
    return None  # a REST/files resource without a contract: inferred at load time


def _source_schema(source: object, resource: Resource) -> str | None:
    if not isinstance(resource, SqlResource):
        return None
    if isinstance(source, PostgresSource):
        return resource.schema_ or source.schema_
    if isinstance(source, MysqlSource):
        return resource.schema_ or source.connection.database
    return resource.schema_


def _schema(project: Project, pipeline: Pipeline, system: str, source_schema: str) -> str:
    from datakit.contracts.naming import layer_schema_name

    return (
        pipeline.destination.dataset_name
        or project.destination(pipeline.destination.ref).settings.schema_
        or layer_schema_name(BRONZE, system, source_schema)
    )
