"""`datakit reflect`: a configured source's schema -> a datakit package (see `contracts.render`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from datakit.config.models.sources import MysqlSource, PostgresSource
from datakit.config.project import Project
from datakit.load.connect import source_params, sqlalchemy_url


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
) -> Reflected:
    """Reflect `source`'s `schema` into the package folder `out`; its name is the datakit's system."""
    from datakit.contracts.reflect import reflect_database
    from datakit.contracts.render import render_datakit_package

    config = project.source(source)
    if schema is None:
        if isinstance(config, PostgresSource):
            schema = config.schema_
        elif isinstance(config, MysqlSource):
            schema = config.connection.database
        else:
            schema = "main"
    system = out.name
    contracts = reflect_database(
        sqlalchemy_url(source_params(project, source)), schema, system=system, tables=tables
    )
    package = render_datakit_package(contracts, out.parent, system)
    return Reflected(package, schema, [c.name for c in contracts])
