"""Which consolidated target (`target:` config) a pipeline's resource loads, and what it loads into.

A resource binds to a datakit table: the table its typed transform returns when that belongs to
another datakit (a source datakit mapping its rows into a shared contract, `requires("crm")`), else
its `contract:` (default: its name) in the pipeline's datakit. A target consolidates the binding of
the pipelines it lists. The loader (`datakit.load.resolve`) and `datakit validate` (`checks`) both ask
here, so a load never disagrees with what validate said.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from datakit.datakits.errors import DatakitPackageError
from datakit.datakits.package import DatakitTable, owner_of

if TYPE_CHECKING:
    from datakit.config.models.pipelines import Pipeline
    from datakit.config.models.sources import Resource
    from datakit.config.models.targets import Target
    from datakit.config.project import Project
    from datakit.datakits.package import Datakit


@dataclass(frozen=True)
class Binding:
    """The datakit table a resource loads into."""

    kit: Datakit
    table: DatakitTable
    foreign: bool
    """The table belongs to another datakit than the pipeline's (through a typed transform)."""

    @property
    def label(self) -> str:
        return f"{self.kit.name}.{self.table.key}"

    @property
    def layer(self) -> str:
        return str(self.table.layer)


def resource_binding(kit: Datakit | None, resource: Resource, layer: str) -> Binding | None:
    """The table `resource` loads into (see the module's docstring); None when it has no datakit table."""
    if kit is None:
        return None
    if resource.transform and not resource.contract and resource.transform in kit.transforms:
        owner = owner_of(kit.transforms[resource.transform].target_model)
        if owner is not None and owner[0] is not kit:
            return Binding(owner[0], owner[1], foreign=True)
    name = resource.contract or resource.name
    for wanted in (layer, "source") if layer == "bronze" else (layer,):
        if kit.has_table(name, wanted):
            return Binding(kit, kit.table(name, wanted), foreign=False)
    return None


def target_table(project: Project, target: Target, layer: str) -> tuple[Datakit, DatakitTable]:
    """The consolidated contract a target names, at `layer`; a DatakitPackageError when absent."""
    from datakit.datakits.package import load_datakit

    kit = load_datakit(project, target.datakit)
    return kit, kit.table(target.table, layer)


def target_for(project: Project, pipeline: Pipeline, binding: Binding | None) -> Target | None:
    """The target that lists `pipeline` and consolidates the table of `binding`, or None."""
    if binding is None:
        return None
    for target in project.targets.values():
        listed = {project.resolve_name("pipeline", ref) or ref for ref in target.pipelines}
        if pipeline.name not in listed or target.datakit != binding.kit.name:
            continue
        if target.table in (binding.table.contract.name, binding.table.key):
            return target
    return None


def precedence(project: Project, target: Target) -> tuple[str, ...]:
    """The sources of a target's pipelines, in its `pipelines` order (each once): highest first."""
    order: list[str] = []
    for ref in target.pipelines:
        name = project.resolve_name("pipeline", ref)
        if name is None:
            continue
        pipeline = project.pipelines[name]
        source = project.resolve_name("source", pipeline.source.ref) or pipeline.source.ref
        if source not in order:
            order.append(source)
    return tuple(order)


def check_rule(target: Target, table: DatakitTable) -> DatakitPackageError | None:
    """The error of a target whose provenance column or key does not fit its `key_collisions` rule."""
    from datakit.contracts.types import TypeKind
    from datakit.errors import did_you_mean

    contract = table.contract
    if target.provenance not in contract.column_names:
        return DatakitPackageError(
            f"the provenance column {target.provenance!r} is not a column of {table.key!r}",
            hint=did_you_mean(target.provenance, contract.column_names)
            or f"add a string column {target.provenance!r} to the contract (the loader fills it)",
        )
    if contract.column(target.provenance).type.kind is not TypeKind.STRING:
        return DatakitPackageError(
            f"the provenance column {target.provenance!r} is {contract.column(target.provenance).type}; "
            "it holds source names, so it must be a string",
        )
    keyed = target.provenance in contract.primary_key
    if target.key_collisions == "source_key" and not keyed:
        return DatakitPackageError(
            f"key_collisions: source_key, but the primary key of {table.key!r} "
            f"({', '.join(contract.primary_key) or 'none'}) does not include {target.provenance!r}",
            hint=f"make {target.provenance!r} part of the primary key, or use key_collisions: precedence",
        )
    if target.key_collisions == "precedence" and (keyed or not contract.primary_key):
        return DatakitPackageError(
            f"key_collisions: precedence picks one row per key, but the primary key of {table.key!r} is "
            f"({', '.join(contract.primary_key) or 'none'})",
            hint=f"key the table by its business key alone (without {target.provenance!r}), "
            "or use key_collisions: source_key",
        )
    return None
