"""Logging for datakit, with a last line of defence that masks secret values.

Secrets are `SecretStr`s and never formatted on purpose; but a driver's error text or a user's SQL may
still carry one. Every value revealed through `datakit.config.secrets` is registered here, and a filter
on datakit's handlers replaces it with `***` in every record before it is written anywhere.
"""

from __future__ import annotations

import logging
import threading

_lock = threading.Lock()
_secrets: set[str] = set()
MASK = "***"


def register_secret(value: str) -> None:
    """Mask `value` in every log record from now on (values shorter than 4 chars would mask too much)."""
    if len(value) >= 4:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """`text` with every registered secret value masked."""
    with _lock:
        values = sorted(_secrets, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text


class RedactingFilter(logging.Filter):
    """Masks registered secrets in the fully formatted message and in exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _secrets:
            record.msg = redact(record.getMessage())
            record.args = None
            if record.exc_info and record.exc_info[1] is not None:
                record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
        return True


def get_logger(name: str) -> logging.Logger:
    """A logger under `datakit.` whose records pass through the redacting filter."""
    return logging.getLogger(name if name.startswith("datakit") else f"datakit.{name}")


def configure(level: int = logging.WARNING, handler: logging.Handler | None = None) -> logging.Handler:
    """Attach one redacting handler to the `datakit` logger (idempotent: replaces a previous one)."""
    root = logging.getLogger("datakit")
    for old in [h for h in root.handlers if getattr(h, "_datakit", False)]:
        root.removeHandler(old)
    handler = handler or logging.StreamHandler()
    handler.addFilter(RedactingFilter())
    handler._datakit = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    return handler
