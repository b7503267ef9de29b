"""Datakit packages: a system's contracts, typed transforms and factories, as an importable package.

A project's `datakits/<name>/` folder is a Python package; `load_datakit` imports it under a module
name of its own (so two datakits, or two projects, with a `customer` table never meet) and collects
what it exposes: SQLModel table classes and YAML table specs (`contracts/*.yaml`) as contracts, and
functions decorated with `@transform` as typed row transforms. Pipelines name them in YAML.

    from datakit.datakits import transform

    @transform
    def customer_bronze_transform(source: Source.Customer) -> Bronze.Customer: ...

Importing this package is cheap; SQLModel is imported when a datakit is loaded.
"""

from __future__ import annotations

from datakit.datakits.errors import DatakitPackageError
from datakit.datakits.package import (
    Datakit,
    DatakitTable,
    datakit_at,
    datakit_names,
    datakits_dir,
    load_datakit,
    requires,
)
from datakit.datakits.registry import TypedTransform, transform

__all__ = [
    "Datakit",
    "DatakitPackageError",
    "DatakitTable",
    "TypedTransform",
    "datakit_at",
    "datakit_names",
    "datakits_dir",
    "load_datakit",
    "requires",
    "transform",
]
