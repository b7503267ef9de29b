"""A pipeline of a project -> the `ResourcePlan`s the loader carries out.

Everything YAML and the datakit say is decided here, once: connectors (secrets resolved), the target
contract (the datakit's table at the pipeline's layer), what to read, where to write, how to treat
drift, which transform to apply. The loader then never looks at config again.

Rules:
* Datakit, contract and target schema: `datakit.datakits.targets` (shared with dbt's generated
  sources). A pipeline without a datakit reflects its contract from the live source table.
* Tenant (`datakit.config.tenancy`): the destination is the tenant's stand-in for the pipeline's, the
  secrets are the tenant's, the target schema and the state schema get the tenant's prefix
  (`acme_br__pagila__public`, `acme__datakit`). Which schema a name becomes is decided before the
  prefix, from the pipeline's own destination, so every tenant gets the same tables under its prefix.
* A source with a catalog (`SourceCapabilities.catalog`) without a datakit contract has its contract
  reflected from the live table. REST API and files sources have no catalog: without a datakit
  contract, the loader infers the contract from the first rows the load reads (the first batch after
  the saved cursor, the first file; `datakit.load.infer`), and their schema is `main`
  (`br__<source>__main`); REST child tables (`child_tables: true`) land next to their parent's target
  (`datakit.load.children`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar, cast

from datakit.config.models.pipelines import Pipeline
from datakit.config.models.sources import FileResource, Resource, RestResource, SourceBase, SqlResource
from datakit.config.project import Project
from datakit.connectors import Destination, ReadRequest, Source, TableRef, open_source
from datakit.connectors.from_config import open_destination_named, project_secrets, source_params
from datakit.datakits.consolidation import Binding, resource_binding
from datakit.datakits.targets import layer_contract, pipeline_datakit, sql_source_schema, target_schema
from datakit.errors import DatakitError, not_found
from datakit.load.drift_mode import DriftMode
from datakit.load.plan import BatchTransform, IncrementalPlan, ResourcePlan

R = TypeVar("R", bound=Resource)

if TYPE_CHECKING:
    from datakit.config.tenancy import Tenant
    from datakit.connectors.base import ReflectingSource
    from datakit.contracts.model import Contract
    from datakit.datakits import Datakit, TypedTransform
    from datakit.load.infer import ContractToInfer

ApiResource = RestResource | FileResource


def plans_for(
    project: Project,
    pipeline_name: str,
    *,
    resources: Sequence[str] | None = None,
    tenant: Tenant | None = None,
) -> tuple[Destination, list[ResourcePlan]]:
    """The destination of pipeline `pipeline_name` and one plan per resource (or per named resource);
    with `tenant`, the tenant's destination, secrets and schemas (see the rules above)."""
    pipeline = project.pipeline(pipeline_name)
    secrets = tenant.secrets if tenant is not None else project_secrets(project)
    source_name = project.resolve_name("source", pipeline.source.ref) or pipeline.source.ref
    source_config = project.source(source_name)
    source = open_source(source_params(project, source_name, secrets))
    destination_name = (
        project.resolve_name("destination", pipeline.destination.ref) or pipeline.destination.ref
    )
    if tenant is not None:
        destination_name = tenant.destination_for(destination_name)
    destination = open_destination_named(project, destination_name, secrets)
    kit = pipeline_datakit(project, pipeline, source_config.name)
    available: Sequence[SqlResource | ApiResource] = source_config.resources
    plans = [
        _plan(project, pipeline, source_config, source, resource, kit)
        if isinstance(resource, SqlResource)
        else _api_plan(project, pipeline, source_config.name, source, resource, kit)
        for resource in _resources(pipeline, available, resources)
    ]
    if tenant is not None and tenant.schema_prefix:
        plans = [for_tenant(plan, tenant) for plan in plans]
    return destination, plans


def for_tenant(plan: ResourcePlan, tenant: Tenant) -> ResourcePlan:
    """`plan` moved into the tenant's schemas: its target and its state schema get the prefix.

    REST child tables are named after their parent's target (`datakit.load.children`), so they follow.
    """
    target = plan.target
    schema = tenant.schema(target.schema) if target.schema else None
    return replace(
        plan,
        target=TableRef(target.name, schema),
        state_schema=tenant.schema(plan.state_schema),
    )


def _resources(pipeline: Pipeline, available: Sequence[R], wanted: Sequence[str] | None) -> list[R]:
    by_name = {resource.name: resource for resource in available}
    in_pipeline = list(pipeline.source.resources) or list(by_name)
    if not wanted:
        return [by_name[name] for name in in_pipeline]
    for name in wanted:
        if name not in in_pipeline:
            error = not_found("resource", name, in_pipeline)
            error.message = f"pipeline {pipeline.name!r} has no resource {name!r}"
            raise error
    return [by_name[name] for name in dict.fromkeys(wanted)]


def _plan(
    project: Project,
    pipeline: Pipeline,
    source_config: SourceBase,
    source: Source,
    resource: SqlResource,
    kit: Datakit | None,
) -> ResourcePlan:
    layer = pipeline.destination.layer
    source_schema = sql_source_schema(source_config, resource)
    table = TableRef(resource.table or resource.name, source_schema) if resource.query is None else None
    typed = _typed_transform(pipeline, resource, kit)
    read_columns = resource.read_columns
    binding = resource_binding(kit, resource, layer)
    if binding is not None and binding.foreign:
        contract = binding.table.contract
    else:
        contract = _target_contract(kit, resource, layer, table, source, read_columns)
    if typed is not None and read_columns is None:
        from datakit.contracts.sqlmodel_source import contract_from_sqlmodel

        read_columns = list(contract_from_sqlmodel(typed.source_model).column_names)
    request = ReadRequest(
        table=table,
        query=resource.query,
        columns=read_columns,
        batch_size=pipeline.batch_size,
    )
    label_table = f"{source_schema}.{table.name}" if table and source_schema else (table or resource).name
    plan = _resource_plan(
        pipeline,
        resource,
        source,
        request,
        contract,
        _target_ref(project, pipeline, binding, contract, kit, source_config.name, source_schema or "main"),
        f"{source_config.name}.{label_table}",
        _batch_transform(typed, resource.expressions),
        binding.kit if binding is not None and binding.foreign else kit,
    )
    return _consolidated(project, pipeline, source_config.name, binding, plan, typed)


def _target_ref(
    project: Project,
    pipeline: Pipeline,
    binding: Binding | None,
    contract: Contract,
    kit: Datakit | None,
    source_name: str,
    source_schema: str,
) -> TableRef:
    """Where a resource lands: a table of another datakit (a shared contract) in that datakit's schema,
    whatever the source's schema is; else the source's schema under the contract's system."""
    system = contract.system or (kit.name if kit is not None else source_name)
    if binding is not None and binding.foreign:
        return TableRef(
            contract.name, target_schema(project, pipeline, system, contract.schema_name or "main")
        )
    return TableRef(
        contract.name, target_schema(project, pipeline, system, contract.schema_name or source_schema)
    )


def _consolidated(
    project: Project,
    pipeline: Pipeline,
    source_name: str,
    binding: Binding | None,
    plan: ResourcePlan,
    typed: TypedTransform | None,
) -> ResourcePlan:
    """`plan` loading its source's share of a consolidated target (`target:`), when it is one."""
    from datakit.datakits.consolidation import check_rule, precedence, target_for
    from datakit.load.plan import Consolidation

    target = target_for(project, pipeline, binding)
    if target is None or binding is None:
        return plan
    problem = check_rule(target, binding.table)
    if problem is not None:
        raise DatakitError(f"target {target.name!r}: {problem.message}", hint=problem.hint)
    contract = binding.table.contract
    key = tuple(k for k in contract.primary_key if k != target.provenance)  # not the source's own key
    consolidation = Consolidation(
        target=target.name,
        provenance=target.provenance,
        source=source_name,
        rule=target.key_collisions,
        key=key,
        order=precedence(project, target),
    )
    transform = plan.transform
    if typed is not None:  # the transform may leave the provenance column to the loader
        from datakit.load.transforms import row_transform

        fills = (target.provenance,)
        transform = row_transform(typed.func, typed.source_model, typed.target_model, loader_fills=fills)
    return replace(
        plan, primary_key=(target.provenance, *key), consolidation=consolidation, transform=transform
    )


def _api_plan(
    project: Project,
    pipeline: Pipeline,
    source_name: str,
    source: Source,
    resource: ApiResource,
    kit: Datakit | None,
) -> ResourcePlan:
    """The plan of a REST endpoint or a file set: one table, the contract from the datakit or inferred."""
    from datakit.load.infer import INFERRED_SCHEMA, ContractToInfer

    layer = pipeline.destination.layer
    typed = _typed_transform(pipeline, resource, kit)
    request = ReadRequest(table=TableRef(resource.name), batch_size=pipeline.batch_size)
    binding = resource_binding(kit, resource, layer)
    contract: Contract | ContractToInfer
    if binding is not None and binding.foreign:
        contract = binding.table.contract
        target = _target_ref(project, pipeline, binding, contract, kit, source_name, INFERRED_SCHEMA)
    else:
        contract = _api_contract(kit, resource, layer, source_name)
        system = contract.system or (kit.name if kit is not None else source_name)
        schema = target_schema(project, pipeline, system, contract.schema_name or INFERRED_SCHEMA)
        target = TableRef(contract.name, schema)
    plan = _resource_plan(
        pipeline,
        resource,
        source,
        request,
        contract,
        target,
        f"{source_name}.{resource.name}",
        _batch_transform(typed, None),
        None
        if isinstance(contract, ContractToInfer)
        else (binding.kit if binding is not None and binding.foreign else kit),
    )
    return _consolidated(project, pipeline, source_name, binding, plan, typed)


def _typed_transform(pipeline: Pipeline, resource: Resource, kit: Datakit | None) -> TypedTransform | None:
    """The datakit transform a resource names (an error when the pipeline has no datakit to hold it)."""
    if not resource.transform:
        return None
    if kit is None:
        raise DatakitError(
            f"resource {resource.name!r} names transform {resource.transform!r} but pipeline "
            f"{pipeline.name!r} uses no datakit",
            hint="set `datakit:` in the pipeline to the datakit that registers the transform",
        )
    return kit.transform(resource.transform)


def _resource_plan(
    pipeline: Pipeline,
    resource: Resource,
    source: Source,
    request: ReadRequest,
    contract: Contract | ContractToInfer,
    target: TableRef,
    source_label: str,
    transform: BatchTransform | None,
    kit: Datakit | None = None,
) -> ResourcePlan:
    """What every kind of resource says the same way: disposition, key, incremental, drift mode."""
    incremental = resource.incremental
    return ResourcePlan(
        pipeline=pipeline.name,
        resource=resource.name,
        source=source,
        request=request,
        contract=contract,
        target=target,
        source_label=source_label,
        write_disposition=resource.write_disposition,
        primary_key=tuple(resource.primary_key),
        incremental=IncrementalPlan(incremental.cursor_field, incremental.initial_value, incremental.lag)
        if incremental is not None and incremental.enabled
        else None,
        drift_mode=DriftMode(pipeline.drift_mode),
        transform=transform,
        contract_origin=(kit.name, kit.version) if kit is not None else None,
    )


def _api_contract(
    kit: Datakit | None, resource: ApiResource, layer: str, source_name: str
) -> Contract | ContractToInfer:
    """The datakit's contract for the resource when it has one, else one the load infers from its sample."""
    from datakit.contracts.model import Layer
    from datakit.load.infer import ContractToInfer

    name = resource.contract or resource.name
    found = layer_contract(kit, name, layer) if kit is not None else None
    if found is not None:
        return found
    if kit is not None and resource.contract is not None:
        return kit.contract(name, layer)  # named explicitly: a missing contract is an error, not a guess
    return ContractToInfer(name, tuple(resource.primary_key), Layer(layer), source_name)


def infer_contract(
    source: Source,
    request: ReadRequest,
    name: str,
    primary_key: Sequence[str] = (),
    *,
    layer: str = "source",
    system: str | None = None,
) -> Contract:
    """The contract of a sample of `request`'s rows (see `datakit.load.infer`)."""
    from pydantic import ValidationError

    from datakit.load.infer import contract_from_arrow

    schema = source.arrow_schema(request)
    try:
        return contract_from_arrow(name, schema, primary_key=primary_key, layer=layer, system=system)
    except ValidationError as exc:
        problem = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise DatakitError(
            f"resource {name!r}: cannot infer a contract from the source's records: {problem}",
            hint=f"the sampled records have the fields: {', '.join(schema.names)}",
        ) from None


def _target_contract(
    kit: Datakit | None,
    resource: SqlResource,
    layer: str,
    table: TableRef | None,
    source: Source,
    read_columns: Sequence[str] | None,
) -> Contract:
    name = resource.contract or resource.name
    if kit is None:
        if table is None or not source.capabilities.catalog:
            what = "reads a query" if table is None else "comes from a source without a catalog"
            raise DatakitError(
                f"resource {resource.name!r} {what}, so its contract cannot be reflected",
                hint="give the pipeline a datakit with a contract for it (`datakit:`, `contract:`)",
            )
        return _reflected(cast("ReflectingSource", source), table, layer, read_columns)
    return layer_contract(kit, name, layer) or kit.contract(name, layer)  # the latter: a located error


def _reflected(
    source: ReflectingSource, table: TableRef, layer: str, read_columns: Sequence[str] | None
) -> Contract:
    """The live source table's contract, for pipelines without a datakit (bronze mirrors the source):
    only the columns the resource reads, when it names them."""
    (contract,) = source.reflect(table.schema or "main", tables=[table.name], layer=layer)
    wanted = set(read_columns or ())
    kept = [column for column in contract.columns if column.name in wanted]
    if not kept:  # all of them, or none the table has (the read says which is missing)
        return contract
    names = {column.name for column in kept}
    key = contract.primary_key if set(contract.primary_key) <= names else ()
    return contract.evolve(
        columns=tuple(c if c.name in key else c.model_copy(update={"primary_key": False}) for c in kept),
        primary_key=key,
        unique=tuple(key for key in contract.unique if set(key) <= names),
        temporal_exclude=tuple(name for name in contract.temporal_exclude if name in names),
    )


def _batch_transform(
    typed: TypedTransform | None, expressions: dict[str, str] | None
) -> BatchTransform | None:
    if typed is not None:
        from datakit.load.transforms import row_transform

        return row_transform(typed.func, typed.source_model, typed.target_model)
    if expressions:
        from datakit.load.transforms import sql_transform

        return sql_transform(expressions, keep_columns=True)
    return None
