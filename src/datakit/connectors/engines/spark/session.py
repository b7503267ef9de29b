"""One Spark session per process, started on first use and shared by every transaction and check.

Spark runs one SparkContext per JVM, and starting one costs seconds, so a process keeps the session it
started: a destination asks `spark_session(params)` each time and gets the same one. dbt-spark's
`session` method asks Spark for the active session of the process too, so dbt's models run in it (the
generated profile repeats the same settings, in case dbt is first). A second warehouse in the same
process is an error, not a silent switch: the session's warehouse and catalog are fixed at start.

When the session starts, commits that a crashed process left half-switched are finished
(`versions.recover`), before anything reads a table.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING

from datakit.connectors.errors import ConnectorError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from datakit.connectors.engines.spark.params import SparkParams

log = logging.getLogger(__name__)
_lock = threading.RLock()
_started: tuple[str, SparkSession] | None = None


def _identity(params: SparkParams) -> str:
    return params.remote or f"{params.warehouse}|{params.metastore}"


def spark_session(params: SparkParams) -> SparkSession:
    """The process's Spark session for `params` (started on the first call)."""
    global _started  # noqa: PLW0603 - the one session of the process
    with _lock:
        if _started is not None:
            identity, session = _started
            if identity != _identity(params):
                raise ConnectorError(
                    f"this process already runs Spark on {identity}; it cannot also open {params.describe()}",
                    hint="one Spark session per process: run the other destination's steps in their own job",
                )
            return session
        session = _start(params)
        from datakit.connectors.engines.spark import versions

        versions.recover(session, params)
        _started = (_identity(params), session)
        return session


def stop() -> None:
    """Stop the process's session (tests that start a cluster of their own; the end of a process)."""
    global _started  # noqa: PLW0603 - the one session of the process
    with _lock:
        if _started is not None:
            _started[1].stop()
            _started = None


def lock() -> threading.RLock:
    """Serialises the transactions of this process: a commit switches versions one writer at a time."""
    return _lock


def _start(params: SparkParams) -> SparkSession:
    from pyspark.sql import SparkSession

    from datakit.connectors.engines.spark import errors

    os.environ.setdefault("PYSPARK_PYTHON", _python())
    log.info("starting Spark (%s)", params.describe())
    try:
        if params.remote is not None:
            return SparkSession.builder.remote(params.remote).getOrCreate()
        builder = SparkSession.builder
        for key, value in params.spark_conf().items():
            builder = builder.config(key, value)
        params.datakit_dir.mkdir(parents=True, exist_ok=True)
        session = builder.enableHiveSupport().getOrCreate()
    except Exception as exc:
        raise errors.translate(exc, f"starting Spark ({params.describe()})") from None
    session.sparkContext.setLogLevel("ERROR")
    return session


def _python() -> str:
    import sys

    return sys.executable
