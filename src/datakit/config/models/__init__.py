"""The typed model of every config kind, and the registry that maps a file's top-level key to its model.

The registry is derived from the model classes, not kept by hand elsewhere: the loader, the JSON Schema
export and `datakit list` all read `KINDS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from pydantic import TypeAdapter

from datakit.config.models.checks import CHECK_KINDS, CheckBase, CheckSuite, CheckSuiteRef
from datakit.config.models.destinations import (
    Destination,
    DuckDBDestination,
    PostgresDestination,
    SparkDestination,
)
from datakit.config.models.jobs import Job, JobPipeline
from datakit.config.models.pipelines import Pipeline
from datakit.config.models.project import ProjectConfig
from datakit.config.models.secrets import ENVIRONMENTS, SecretSpec
from datakit.config.models.sources import (
    FilesSource,
    MysqlSource,
    PostgresSource,
    Resource,
    RestApiSource,
    Source,
    SqliteSource,
)
from datakit.config.models.targets import Target
from datakit.config.models.triggers import Trigger
from datakit.config.models.warehouses import Warehouse


@dataclass(frozen=True)
class Kind:
    """One kind of config file: its top-level key, its folder under config/, and its model."""

    key: str
    folder: str
    model: Any  # a model class or an Annotated discriminated union
    named: bool = True  # objects of this kind have a `name` and are referred to by it
    title: str = ""

    @cached_property
    def adapter(self) -> TypeAdapter[Any]:
        return TypeAdapter(self.model)


KINDS: dict[str, Kind] = {
    kind.key: kind
    for kind in (
        Kind("source", "sources", Source, title="Source"),
        Kind("destination", "destinations", Destination, title="Destination"),
        Kind("pipeline", "pipelines", Pipeline, title="Pipeline"),
        Kind("job", "jobs", Job, title="Job"),
        Kind("trigger", "triggers", Trigger, title="Trigger"),
        Kind("warehouse", "warehouses", Warehouse, title="Warehouse"),
        Kind("checks", "checks", CheckSuite, title="Check suite"),
        Kind("target", "targets", Target, title="Target"),
        Kind("secrets", "", dict[str, SecretSpec], named=False, title="Secrets mapping"),
    )
}

PROJECT_KIND = Kind("project", "", ProjectConfig, named=False, title="Project (datakit.yaml)")

__all__ = [
    "CHECK_KINDS",
    "ENVIRONMENTS",
    "KINDS",
    "PROJECT_KIND",
    "CheckBase",
    "CheckSuite",
    "CheckSuiteRef",
    "Destination",
    "DuckDBDestination",
    "FilesSource",
    "Job",
    "JobPipeline",
    "Kind",
    "MysqlSource",
    "Pipeline",
    "PostgresDestination",
    "PostgresSource",
    "ProjectConfig",
    "Resource",
    "RestApiSource",
    "SecretSpec",
    "Source",
    "SparkDestination",
    "SqliteSource",
    "Target",
    "Trigger",
    "Warehouse",
]
