"""The error of datakit packages: a missing package, user code that fails to import, an unknown name."""

from __future__ import annotations

from pathlib import Path

from datakit.errors import DatakitError, display_path


class DatakitPackageError(DatakitError):
    """A datakit cannot be loaded or does not have what was asked of it; names the file (and line)."""

    def __init__(
        self,
        message: str,
        *,
        file: Path | None = None,
        line: int | None = None,
        column: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.column = column
        self.detail = message  # without the location (for reports that place it themselves)
        where = display_path(file) if file is not None else ""
        if where and line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {message}" if where else message, hint=hint)
