"""Every built-in check, passing and failing, on real DuckDB and real PostgreSQL: counts and samples."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest

from datakit.quality import CheckResult, ChecksFailed, SuiteResult, run_check_suite
from tests.quality.conftest import ODD_COLUMN, Warehouse

_RUNS: dict[str, SuiteResult] = {}


@pytest.fixture
def result(warehouse: Warehouse) -> SuiteResult:
    """The suite's result on this engine (run once per engine: the tables are not changed by checks)."""
    if warehouse.kind not in _RUNS:
        _RUNS[warehouse.kind] = run_check_suite(warehouse.project, "quality")
    return _RUNS[warehouse.kind]


def check(result: SuiteResult, table: str, name: str) -> CheckResult:
    found = [r for r in result.results if r.table.endswith("." + table) and r.name == name]
    assert len(found) == 1, (table, name, [r.label for r in result.results])
    return found[0]


def rows(sample: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(sample, key=lambda row: json.dumps(row, sort_keys=True))


def test_not_null(result: SuiteResult) -> None:
    assert check(result, "customer", "not_null(customer_id)").status == "passed"
    email = check(result, "customer", "not_null(email)")
    assert (email.status, email.failing_rows, email.kind) == ("failed", 2, "not_null")
    assert rows(email.sample) == [
        {"customer_id": 2, "email": None, "active": 1, "address_id": 2},
        {"customer_id": 5, "email": None, "active": 1, "address_id": 3},
    ]


def test_unique_single_and_composite(result: SuiteResult) -> None:
    single = check(result, "customer", "unique(customer_id)")
    assert (single.status, single.failing_rows) == ("failed", 1)
    assert single.sample == [{"customer_id": 3, "occurrences": 2}]
    assert check(result, "customer", "unique(customer_id, email)").status == "passed"
    assert check(result, "address", "unique(address_id)").status == "passed"


def test_accepted_values(result: SuiteResult, warehouse: Warehouse) -> None:
    active = check(result, "customer", "accepted_values(active)")
    assert (active.failing_rows, active.sample) == (
        1,
        [{"customer_id": 3, "email": "d-at-x", "active": 2, "address_id": None}],
    )
    # String values are literals: the apostrophe in "it's" and the backslash (an escape in PostgreSQL
    # E'' strings) neither break the query nor fail the check.
    city = check(result, "address", "accepted_values(city)")
    assert city.status == "passed", city
    assert ("E'back\\\\slash'" in city.sql) == (warehouse.kind == "postgres")


def test_relationships(result: SuiteResult, warehouse: Warehouse) -> None:
    orphan = check(result, "customer", f"relationships(address_id -> {warehouse.schema}.address)")
    # address 9 has no match; the row with a null address_id is not an orphan.
    assert (orphan.failing_rows, orphan.sample) == (
        1,
        [{"customer_id": 3, "email": "c@x.org", "active": 0, "address_id": 9}],
    )
    named = check(result, "customer", "customer_ids_are_addresses")
    assert (named.failing_rows, named.severity) == (1, "warn")
    assert named.sample[0]["customer_id"] == 5


def test_row_count_bounds_and_equal_to(result: SuiteResult, warehouse: Warehouse) -> None:
    assert check(result, "customer", "row_count(min=1)").status == "passed"
    too_few = check(result, "customer", "row_count(min=10)")
    assert (too_few.failing_rows, too_few.sample) == (1, [{"row_count": 5, "min_rows": 10}])
    too_many = check(result, "customer", "row_count(max=3)")
    assert too_many.sample == [{"row_count": 5, "max_rows": 3}]
    unequal = check(result, "customer", f"row_count(equal_to={warehouse.schema}.address)")
    assert unequal.sample == [{"row_count": 5, "expected_rows": 4}]
    assert check(result, "address", f"row_count(equal_to={warehouse.schema}.address_copy)").passed


def test_freshness(result: SuiteResult) -> None:
    assert check(result, "events", "freshness(at, 1h)").status == "passed"
    stale = check(result, "stale", "freshness(at, 2d)")
    assert (stale.failing_rows, stale.sample) == (1, [{"latest": "2020-01-01T00:00:00", "max_age": "2d"}])
    empty = check(result, "empty", "freshness(at, 1d)")
    assert empty.sample == [{"latest": None, "max_age": "1d"}]


def test_expression_treats_null_as_failing(result: SuiteResult) -> None:
    active = check(result, "customer", "expression(active in (0, 1))")
    assert (active.failing_rows, active.severity) == (1, "warn")
    has_at = check(result, "customer", "email_has_at")
    # 'd-at-x' is false; the two null emails are unknown, which does not satisfy the predicate either.
    assert has_at.failing_rows == 3
    assert sorted(str(row["email"]) for row in has_at.sample) == ["None", "None", "d-at-x"]
    assert check(result, "address", "expression(city <> '')").passed


def test_custom_sql_with_percent_and_semicolon(result: SuiteResult) -> None:
    custom = check(result, "customer", "emails_have_at")
    assert (custom.kind, custom.failing_rows) == ("sql", 1)
    assert custom.sample == [{"customer_id": 3, "email": "d-at-x", "active": 2, "address_id": None}]
    assert not custom.sql.endswith(";")


def test_a_malicious_column_name_is_an_identifier(result: SuiteResult, warehouse: Warehouse) -> None:
    odd = ODD_COLUMN.format(s=warehouse.schema)
    quoted = '"' + odd.replace('"', '""') + '"'
    found = check(result, "odd", f"not_null({odd})")
    assert found.sql == f'select * from "{warehouse.schema}"."odd" where {quoted} is null'
    assert (found.failing_rows, found.sample) == (1, [{odd: None}])
    # The table the name tries to drop is still there (its checks ran after this one and passed).
    assert check(result, "address", "unique(address_id)").passed


def test_a_missing_table_or_column_is_an_error_result_with_the_database_message(
    result: SuiteResult, warehouse: Warehouse
) -> None:
    missing = check(result, "nope", "not_null(id)")
    assert (missing.status, missing.failing_rows, missing.passed) == ("error", None, False)
    assert missing.error is not None and "nope" in missing.error
    assert "LINE" not in missing.error  # the excerpt of the wrapping query would point at the wrong SQL
    expected = "does not exist" if warehouse.kind == "duckdb" else 'relation "'
    assert expected in missing.error
    column = check(result, "customer", "missing_column")
    assert column.status == "error" and column.error is not None and "no_such_column" in column.error
    # Checks after the failing ones still ran (PostgreSQL: autocommit, no aborted transaction).
    assert check(result, "odd", f"not_null({ODD_COLUMN.format(s=warehouse.schema)})").status == "failed"


def test_severity_splits_errors_from_warnings(result: SuiteResult) -> None:
    assert {r.name for r in result.warnings} == {"customer_ids_are_addresses", "expression(active in (0, 1))"}
    assert all(r.severity == "error" for r in result.errors)
    assert not result.ok
    assert len(result.results) == 24
    assert sum(r.passed for r in result.results) == 8


def test_details_are_json_and_checks_failed_summarises_error_checks(
    result: SuiteResult, warehouse: Warehouse
) -> None:
    details = json.loads(json.dumps(result.details()))
    assert details["suite"] == "quality" and details["destination"] == "wh"
    assert details["counts"] == {
        "checks": 24,
        "passed": 8,
        "failed": 14,
        "error": 2,
        "error_severity_failures": 14,
        "warnings": 2,
    }
    lines = result.summary_lines()
    assert lines[:2] == [
        f"ok   {warehouse.schema}.customer not_null(customer_id)",
        f"FAIL {warehouse.schema}.customer not_null(email): 2 rows [error]",
    ]
    assert f"ERROR {warehouse.schema}.nope not_null(id): could not run: " in lines[-1]
    email = next(c for c in details["checks"] if c["name"] == "not_null(email)")
    assert email["summary"] == f"{warehouse.schema}.customer not_null(email): 2 rows"
    with pytest.raises(ChecksFailed) as caught:
        result.raise_for_errors()
    error = caught.value
    assert ChecksFailed.from_result(result).message == error.message
    assert str(error.message).startswith(
        f"14 error checks failed: {warehouse.schema}.customer not_null(email): 2 rows; "
        f"{warehouse.schema}.customer unique(customer_id): 1 row; "
    )
    assert f"{warehouse.schema}.customer row_count(min=10): row_count=5, min_rows=10" in error.message
    assert f"{warehouse.schema}.nope not_null(id): could not run: " in error.message
    assert error.hint is not None and "2 warning checks failed too" in error.hint
    assert error.details == result.details()
    # The orchestrator raises it in the parent from the child's JSON, and may pickle it.
    again = pickle.loads(pickle.dumps(ChecksFailed(details)))
    assert again.message == error.message and again.details == details
