"""Logging for datakit, with a last line of defence that masks secret values.

Secrets are `SecretStr`s and never formatted on purpose; but a driver's error text or a user's SQL may
still carry one. Every value revealed through `datakit.config.secrets` is registered here, and a filter
on datakit's handlers replaces it with `***` in every record before it is written anywhere.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None
MASK = "***"


def register_secret(value: str) -> None:
    """Mask `value` in every log record from now on (values shorter than 4 chars would mask too much)."""
    global _pattern  # noqa: PLW0603 - one process-wide registry, as the logging module itself is
    if len(value) >= 4:
        with _lock:
            _secrets.add(value)
            _pattern = None


def redact(text: str) -> str:
    """`text` with every registered secret value masked.

    A value is masked where it stands as a whole token (not inside a longer word): a password
    `datakit` is masked in `user:datakit@host` but a table `_datakit_stage` stays readable.
    """
    global _pattern  # noqa: PLW0603
    with _lock:
        if not _secrets:
            return text
        if _pattern is None:
            _pattern = re.compile("|".join(_token(v) for v in sorted(_secrets, key=len, reverse=True)))
        pattern = _pattern
    return pattern.sub(MASK, text)


def mask_values(text: str, values: Iterable[str | None]) -> str:
    """`text` with each of `values` masked as a whole token (the rule of `redact`, for given values)."""
    tokens = sorted({v for v in values if v}, key=len, reverse=True)
    return re.sub("|".join(_token(v) for v in tokens), MASK, text) if tokens else text


def _token(value: str) -> str:
    """`value` as a regex that does not match inside a longer word (where it begins/ends with one)."""
    before = r"(?<!\w)" if re.match(r"\w", value[0]) else ""
    after = r"(?!\w)" if re.match(r"\w", value[-1]) else ""
    return f"{before}{re.escape(value)}{after}"


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
    """Attach one redacting handler to the `datakit` logger (idempotent: replaces a previous one).

    The logger then stops propagating: a library that configured the root logger (dbt does, in a step
    process) would otherwise print every line a second time, unredacted by this handler.
    """
    root = logging.getLogger("datakit")
    root.propagate = False
    for old in [h for h in root.handlers if getattr(h, "_datakit", False)]:
        root.removeHandler(old)
    handler = handler or logging.StreamHandler()
    handler.addFilter(RedactingFilter())
    handler._datakit = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    return handler
