"""Errors of a load: one type per way a load stops, each naming the pipeline, resource and table.

A load that fails for any reason raises a `LoadError` (or a subclass) after the failure is recorded in
`_datakit.loads`; driver errors arrive already translated by the connectors (`ConnectorError`) and
anything else is wrapped here, so callers never see a raw driver traceback.
"""

from __future__ import annotations

from datakit.errors import DatakitError


class LoadError(DatakitError):
    """A resource load failed; the destination is as it was before the load."""

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        pipeline: str | None = None,
        resource: str | None = None,
        table: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.pipeline = pipeline
        self.resource = resource
        self.table = table


class DriftError(LoadError):
    """The source's columns differ from the target table's in a way the drift mode does not allow."""


class TransformError(LoadError):
    """A batch transform is unusable (a bad SQL expression, a model that is not a table)."""
