"""How Spark fails: its analysis errors (a missing table, a bad name) are terminal; a lost JVM or Spark
Connect server, or a cluster without executors, is transient (the step is tried again).

Spark's messages start with an error class in brackets (`[TABLE_OR_VIEW_NOT_FOUND]`) and may carry a
JVM stack trace: only the first line is kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from datakit.connectors import errors
from datakit.connectors.errors import ConnectionLost, ConnectorError, Diagnosis, network_or_terminal

_TRANSIENT_CLASSES = (
    "Py4JNetworkError",
    "SparkConnectGrpcException",  # UNAVAILABLE and friends; a Connect server restarting
)
_TRANSIENT_TEXT = (
    "Answer from Java side is empty",
    "Connection refused",
    "SparkContext was shut down",
    "Cannot call methods on a stopped SparkContext",
    "Initial job has not accepted any resources",
    "status = StatusCode.UNAVAILABLE",
)


def classify(exc: BaseException) -> Diagnosis:
    """Network trouble with the JVM or the server is transient; everything else terminal."""
    name = type(exc).__name__
    text = str(exc)
    if name in _TRANSIENT_CLASSES or any(marker in text for marker in _TRANSIENT_TEXT):
        return Diagnosis(ConnectionLost, _first_line(text))
    diagnosis = network_or_terminal(exc)
    return Diagnosis(diagnosis.kind, _first_line(text))


_JAVA_EXCEPTION = re.compile(r"^(?:Caused by: )?[a-z][\w.$]*(?:Exception|Error)\b")


def _first_line(text: str) -> str:
    """The line that says what happened: a JVM error's root cause (its last `Caused by:`, else its
    first Java exception), else the first line."""
    lines = [line.strip().removeprefix(": ") for line in text.strip().splitlines() if line.strip()]
    causes = [line for line in lines if line.startswith("Caused by: ")]
    if causes:
        return causes[-1].removeprefix("Caused by: ")
    java = next((line for line in lines if _JAVA_EXCEPTION.match(line)), None)
    return java or (lines[0] if lines else text)


def translate(
    exc: BaseException, action: str, *, secrets: Iterable[str | None] = (), table: str | None = None
) -> ConnectorError:
    """`exc` as the `ConnectorError` `classify` says it is (see `datakit.connectors.errors.translate`)."""
    return errors.translate(exc, action, classify=classify, secrets=secrets, table=table)


__all__ = ["ConnectionLost", "classify", "translate"]
