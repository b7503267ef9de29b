"""The destination engines, one folder each, named as the destination `type:` they serve.

A folder holds everything one engine says its own way: `engine.py` (its `Engine`: types, quoting, DDL,
temporary tables, locks), `destination.py` (the destination, its transaction and read-only session, its
dbt target; `open(params)`), `params.py` (its connection parameters; `from_config(...)` builds them
from the destination's config), `errors.py` (which driver errors are transient). Folders are imported
only when a destination of theirs is opened, so the CLI starts without any driver. Adding an engine is a
folder, its name in `ENGINES`, and its config model (`datakit.config.models.destinations`); see
`docs/recipes/adding-an-engine.md`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from datakit.config.project import Project
    from datakit.config.secrets import Secrets
    from datakit.connectors.base import Destination
    from datakit.connectors.engine import Engine


class Typed(Protocol):
    """Connection parameters or a destination's config: anything naming its engine by `type`."""

    @property
    def type(self) -> str: ...


ENGINES = ("duckdb", "postgres", "spark")
"""The destination types, each the name of its folder here."""


def open_destination(params: Typed) -> Destination:
    """The destination connector for `params` (nothing connects until a transaction opens)."""
    destination: Destination = _module(params.type, "destination").open(params)
    return destination


def engine_of(kind: str) -> Engine:
    """The `Engine` of destinations of type `kind`, without importing its driver (lineage, docs and
    check plans ask it how the engine names things before anything connects)."""
    engine: Engine = _module(kind, "engine").ENGINE
    return engine


def preload_modules(kind: str) -> tuple[str, ...]:
    """What to import ahead of a step that opens a destination of type `kind`: its folder's destination
    module and the driver it imports on connecting."""
    return (f"{__name__}.{kind}.destination", *engine_of(kind).drivers)


def params_from_config(config: Typed, project: Project, secrets: Secrets) -> Any:
    """The connection parameters of a destination's config (secrets resolved, paths made absolute)."""
    return _module(config.type, "params").from_config(config, project, secrets)


def warm(kind: str) -> None:
    """Import the engine of destinations of type `kind` and its driver now, not when a step opens one
    (a process that forks steps imports them once: `datakit.integrations.airflow.preload`)."""
    for module in preload_modules(kind):
        import_module(module)


def _module(kind: str, name: str) -> Any:
    if kind not in ENGINES:
        raise ValueError(f"no engine for destinations of type {kind!r}")
    return import_module(f"{__name__}.{kind}.{name}")
