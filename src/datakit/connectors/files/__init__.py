"""Files source: CSV, Parquet and JSON Lines from local paths and globs, streamed as Arrow batches."""

from __future__ import annotations

from datakit.connectors.files.params import CsvParams, FileResourceParams, FilesParams
from datakit.connectors.files.source import FileInfo, FilesSource, RejectedRow, rejected_batch

__all__ = [
    "CsvParams",
    "FileInfo",
    "FileResourceParams",
    "FilesParams",
    "FilesSource",
    "RejectedRow",
    "rejected_batch",
]
