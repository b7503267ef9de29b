"""Keep credentials out of everything a REST source shows: URLs in messages, response snippets, logs.

httpx logs every request URL at INFO, and an API key sent as a query parameter is part of that URL, so
the values are registered with datakit's log redaction and a redacting filter is put on httpx's and
httpcore's loggers (records propagate to the caller's handlers already masked).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from datakit.log import MASK, RedactingFilter, redact, register_secret

_HTTP_LOGGERS = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
)
_filter = RedactingFilter()


class SecretSet:
    """The credential values of one source, growing as OAuth2 tokens are fetched."""

    def __init__(self, values: Iterable[str] = (), query_names: Iterable[str] = ()) -> None:
        self.values: set[str] = set()
        self.query_names = frozenset(query_names)  # query parameters that carry a credential
        for value in values:
            self.add(value)

    def add(self, value: str) -> None:
        if value:
            self.values.add(value)
            register_secret(value)
            _guard_http_loggers()

    def text(self, text: str) -> str:
        """`text` with every credential masked, in every form (`datakit.log.redact`)."""
        return redact(text, self.values)

    def url(self, url: str) -> str:
        """`url` without user info and with credential query parameters masked, safe to show."""
        parts = urlsplit(url)
        netloc = parts.netloc.rsplit("@", 1)[-1]
        query = parts.query
        if query and self.query_names:
            pairs = [(k, MASK if k in self.query_names else v) for k, v in parse_qsl(query, True)]
            query = urlencode(pairs, safe="*")
        return self.text(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)))


def _guard_http_loggers() -> None:
    for name in _HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if _filter not in logger.filters:
            logger.addFilter(_filter)
