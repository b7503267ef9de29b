"""Which datakit and contract a pipeline's resource loads with, and which schema it lands in.

The loader (`datakit.load.resolve`) plans loads by these rules and dbt's generated sources
(`datakit.transform.bronze`) describe the tables those loads write; both sit above this layer and
neither may import the other, so the rules live here, once.

* Datakit: the pipeline's `datakit:` (`false`: none). Never implied: adding a datakit package must not
  change where an existing pipeline loads or with which contract, so when the pipeline names none and
  a datakit is named like its source, that is an ambiguity (`datakit validate` reports it at the
  pipeline, and a load refuses to guess); with no such datakit, none.
* Contract: the datakit's table at the pipeline's layer; at bronze, else its source table (bronze
  mirrors the source).
* Target schema: the pipeline's `dataset_name`, else the destination's `settings.schema`, else
  `layer_schema_name(layer, system, source schema)` (e.g. `br__pagila__public`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from datakit.config.models.sources import SourceBase, SqlResource
from datakit.errors import DatakitError

if TYPE_CHECKING:
    from datakit.config.models.pipelines import Pipeline
    from datakit.config.project import Project
    from datakit.contracts.model import Contract
    from datakit.datakits.package import Datakit

BRONZE = "bronze"


def pipeline_datakit_name(project: Project, pipeline: Pipeline, source_name: str) -> str | None:
    """The datakit a pipeline uses (its `datakit:`), or None; an ambiguous binding is an error."""
    if pipeline.datakit is False:
        return None
    if pipeline.datakit is not None:
        return pipeline.datakit
    ambiguity = unbound_datakit(project, pipeline, source_name)
    if ambiguity is not None:
        raise ambiguity
    return None


def unbound_datakit(project: Project, pipeline: Pipeline, source_name: str) -> DatakitError | None:
    """The error for a pipeline that names no datakit while one is named like its source, else None."""
    if pipeline.datakit is not None:
        return None
    from datakit.datakits.package import datakit_names, datakits_dir

    if source_name not in datakit_names(datakits_dir(project)):
        return None
    return DatakitError(
        f"pipeline {pipeline.name!r} names no datakit, but datakit {source_name!r} is named like its "
        f"source: datakit does not guess which contracts a pipeline loads with",
        hint=f"add `datakit: {source_name}` to the pipeline to load with its contracts, or "
        "`datakit: false` to keep contracts reflected from the source",
    )


def pipeline_datakit(project: Project, pipeline: Pipeline, source_name: str) -> Datakit | None:
    """The loaded datakit of `pipeline_datakit_name`, or None."""
    name = pipeline_datakit_name(project, pipeline, source_name)
    if name is None:
        return None
    from datakit.datakits.package import load_datakit

    return load_datakit(project, name)


def layer_contract(kit: Datakit, name: str, layer: str) -> Contract | None:
    """The datakit's table `name` at `layer`; at bronze, else its source table; None when it has neither."""
    if kit.has_table(name, layer):
        return kit.contract(name, layer)
    if layer == BRONZE and kit.has_table(name, "source"):
        return kit.contract(name, "source").evolve(layer=BRONZE)
    return None


def sql_source_schema(source: SourceBase, resource: SqlResource) -> str | None:
    """The schema a SQL resource reads from: its own, else the source's (MySQL: the database)."""
    return resource.schema_ or source.default_schema


def target_schema(project: Project, pipeline: Pipeline, system: str, source_schema: str) -> str:
    """The pipeline's `dataset_name`, else the destination's schema, else `<layer>__<system>__<schema>`."""
    from datakit.contracts.naming import layer_schema_name

    return (
        pipeline.destination.dataset_name
        or project.destination(pipeline.destination.ref).settings.schema_
        or layer_schema_name(pipeline.destination.layer, system, source_schema)
    )
