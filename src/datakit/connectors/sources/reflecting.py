"""`ReflectingSource.reflect` once for the SQL sources SQLAlchemy inspects (PostgreSQL, MySQL, SQLite).

Each source gives its SQLAlchemy URL (`params.sqlalchemy_url()`) and its own reading of its driver's
errors (`reflection_error`), so a refused login while reflecting says so as it would while reading.
SQLAlchemy is imported only when a source reflects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datakit.connectors.errors import ConnectorError
    from datakit.contracts.model import Contract


class InspectedSource:
    """A source whose contracts SQLAlchemy's inspector reads (`datakit.connectors.reflection`)."""

    params: Any
    """Its connection parameters: `sqlalchemy_url()` and `describe()`."""

    def reflection_error(self, exc: BaseException, action: str) -> ConnectorError:
        """`exc`, raised by the driver while reflecting, as this source's `ConnectorError`."""
        raise NotImplementedError

    def reflect(
        self,
        schema: str,
        *,
        tables: Sequence[str] | None = None,
        layer: str = "source",
        system: str | None = None,
    ) -> list[Contract]:
        from datakit.connectors.reflection import reflect

        return reflect(
            self.params.sqlalchemy_url(),
            schema,
            action=f"reflecting {schema} from {self.params.describe()}",
            translate=self.reflection_error,
            tables=tables,
            layer=layer,
            system=system,
        )
