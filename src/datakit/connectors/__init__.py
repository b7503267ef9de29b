"""Connectors: Arrow record batches out of source databases and into destination databases.

`open_source` / `open_destination` pick the connector class from the parameters' `type`; the classes
import their drivers only when they connect, so importing this package stays cheap. The interface
lives in `base` (see its docstring for the one-transaction atomicity contract), each destination
engine in its folder under `engines/` (`Engine`: what it says its own way), the concurrent
reader/writer in `pipe`.
"""

from __future__ import annotations

from datakit.connectors.base import (
    Column,
    Destination,
    Incremental,
    ReadRequest,
    Session,
    Source,
    SourceCapabilities,
    TableRef,
    Transaction,
)
from datakit.connectors.engine import Engine
from datakit.connectors.engines import open_destination
from datakit.connectors.engines.duckdb.params import DuckDBParams
from datakit.connectors.engines.postgres.params import PostgresParams
from datakit.connectors.errors import ConnectionLost, ConnectorError, SchemaMismatch
from datakit.connectors.files.params import FilesParams
from datakit.connectors.params import MysqlParams, SqliteParams
from datakit.connectors.pipe import pipe
from datakit.connectors.rest.params import RestParams

__all__ = [
    "Column",
    "ConnectionLost",
    "ConnectorError",
    "Destination",
    "DuckDBParams",
    "Engine",
    "FilesParams",
    "Incremental",
    "MysqlParams",
    "PostgresParams",
    "ReadRequest",
    "RestParams",
    "SchemaMismatch",
    "Session",
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
        from datakit.connectors.engines.postgres.source import PostgresSource

        return PostgresSource(params)
    if isinstance(params, MysqlParams):
        from datakit.connectors.sources.mysql import MysqlSource

        return MysqlSource(params)
    from datakit.connectors.sources.sqlite import SqliteSource

    return SqliteSource(params)
