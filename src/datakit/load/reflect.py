"""`datakit reflect`: a configured source's schema -> a datakit package (see `contracts.render`).

Sources with a catalog (`SourceCapabilities.catalog`: SQL databases) are reflected from it. REST API and
files sources have none: their contracts are inferred from a sample of `sample` records per resource
(`datakit.load.infer`) and written the same way, as a datakit to review and tighten (lengths, NOT NULL,
accepted values) before it is relied upon.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from datakit.config.models.sources import Source as SourceConfig
from datakit.config.project import Project
from datakit.connectors import ReadRequest, Source, TableRef, open_source
from datakit.connectors.from_config import source_params
from datakit.errors import not_found

if TYPE_CHECKING:
    from datakit.connectors.base import ReflectingSource
    from datakit.contracts.model import Contract

DEFAULT_SAMPLE = 1000


@dataclass(frozen=True)
class Reflected:
    package: Path
    schema: str
    tables: list[str]


def reflect_source(
    project: Project,
    source: str,
    out: Path,
    *,
    schema: str | None = None,
    tables: Sequence[str] | None = None,
    sample: int = DEFAULT_SAMPLE,
) -> Reflected:
    """Reflect `source`'s `schema` into the package folder `out`; its name is the datakit's system."""
    from datakit.contracts.render import render_datakit_package

    config = project.source(source)
    system = out.name
    connector = open_source(source_params(project, source))
    if not connector.capabilities.catalog:
        contracts = _sampled(connector, config, system, tables, sample)
        package = render_datakit_package(contracts, out.parent, system)
        return Reflected(package, contracts[0].schema_name or "main", [c.name for c in contracts])
    schema = schema or config.default_schema or "main"
    contracts = cast("ReflectingSource", connector).reflect(schema, system=system, tables=tables)
    package = render_datakit_package(contracts, out.parent, system)
    return Reflected(package, schema, [c.name for c in contracts])


def _sampled(
    connector: Source, config: SourceConfig, system: str, tables: Sequence[str] | None, sample: int
) -> list[Contract]:
    """One inferred contract per resource (or per named one), from its first `sample` records."""
    from datakit.load.resolve import infer_contract

    resources = {resource.name: resource for resource in config.resources}
    for name in tables or ():
        if name not in resources:
            raise not_found("resource", name, resources)
    return [
        infer_contract(
            connector,
            ReadRequest(table=TableRef(name), batch_size=max(1, sample)),
            name,
            resources[name].primary_key,
            system=system,
        )
        for name in (tables or list(resources))
    ]
