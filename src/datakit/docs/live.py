"""What the destinations hold now: the last load of each table and the catalog's column types.

The one module of the docs that opens a database. It uses the destinations' read-only sessions
(`Destination.session()`: DuckDB held only while reading) on the destinations of the lineage graph,
as `tenant` sees them (its stand-in destinations, its prefixed schemas and state schema, its
secrets), and reads `<state schema>.loads` (`load.state`) and `information_schema.columns`. A
destination that cannot be opened (no file yet, a writer holding it, a server down) is a warning,
never a failure of the docs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from datakit.connectors.errors import ConnectorError
from datakit.errors import DatakitError
from datakit.load.plan import STATE_SCHEMA
from datakit.load.state import LOADS

if TYPE_CHECKING:
    from datakit.config.project import Project
    from datakit.config.tenancy import Tenant
    from datakit.connectors.base import Session
    from datakit.lineage import Graph


@dataclass(frozen=True)
class LastLoad:
    """The newest load of a table, as its load record says."""

    pipeline: str
    resource: str
    status: str
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    finished_at: str
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "pipeline": self.pipeline,
            "resource": self.resource,
            "status": self.status,
            "rows_read": self.rows_read,
            "rows_loaded": self.rows_loaded,
            "rows_rejected": self.rows_rejected,
            "finished_at": self.finished_at,
            "error": self.error,
        }


@dataclass
class LiveState:
    """Per table id: its last load and its columns' types in the catalog; what could not be read."""

    loads: dict[str, LastLoad] = field(default_factory=dict)
    types: dict[str, dict[str, str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def read_live(project: Project, graph: Graph, tenant: Tenant) -> LiveState:
    """The last loads and catalog types of every destination table of `graph`, as `tenant` has them."""
    from datakit.connectors.from_config import open_destination_named

    state = LiveState()
    by_destination: dict[str, dict[tuple[str, str], str]] = {}
    for table in graph.tables.values():
        if table.kind != "source" and table.schema and table.system in project.destinations:
            physical = (tenant.schema(table.schema), table.name)
            by_destination.setdefault(table.system, {})[physical] = table.id
    who = f"warehouse {tenant.name}" if tenant.name else "the project"
    for destination, tables in sorted(by_destination.items()):
        try:
            where = tenant.destination_for(destination)
        except DatakitError:
            continue  # the tenant has no such destination: nothing of it to read
        try:
            warehouse = open_destination_named(project, where, tenant.secrets)
            with warehouse.session() as session:
                _read_loads(session, tenant.schema(STATE_SCHEMA), tables, state)
                _read_types(session, tables, state)
        except (ConnectorError, DatakitError) as exc:
            first = str(exc.message if isinstance(exc, DatakitError) else exc).splitlines()[0]
            state.warnings.append(f"{destination} of {who}: not read ({first})")
    return state


def _read_loads(
    session: Session, state_schema: str, tables: dict[tuple[str, str], str], state: LiveState
) -> None:
    loads = f"{_identifier(state_schema)}.{_identifier(LOADS)}"
    try:
        _, rows = session.query(
            "select target, pipeline, resource, status, rows_read, rows_loaded, rows_rejected, "
            f"finished_at, error from {loads} as l where finished_at = "
            f"(select max(finished_at) from {loads} as m where m.target = l.target)"
        )
    except ConnectorError:
        return  # no load yet: the state schema does not exist
    for target, pipeline, resource, status, read, loaded, rejected, finished, error in rows:
        schema, _, name = str(target).rpartition(".")
        table_id = tables.get((schema, name))
        if table_id is None:
            continue
        state.loads[table_id] = LastLoad(
            str(pipeline),
            str(resource),
            str(status),
            int(read),
            int(loaded),
            int(rejected),
            finished.isoformat() if hasattr(finished, "isoformat") else str(finished),
            str(error) if error else None,
        )


def _read_types(session: Session, tables: dict[tuple[str, str], str], state: LiveState) -> None:
    schemas = sorted({schema for schema, _ in tables})
    listed = ", ".join(_literal(schema) for schema in schemas)
    _, rows = session.query(
        "select table_schema, table_name, column_name, data_type from information_schema.columns "
        f"where table_schema in ({listed}) order by table_schema, table_name, ordinal_position"
    )
    for schema, name, column, kind in rows:
        table_id = tables.get((str(schema), str(name)))
        if table_id is not None:
            state.types.setdefault(table_id, {})[str(column)] = str(kind).lower()


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
