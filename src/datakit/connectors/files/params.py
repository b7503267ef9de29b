"""Resolved parameters of a files source (mirror `datakit.config.models.sources.FilesSource`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CsvParams(_Params):
    """How to parse a CSV file."""

    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","
    header: bool = True
    encoding: str = "utf-8"
    quote: Annotated[str, Field(min_length=1, max_length=1)] = '"'
    column_names: list[str] | None = Field(
        None, description="Names of the columns when the file has no header (default f0, f1, ...)."
    )
    null_values: list[str] = Field(default_factory=lambda: [""], description="Texts read as null.")


class FileResourceParams(_Params):
    """The files matched by `path` (a path or glob below the source's base path), one table."""

    name: str = Field(min_length=1)
    path: str = Field(min_length=1)
    format: Literal["csv", "parquet", "jsonl"]
    csv: CsvParams = Field(default_factory=CsvParams)


class FilesParams(_Params):
    """Local files."""

    type: Literal["files"] = "files"
    base_path: Path = Path()
    resources: list[FileResourceParams] = Field(min_length=1)

    def secrets(self) -> tuple[str, ...]:
        return ()

    def describe(self) -> str:
        return f"files {self.base_path}"
