"""What a check suite run reports, as plain JSON-able data kept in run history, and the failure it raises.

The orchestrator runs a suite in a child process and gets back `SuiteResult.details()` (JSON); it then
raises `ChecksFailed(details)` in the parent. So `ChecksFailed` is built from the details alone, and
pickles through them, never through live objects.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from datakit.config.models.checks import CHECK_KINDS, CheckSeverity
from datakit.errors import DatakitError

CheckStatus = Literal["passed", "failed", "error"]
"""`failed`: the query returned rows; `error`: the query itself could not run (missing table...)."""

JsonValue = str | int | float | bool | None | list[Any] | dict[str, Any]

MAX_TEXT = 500  # sample values are for a glance in run history, not a copy of the table
MAX_ERROR_IN_MESSAGE = 200


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check on one table."""

    table: str
    kind: str
    name: str
    severity: CheckSeverity
    status: CheckStatus
    sql: str
    failing_rows: int | None = None  # None when the query could not run
    sample: list[dict[str, JsonValue]] = field(default_factory=list)
    duration: float = 0.0  # seconds
    error: str | None = None  # the database's message when status is `error`

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def label(self) -> str:
        return f"{self.table} {self.name}"

    def summary(self) -> str:
        """One line for messages: `silver.customer not_null(email): 3 rows`."""
        return _summary(self.as_dict())

    def as_dict(self) -> dict[str, JsonValue]:
        return {
            "table": self.table,
            "check": self.kind,
            "name": self.name,
            "severity": self.severity,
            "status": self.status,
            "failing_rows": self.failing_rows,
            "sample": list(self.sample),
            "sql": self.sql,
            "duration": round(self.duration, 4),
            "error": self.error,
        }


@dataclass(frozen=True)
class SuiteResult:
    """Every check of a suite, in file order; `errors` fail the step, `warnings` are only reported."""

    suite: str
    destination: str
    results: list[CheckResult]
    duration: float = 0.0

    @property
    def errors(self) -> list[CheckResult]:
        """Checks of severity `error` that failed or could not run."""
        return [r for r in self.results if not r.passed and r.severity == "error"]

    @property
    def warnings(self) -> list[CheckResult]:
        """Checks of severity `warn` that failed or could not run."""
        return [r for r in self.results if not r.passed and r.severity == "warn"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def details(self) -> dict[str, Any]:
        """JSON-able record for run history: counts, and per check its status, rows, sample and SQL."""
        statuses = [r.status for r in self.results]
        return {
            "suite": self.suite,
            "destination": self.destination,
            "ok": self.ok,
            "counts": {
                "checks": len(self.results),
                "passed": statuses.count("passed"),
                "failed": statuses.count("failed"),
                "error": statuses.count("error"),
                "error_severity_failures": len(self.errors),
                "warnings": len(self.warnings),
            },
            "duration": round(self.duration, 4),
            "checks": [{**r.as_dict(), "summary": r.summary()} for r in self.results],
        }

    def summary_lines(self) -> list[str]:
        """One line per check for a step's log: `FAIL silver.customer not_null(email): 3 rows [error]`."""
        marks = {"failed": "FAIL", "error": "ERROR"}
        return [
            f"ok   {r.label}" if r.passed else f"{marks[r.status]} {r.summary()} [{r.severity}]"
            for r in self.results
        ]

    def raise_for_errors(self) -> None:
        """Raise `ChecksFailed` when any `error` check failed; warnings never raise."""
        if self.errors:
            raise ChecksFailed(self.details())


class ChecksFailed(DatakitError):
    """Data-quality checks of severity `error` failed: downstream steps must not run on this data.

    `details` is the suite's `SuiteResult.details()`, kept in run history with counts and samples.
    """

    def __init__(self, details: Mapping[str, Any]) -> None:
        self.details: dict[str, Any] = dict(details)
        failed = error_failures(self.details)
        count = len(failed)
        message = f"{count} error check{'s' if count != 1 else ''} failed: " + "; ".join(
            str(c.get("summary") or _summary(c)) for c in failed
        )
        warnings = self.details.get("counts", {}).get("warnings", 0)
        hint = "samples of the failing rows are in the run's details"
        if warnings:
            hint += f"; {warnings} warning check{'s' if warnings != 1 else ''} failed too"
        super().__init__(message, hint=hint)

    @classmethod
    def from_result(cls, result: SuiteResult) -> ChecksFailed:
        return cls(result.details())

    def __reduce__(self) -> tuple[type[ChecksFailed], tuple[dict[str, Any]]]:
        return (type(self), (self.details,))


def error_failures(details: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The checks of a suite's details that fail the step (severity `error`, not passed)."""
    checks: list[dict[str, Any]] = details.get("checks", [])
    return [c for c in checks if c.get("severity") == "error" and c.get("status") != "passed"]


def _summary(check: Mapping[str, Any]) -> str:
    head = f"{check['table']} {check['name']}"
    if check["status"] == "passed":
        return f"{head}: passed"
    if check["status"] == "error":
        first = str(check.get("error") or "").strip().splitlines()[:1]
        text = first[0] if first else "unknown error"
        if len(text) > MAX_ERROR_IN_MESSAGE:
            text = text[: MAX_ERROR_IN_MESSAGE - 1] + "…"
        return f"{head}: could not run: {text}"
    sample = check.get("sample") or []
    model = CHECK_KINDS.get(str(check.get("check")))
    if model is not None and model.table_level and sample:
        return f"{head}: " + ", ".join(f"{k}={v}" for k, v in sample[0].items())
    rows = check.get("failing_rows")
    return f"{head}: {rows} row{'s' if rows != 1 else ''}"


def jsonable(value: Any) -> JsonValue:
    """A database value as JSON: exact decimals and instants as text, long text and binary cut short."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT else value[: MAX_TEXT - 1] + "…"
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal | UUID | timedelta):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return jsonable("\\x" + bytes(value).hex())
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return jsonable(str(value))
