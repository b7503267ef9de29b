"""REST API source: JSON over HTTP (httpx) as Arrow batches, with auth, pagination, retries, flattening.

`RestSource` (source.py) implements the `Source` protocol; the rest are its parts, one job each: `client`
(retries), `auth`, `paginate`, `jsonpage` (page bytes -> Arrow), `records` (the nesting rule), `sample`
(the pages a schema is inferred from, replayed by the read), `timestamps` (ISO-8601 text: inference,
comparison, the API's style), `redact` (credentials out of URLs, messages and logs), `params` (what the
config layer resolves a `rest_api` source into). `RestSource` is imported on first use, so importing the
parameters does not import httpx.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from datakit.connectors.rest.errors import RestError, RestUnavailable
from datakit.connectors.rest.params import RestParams, RestResourceParams

if TYPE_CHECKING:
    from datakit.connectors.rest.source import RestSource

__all__ = ["RestError", "RestParams", "RestResourceParams", "RestSource", "RestUnavailable"]


def __getattr__(name: str) -> Any:
    if name == "RestSource":
        from datakit.connectors.rest.source import RestSource

        return RestSource
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
