"""The registry, the SQL each built-in writes, sampling, and failures to reach the destination."""

from __future__ import annotations

import pickle
from datetime import UTC
from pathlib import Path

import pytest

from datakit.config.models import CHECK_KINDS, CheckSuite
from datakit.connectors.engines.duckdb.engine import DUCKDB
from datakit.connectors.engines.postgres.engine import POSTGRES
from datakit.connectors.errors import ConnectionLost, ConnectorError
from datakit.quality import REGISTRY, ChecksFailed, plan_suite, run_check_suite
from datakit.quality.results import jsonable
from datakit.quality.sql import relation
from tests.quality.conftest import SUITE, Warehouse, make_project


def test_every_config_check_kind_has_a_documented_builtin() -> None:
    assert list(REGISTRY) == list(CHECK_KINDS)
    for kind, entry in REGISTRY.items():
        assert entry.model is CHECK_KINDS[kind]
        assert entry.doc.startswith("Fails "), (kind, entry.doc)
        assert CHECK_KINDS[kind].__doc__, kind  # the model's docstring is its JSON Schema description


def suite(*items: object, table: str = "silver.customer") -> CheckSuite:
    return CheckSuite.model_validate({"name": "s", "destination": "d", "tables": {table: list(items)}})


def test_planned_sql_quotes_identifiers_and_renders_literals() -> None:
    planned = plan_suite(
        suite(
            {"not_null": 'a"b'},
            {"accepted_values": {"column": "c", "values": ["it's", "x\\y", 1, 2.5, True]}},
            {"relationships": {"column": "k", "to": "gold.dim"}},
            {"freshness": {"column": "ts", "max_age": "1h30m"}},
            {"expression": "price >= 0 -- a comment", "severity": "warn"},
            table='sil"ver.cus tomer',
        ),
        DUCKDB,
    )
    assert [(p.name, p.severity) for p in planned] == [
        ('not_null(a"b)', "error"),
        ("accepted_values(c)", "error"),
        ("relationships(k -> gold.dim)", "error"),
        ("freshness(ts, 1h30m)", "error"),
        ("expression(price >= 0 -- a comment)", "warn"),
    ]
    table = '"sil""ver"."cus tomer"'
    assert [p.sql for p in planned] == [
        f'select * from {table} where "a""b" is null',
        f"select * from {table} where \"c\" is not null and \"c\" not in ('it''s', 'x\\y', 1, 2.5, TRUE)",
        f'select child.* from {table} as child where child."k" is not null and not exists '
        '(select 1 from "gold"."dim" as parent where parent."k" = child."k")',
        f"select latest, '1h30m' as max_age from (select max(\"ts\") as latest from {table}) as newest "
        "where latest is null or latest < current_timestamp - interval '5400 seconds'",
        f"select * from {table} where (\nprice >= 0 -- a comment\n) is not true",
    ]
    # PostgreSQL: a backslash goes in an E'' string, whatever standard_conforming_strings says.
    values = suite({"accepted_values": {"column": "c", "values": ["it's", "x\\y", 1]}})
    assert "not in ('it''s', E'x\\\\y', 1)" in plan_suite(values, POSTGRES)[0].sql


def test_literals_of_every_value_type() -> None:
    assert [DUCKDB.literal(v) for v in (True, False, 0, -3, 1e20, "")] == [
        "TRUE",
        "FALSE",
        "0",
        "-3",
        "1e+20",
        "''",
    ]
    assert DUCKDB.literal(float("nan")) == "CAST('nan' AS DOUBLE PRECISION)"
    assert relation(DUCKDB, "main.t") == '"main"."t"' and relation(DUCKDB, "t") == '"t"'


def test_jsonable_keeps_samples_small_and_exact() -> None:
    from datetime import date, datetime
    from decimal import Decimal

    assert jsonable(Decimal("1.50")) == "1.50"
    assert jsonable(datetime(2024, 1, 2, 3, 4, tzinfo=UTC)) == "2024-01-02T03:04:00+00:00"
    assert jsonable(date(2024, 1, 2)) == "2024-01-02"
    assert jsonable(b"\x00\xff") == "\\x00ff"
    assert jsonable(float("inf")) == "inf"
    assert jsonable([1, {"a": (2,)}]) == [1, {"a": [2]}]
    assert len(str(jsonable("x" * 10_000))) == 500


def test_sample_size_bounds_the_sample_not_the_count(duckdb_warehouse: Warehouse) -> None:
    one = run_check_suite(duckdb_warehouse.project, "quality", sample_size=1)
    email = next(r for r in one.results if r.name == "email_has_at")
    assert (email.failing_rows, len(email.sample)) == (3, 1)
    none = run_check_suite(duckdb_warehouse.project, "quality", sample_size=0)
    assert all(r.sample == [] for r in none.results)
    assert [r.failing_rows for r in none.results] == [r.failing_rows for r in one.results]


def test_warnings_alone_do_not_raise(duckdb_warehouse: Warehouse, tmp_path: Path) -> None:
    lenient = SUITE.replace("  destination: wh\n", "  destination: wh\n  severity: warn\n")
    (tmp_path / "wh.duckdb").symlink_to(duckdb_warehouse.project.root / "wh.duckdb")
    project = make_project(
        tmp_path,
        "destination:\n  name: wh\n  type: duckdb\n  connection:\n    database: wh.duckdb\n",
        lenient,
        duckdb_warehouse.schema,
    )
    result = run_check_suite(project, "quality")
    assert result.errors == [] and len(result.warnings) == 16 and result.ok
    result.raise_for_errors()  # nothing to raise
    assert result.details()["ok"] is True


def test_checks_failed_from_details_alone() -> None:
    details = {
        "counts": {"warnings": 0},
        "checks": [
            {"table": "silver.customer", "name": "not_null(email)", "check": "not_null", "severity": "error",
             "status": "failed", "failing_rows": 3, "sample": []},
            {"table": "silver.customer", "name": "unique(id)", "check": "unique", "severity": "warn",
             "status": "failed", "failing_rows": 1, "sample": []},
            {"table": "silver.x", "name": "row_count(min=1)", "check": "row_count", "severity": "error",
             "status": "failed", "failing_rows": 1, "sample": [{"row_count": 0, "min_rows": 1}]},
        ],
    }  # fmt: skip
    error = ChecksFailed(details)
    assert error.message == (
        "2 error checks failed: silver.customer not_null(email): 3 rows; "
        "silver.x row_count(min=1): row_count=0, min_rows=1"
    )
    assert error.hint == "samples of the failing rows are in the run's details"
    assert error.transient is False
    assert pickle.loads(pickle.dumps(error)).details == details


def test_a_missing_duckdb_file_is_a_connector_error(tmp_path: Path) -> None:
    project = make_project(
        tmp_path,
        "destination:\n  name: wh\n  type: duckdb\n  connection:\n    database: missing.duckdb\n",
        SUITE,
        "silver",
    )
    with pytest.raises(ConnectorError) as caught:
        run_check_suite(project, "quality")
    assert "missing.duckdb" in caught.value.message and not caught.value.transient
    assert not (tmp_path / "missing.duckdb").exists()  # checks never create the database


def test_an_unreachable_postgres_is_a_transient_error(tmp_path: Path) -> None:
    destination = """
        destination:
          name: wh
          type: postgres
          connection:
            host: 127.0.0.1
            port: 1
            database: nowhere
            user: nobody
            connect_timeout: 2
        """
    project = make_project(tmp_path, destination, SUITE, "silver")
    with pytest.raises(ConnectionLost) as caught:
        run_check_suite(project, "quality")
    assert "connecting to postgres nobody@127.0.0.1:1/nowhere to run checks" in caught.value.message


def test_a_duckdb_file_held_by_a_writer_is_a_transient_error(duckdb_warehouse: Warehouse) -> None:
    import subprocess
    import sys

    database = duckdb_warehouse.project.root / "wh.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys; c = duckdb.connect({str(database)!r}); "
            "print(1, flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "1"
        with pytest.raises(ConnectionLost) as caught:
            run_check_suite(duckdb_warehouse.project, "quality")
        assert "lock" in caught.value.message.lower() and caught.value.transient
    finally:
        holder.communicate("", timeout=30)  # closing stdin lets the writer exit and release the file
    assert run_check_suite(duckdb_warehouse.project, "quality").results  # free again once it is gone
