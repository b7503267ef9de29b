"""`checks:` files: a suite loads, and a broken one gives located problems with suggestions."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest

from datakit.config import load_project, validate_project
from datakit.config.listing import describe_project
from datakit.config.models import CHECK_KINDS, CheckSuite
from datakit.config.models.checks import (
    AcceptedValuesCheck,
    ExpressionCheck,
    FreshnessCheck,
    NotNullCheck,
    RowCountCheck,
    SqlCheck,
    UniqueCheck,
)
from datakit.config.schema import all_schemas
from datakit.config.yaml_source import read_yaml
from datakit.errors import NotFoundError
from tests.quality.conftest import write

DESTINATION = """
destination:
  name: local_duckdb
  type: duckdb
  connection:
    database: warehouse.duckdb
"""

GOOD = """
checks:
  name: silver_quality
  description: Silver must be sound before gold is built.
  destination: local_duckdb
  severity: error
  tables:
    silver.customer:
      - not_null: [customer_id, email]
      - unique: customer_id
      - accepted_values: {column: active, values: [0, 1]}
      - relationships: {column: address_id, to: silver.address, field: address_id}
      - row_count: {min: 1}
      - row_count: {equal_to: br__pagila__public.customer}
      - freshness: {column: last_update, max_age: 2d}
      - expression: "active in (0, 1)"
        severity: warn
      - sql: "select * from silver.customer where email not like '%@%'"
        name: emails_have_at
"""


def project_with(tmp_path: Path, suite: str, name: str = "silver_quality.yaml") -> Path:
    write(tmp_path, "datakit.yaml", "name: checks_config\n")
    write(tmp_path, "config/destinations/local_duckdb.yaml", DESTINATION)
    write(tmp_path, f"config/checks/{name}", suite)
    return tmp_path


def test_a_suite_loads_with_defaults_and_shorthands(tmp_path: Path) -> None:
    project = load_project(project_with(tmp_path, GOOD), environ={})
    suite = project.check_suite("silver_quality")
    assert project.check_suite("silver_quality.yaml") is suite  # by file name, like every kind
    assert list(project.check_suites) == ["silver_quality"]
    checks = [check for _, check in suite.checks()]
    assert [c.kind for c in checks] == [
        "not_null", "unique", "accepted_values", "relationships",
        "row_count", "row_count", "freshness", "expression", "sql",
    ]  # fmt: skip
    assert isinstance(checks[1], UniqueCheck) and checks[1].unique == ["customer_id"]  # one column: a list
    assert isinstance(checks[6], FreshnessCheck) and checks[6].freshness.max_age == timedelta(days=2)
    assert [suite.severity_of(c) for c in checks].count("warn") == 1
    assert [label for c in checks for label in c.labels()] == [
        "not_null(customer_id)",
        "not_null(email)",
        "unique(customer_id)",
        "accepted_values(active)",
        "relationships(address_id -> silver.address)",
        "row_count(min=1)",
        "row_count(equal_to=br__pagila__public.customer)",
        "freshness(last_update, 2d)",
        "expression(active in (0, 1))",
        "emails_have_at",
    ]
    listed = describe_project(project)["check_suites"]
    assert listed == [
        {
            "name": "silver_quality",
            "destination": "local_duckdb",
            "severity": "error",
            "tables": ["silver.customer"],
            "checks": 10,
            "file": listed[0]["file"],
        }
    ]
    assert listed[0]["file"].endswith("config/checks/silver_quality.yaml")


def test_unknown_suite_lookup_suggests_the_close_name(tmp_path: Path) -> None:
    project = load_project(project_with(tmp_path, GOOD), environ={})
    with pytest.raises(NotFoundError) as caught:
        project.check_suite("silver_qualty")
    assert caught.value.message == "unknown check suite 'silver_qualty'"
    assert caught.value.hint == "did you mean 'silver_quality'?"


BROKEN = """
checks:
  name: broken
  destination: local_duckdb
  tables:
    silver.customer:
      - not_nul: [customer_id]
      - unique: customer_id
        severity: warnn
      - accepted_values: {column: active, valuez: [0, 1]}
      - row_count: {}
      - row_count: {min: 5, max: 1}
      - freshness: {column: x, max_age: 2 days}
      - sql: "select 1"
      - not_null: a
        unique: b
      - not_null
      - {}
    a..b:
      - not_null: x
    silver.empty: []
"""


def test_a_broken_suite_gives_located_problems_with_suggestions(tmp_path: Path) -> None:
    result = validate_project(project_with(tmp_path, BROKEN, "broken.yaml"), environ={})
    where = "config/checks/broken.yaml"
    rendered = [p.render().split(where, 1)[1] for p in result.errors]
    assert rendered == [
        ":6:9: checks.tables.silver.customer[0]: unknown check 'not_nul' — did you mean 'not_null'?",
        ":8:19: checks.tables.silver.customer[1].severity: invalid value 'warnn': "
        "expected one of 'warn', 'error' — did you mean 'warn'?",
        ":9:43: checks.tables.silver.customer[2].accepted_values.valuez: unknown key 'valuez' "
        "— did you mean 'values'?",
        ":10:20: checks.tables.silver.customer[3].row_count: give min, max or equal_to",
        ":11:20: checks.tables.silver.customer[4].row_count: min (5) is greater than max (1)",
        ":12:41: checks.tables.silver.customer[5].freshness.max_age: invalid duration '2 days': "
        "use seconds (300) or a form like 90s, 5m, 1h30m, 2d",
        ":13:9: checks.tables.silver.customer[6].name: missing required key 'name'",
        ":14:9: checks.tables.silver.customer[7]: one check per item: found both 'not_null' and 'unique' "
        "— split them into two list items",
        ":16:9: checks.tables.silver.customer[8]: a check is a mapping like `not_null: [column]` "
        "— write `not_null: ...` with its options",
        ":17:9: checks.tables.silver.customer[9]: this item has no check — add one of: not_null, unique, "
        "accepted_values, relationships, row_count, freshness, expression, sql",
        ":19:7: checks.tables.a..b: invalid table 'a..b': "
        "write schema.table (or table, or catalog.schema.table)",
        ":20:19: checks.tables.silver.empty: list should have at least 1 item after validation, not 0",
    ]


def test_cross_file_problems_unknown_destination_and_duplicate_names(tmp_path: Path) -> None:
    suite = """
    checks:
      name: dup
      destination: local_duckdbb
      tables:
        silver.customer:
          - expression: "a > 0"
          - expression: "a > 0"
          - not_null: [a, a]
    """
    result = validate_project(project_with(tmp_path, suite, "dup.yaml"), environ={})
    rendered = [p.render().split("config/checks/dup.yaml", 1)[1] for p in result.errors]
    assert rendered == [
        ":3:16: checks.destination: unknown destination 'local_duckdbb' — did you mean 'local_duckdb'?",
        ":7:9: checks.tables.silver.customer[1]: check 'expression(a > 0)' appears twice on silver.customer "
        "— give one of them its own `name:`",
        ":8:9: checks.tables.silver.customer[2]: check 'not_null(a)' appears twice on silver.customer "
        "— give one of them its own `name:`",
    ]


def test_the_cli_reports_a_broken_suite(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from datakit.cli.app import app

    root = project_with(tmp_path, BROKEN, "broken.yaml")
    outcome = CliRunner().invoke(app, ["--project", str(root), "validate"])
    assert outcome.exit_code == 1
    assert "unknown check 'not_nul' — did you mean 'not_null'?" in outcome.output
    assert "broken.yaml:6:9" in outcome.output


def test_labels_of_named_and_multi_column_checks() -> None:
    assert NotNullCheck(not_null=["a", "b"], name="ids").labels() == ["ids(a)", "ids(b)"]
    assert NotNullCheck(not_null=["a"], name="ids").labels() == ["ids"]
    assert UniqueCheck(unique=["a", "b"]).labels() == ["unique(a, b)"]
    assert AcceptedValuesCheck.model_validate(
        {"accepted_values": {"column": "c", "values": [1]}}
    ).labels() == ["accepted_values(c)"]
    long = ExpressionCheck(expression="x > 0 and " * 20 + "true")
    assert len(long.labels()[0]) <= len("expression()") + 60 and long.labels()[0].endswith("…)")
    assert SqlCheck(sql="select 1", name="custom").labels() == ["custom"]
    assert RowCountCheck.model_validate({"row_count": {"min": 1, "max": 5}}).labels() == [
        "row_count(min=1, max=5)"
    ]


def test_json_schema_accepts_the_example_and_rejects_an_unknown_check(tmp_path: Path) -> None:
    path = write(tmp_path, "suite.yaml", GOOD)
    validator = jsonschema.Draft202012Validator(all_schemas()["checks"])
    data = read_yaml(path).data
    assert list(validator.iter_errors(data)) == []
    data["checks"]["tables"]["silver.customer"].append({"not_nul": ["x"]})
    assert len(list(validator.iter_errors(data))) == 1
    assert set(CHECK_KINDS) == {
        "not_null", "unique", "accepted_values", "relationships",
        "row_count", "freshness", "expression", "sql",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("item", "message", "suggestion"),
    [
        (5, "a check is a mapping like `not_null: [column]`", "one of: not_null, unique, "),
        ([], "a check is a mapping like `not_null: [column]`", "one of: not_null, unique, "),
        ({"uniq": "a"}, "unknown check 'uniq'", "did you mean 'unique'?"),
        ({"{suggestion}": 1}, "unknown check '{suggestion}'", "built-in checks: not_null, "),
        ({"severity": "warn"}, "this item has no check", "add one of: not_null, "),
    ],
)
def test_odd_items_get_our_message_not_pydantic_internals(
    item: object, message: str, suggestion: str
) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as caught:
        CheckSuite.model_validate({"name": "s", "destination": "d", "tables": {"t": [item]}})
    [error] = caught.value.errors()
    assert error["msg"] == message
    assert str(error["ctx"]["suggestion"]).startswith(suggestion)
