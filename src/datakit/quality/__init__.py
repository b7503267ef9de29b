"""Data-quality checks: SQL that returns the failing rows, declared per table in `config/checks/`.

`run_check_suite(project, "silver_quality")` runs a suite against its destination and returns a
`SuiteResult` (per check: status, failing row count, a sample, the SQL); `raise_for_errors()` raises
`ChecksFailed` when a check of severity `error` failed, so that a job stops before gold is rebuilt
from bad silver. The built-in checks are in `REGISTRY`, each documented by its builder's docstring.
"""

from __future__ import annotations

from datakit.quality.builtin import REGISTRY, BuiltinCheck, failing_rows_sql
from datakit.quality.results import CheckResult, ChecksFailed, CheckStatus, SuiteResult, error_failures
from datakit.quality.runner import PlannedCheck, plan_suite, run_check, run_check_suite

__all__ = [
    "REGISTRY",
    "BuiltinCheck",
    "CheckResult",
    "CheckStatus",
    "ChecksFailed",
    "PlannedCheck",
    "SuiteResult",
    "error_failures",
    "failing_rows_sql",
    "plan_suite",
    "run_check",
    "run_check_suite",
]
