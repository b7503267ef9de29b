"""Logging for datakit, with a last line of defence that masks secret values.

Secrets are `SecretStr`s and never formatted on purpose; but a driver's error text, an API's echo of a
request or a user's SQL may still carry one, raw or encoded. Every value revealed through
`datakit.config.secrets` (and every declared secret's value) is registered here; `redact` masks all
their forms (`datakit.masking`) and is the one masking function of datakit: the log filter below, the
CLI's output, run history, notifications, the status pages and dbt's logs all go through it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from datakit.masking import MASK, MIN_LENGTH, Masker, is_weak

__all__ = [
    "MASK",
    "RedactingFilter",
    "configure",
    "forget_secrets",
    "get_logger",
    "host",
    "hosted",
    "redact",
    "register_secret",
]

_lock = threading.Lock()
_values: dict[str, bool] = {}  # secret -> masked only as a whole token
_pairs: set[tuple[str, str]] = set()  # (user, password) pairs: their HTTP Basic forms are masked too
_masker: Masker | None = None  # of the registered secrets, rebuilt after a registration
_with_extra: dict[frozenset[str], Masker] = {}  # registered secrets plus a caller's own, by the latter
_EXTRA_SETS = 16


def register_secret(value: str, *, user: str | None = None, whole_token: bool = False) -> None:
    """Mask `value` in all its forms in every text from now on.

    `user`: a user name `value` is the password of (its HTTP Basic header is masked too).
    `whole_token`: mask it only as a whole token even if it looks strong (a name of the project);
    weak values (`datakit.masking.is_weak`) always are. Values shorter than 4 characters are ignored.
    """
    global _masker  # noqa: PLW0603 - one process-wide registry, as the logging module itself is
    if len(value) < MIN_LENGTH:
        return
    whole_token = whole_token or is_weak(value)
    with _lock:
        known = _values.get(value)
        changed = known is None or (whole_token and not known)
        if changed:
            _values[value] = whole_token or bool(known)
        if user and (user, value) not in _pairs:
            _pairs.add((user, value))
            changed = True
        if changed:
            _masker = None
            _with_extra.clear()


def forget_secrets() -> None:
    """Forget every registered secret: for a process that moves on to another project (a test suite)."""
    global _masker  # noqa: PLW0603
    with _lock:
        _values.clear()
        _pairs.clear()
        _masker = None
        _with_extra.clear()


def redact(text: str, also: Iterable[str | None] = ()) -> str:
    """`text` with every form of every registered secret, and of the values in `also`, masked as `***`.

    `also`: credentials a caller holds that may not have been revealed through the secrets mapping
    (connection parameters built in Python). The pattern for each set of them is built once and kept.
    """
    extra = frozenset(v for v in also if v and len(v) >= MIN_LENGTH and v not in _values)
    if not extra and not _values:
        return text
    return _masker_for(extra).mask(text)


def _masker_for(extra: frozenset[str]) -> Masker:
    global _masker  # noqa: PLW0603
    with _lock:
        if _masker is None:
            _masker = Masker(_values, _pairs)
        if not extra:
            return _masker
        masker = _with_extra.get(extra)
        if masker is None:
            if len(_with_extra) >= _EXTRA_SETS:
                _with_extra.clear()
            values = {**_values, **{value: is_weak(value) for value in extra}}
            masker = _with_extra[extra] = Masker(values, _pairs)
        return masker


class RedactingFilter(logging.Filter):
    """Masks registered secrets in the fully formatted message and in exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _values:
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


class _ToRoot(logging.Handler):
    """Hands each record, once redacted, to the root logger's handlers: the host process's own logging."""

    def emit(self, record: logging.LogRecord) -> None:
        for handler in logging.getLogger().handlers:
            if record.levelno >= handler.level:
                handler.handle(record)


_hosted = False


def host(level: int = logging.INFO) -> None:
    """Log through the host process's logging from now on (an Airflow task's log: the levels kept, each
    line once), not through a stream of datakit's own; records are still redacted on the way."""
    global _hosted  # noqa: PLW0603 - one process-wide setting, as the logging module itself is
    configure(level, _ToRoot())
    _hosted = True


def hosted() -> bool:
    """Whether a host's logging carries datakit's records (`host`): a step then configures none itself."""
    return _hosted
