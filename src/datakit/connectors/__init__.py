"""Connectors: Arrow record batches out of source databases and into destination databases.

`open_source` / `open_destination` pick the connector class from the parameters' `type`; the classes
import their drivers only when they connect, so importing this package stays cheap. The interface
lives in `base` (see its docstring for the one-transaction atomicity contract), the concurrent
reader/writer in `pipe`.
"""

from __future__ import annotations

from datakit.connectors.base import (
    Column,
    Destination,
    DestinationCapabilities,
    Incremental,
    ReadRequest,
    Source,
    SourceCapabilities,
    TableRef,
    Transaction,
)
from datakit.connectors.errors import ConnectionLost, ConnectorError, SchemaMismatch
from datakit.connectors.files.params import FilesParams
from datakit.connectors.params import DuckDBParams, MysqlParams, PostgresParams, SqliteParams
from datakit.connectors.pipe import pipe
from datakit.connectors.rest.params import RestParams

__all__ = [
    "Column",
    "ConnectionLost",
    "ConnectorError",
    "Destination",
    "DestinationCapabilities",
    "DuckDBParams",
    "FilesParams",
    "Incremental",
    "MysqlParams",
    "PostgresParams",
    "ReadRequest",
    "RestParams",
    "SchemaMismatch",
    "Source",
    "SourceCapabilities",
    "SqliteParams",
    "TableRef",
    "Transaction",
    "open_destination",
    "open_source",
    "pipe",
]


def open_source(params: PostgresParams | MysqlParams | SqliteParams | RestParams | FilesParams) -> Source:
    """The source connector for `params` (nothing connects until it is used)."""
    if isinstance(params, RestParams):
        from datakit.connectors.rest.source import RestSource

        return RestSource(params)
    if isinstance(params, FilesParams):
        from datakit.connectors.files.source import FilesSource

        return FilesSource(params)
    if isinstance(params, PostgresParams):
        from datakit.connectors.sources.postgres import PostgresSource

        return PostgresSource(params)
    if isinstance(params, MysqlParams):
        from datakit.connectors.sources.mysql import MysqlSource

        return MysqlSource(params)
    from datakit.connectors.sources.sqlite import SqliteSource

    return SqliteSource(params)


def open_destination(params: PostgresParams | DuckDBParams) -> Destination:
    """The destination connector for `params` (nothing connects until a transaction opens)."""
    if isinstance(params, PostgresParams):
        from datakit.connectors.destinations.postgres import PostgresDestination

        return PostgresDestination(params)
    from datakit.connectors.destinations.duckdb import DuckDBDestination

    return DuckDBDestination(params)
