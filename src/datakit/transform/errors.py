"""Errors of dbt steps: one type, carrying what the run history keeps and what retry decides on.

`DbtFailed.transient` is set per instance (the class default of `DatakitError` is False): a dbt step
that could not reach its database, or met a lock or a serialization failure, may succeed when tried
again; a model with wrong SQL or a failing test will not. dbt passes its adapter's errors on as text
only, so the destination's engine reads the words (`Engine.transient_message`).
`orchestrate.retry.is_transient` reads the attribute, so this package needs nothing from the
orchestrator.
"""

from __future__ import annotations

from typing import Any

from datakit.errors import DatakitError


class DbtFailed(DatakitError):
    """A dbt invocation failed: the message names each failing node (or file) and the database's words.

    `details` is the JSON-able record of the invocation (the same as `DbtResult.details()`), `log` the
    tail of dbt's log; the executor stores both with the attempt.
    """

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any],
        log: str = "",
        transient: bool = False,
        file: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.details = details
        self.log = log
        self.transient = transient
        self.file = file
