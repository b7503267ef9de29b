"""A small warehouse with known defects, on DuckDB and on PostgreSQL, and a project pointing at it.

The same tables and the same suite run on both engines of the matrix (`tests.matrix`); each engine gets
a private schema (PostgreSQL: a fresh schema dropped afterwards), so the expected counts and samples are
written once.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from datakit.config import load_project
from datakit.config.project import Project
from datakit.connectors import PostgresParams
from tests.matrix import ENGINES, DuckDBTarget, Engine, Target, postgres_target

ODD_COLUMN = 'x"; drop table {s}.address; --'
"""A column name that would end the statement and drop a table if it were pasted into SQL unquoted."""

# `at` is a keyword in DuckDB: the freshness checks on it work only because names are quoted.
TABLES = """
create table {s}.address (address_id integer, city varchar);
insert into {s}.address values (1, 'a'), (2, 'b'), (3, 'it''s'), (4, 'back\\slash');
create table {s}.address_copy (address_id integer);
insert into {s}.address_copy values (1), (2), (3), (4);
create table {s}.customer (customer_id integer, email varchar, active integer, address_id integer);
insert into {s}.customer values
    (1, 'a@x.org', 1, 1),
    (2, null, 1, 2),
    (3, 'c@x.org', 0, 9),
    (3, 'd-at-x', 2, null),
    (5, null, 1, 3);
create table {s}.events (id integer, "at" timestamp with time zone);
insert into {s}.events values (1, current_timestamp - interval '10 minutes');
create table {s}.stale ("at" timestamp);
insert into {s}.stale values ('2020-01-01 00:00:00'), ('2019-06-01 12:00:00');
create table {s}.empty ("at" timestamp);
create table {s}.odd ("{odd}" integer);
insert into {s}.odd values (1), (null);
"""

SUITE = """
checks:
  name: quality
  description: Every built-in check, passing and failing.
  destination: wh
  tables:
    {s}.customer:
      - not_null: [customer_id, email]
      - unique: customer_id
      - unique: [customer_id, email]
      - accepted_values: {{column: active, values: [0, 1]}}
      - relationships: {{column: address_id, to: {s}.address, field: address_id}}
      - relationships: {{column: customer_id, to: {s}.address_copy, field: address_id}}
        name: customer_ids_are_addresses
        severity: warn
      - row_count: {{min: 1}}
      - row_count: {{min: 10}}
      - row_count: {{max: 3}}
      - row_count: {{equal_to: {s}.address}}
      - expression: "active in (0, 1)"
        severity: warn
      - expression: "email like '%@%'"
        name: email_has_at
      - sql: "select * from {s}.customer where email not like '%@%';"
        name: emails_have_at
      - not_null: no_such_column
        name: missing_column
    {s}.address:
      - row_count: {{equal_to: {s}.address_copy}}
      - unique: address_id
      - accepted_values: {{column: city, values: [a, b, "it's", 'back\\slash']}}
      - expression: "city <> ''"
    {s}.events:
      - freshness: {{column: at, max_age: 1h}}
    {s}.stale:
      - freshness: {{column: at, max_age: 2d}}
    {s}.empty:
      - freshness: {{column: at, max_age: 1d}}
    {s}.odd:
      - not_null: '{odd}'
    {s}.nope:
      - not_null: id
"""


@dataclass
class Warehouse:
    """A project whose destination `wh` holds the tables above in the target's schema."""

    target: Target
    project: Project

    @property
    def kind(self) -> Engine:
        return self.target.kind

    @property
    def schema(self) -> str:
        return self.target.schema


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def make_project(root: Path, destination: str, suite: str, schema: str) -> Project:
    write(root, "datakit.yaml", "name: quality_tests\n")
    write(root, "config/destinations/wh.yaml", destination)
    write(
        root,
        "config/secrets_mapping.yaml",
        """
        secrets:
          wh_password:
            env_var: DATAKIT_QUALITY_TEST_PASSWORD
            required: false
        """,
    )
    write(root, "config/checks/quality.yaml", suite.format(s=schema, odd=ODD_COLUMN.format(s=schema)))
    return load_project(root, environ={})


def fill(target: Target) -> None:
    """Create the target's schema and the tables above in it."""
    schema = target.schema
    text = TABLES.format(s=schema, odd=ODD_COLUMN.format(s=schema).replace('"', '""'))
    target.execute(f"create schema {schema}")
    for statement in (s.strip() for s in text.split(";\n")):
        if statement:
            target.execute(statement)


@pytest.fixture(scope="module")
def duckdb_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    root = tmp_path_factory.mktemp("duckdb_quality")
    target = DuckDBTarget(root / "wh.duckdb", "silver")
    fill(target)
    destination = """
        destination:
          name: wh
          type: duckdb
          connection:
            database: wh.duckdb
        """
    return Warehouse(target, make_project(root, destination, SUITE, target.schema))


@pytest.fixture(scope="module")
def postgres_warehouse(tmp_path_factory: pytest.TempPathFactory, pg_dsn: str) -> Iterator[Warehouse]:
    params = PostgresParams.from_dsn(pg_dsn)
    destination = f"""
        destination:
          name: wh
          type: postgres
          connection:
            host: {params.host}
            port: {params.port}
            database: {params.database}
            user: {params.user}
            password_secret_key: wh_password
        """
    root = tmp_path_factory.mktemp("postgres_quality")
    with postgres_target(pg_dsn, "dk_quality") as target, pytest.MonkeyPatch.context() as mp:
        fill(target)
        if params.password is not None:
            mp.setenv("DATAKIT_QUALITY_TEST_PASSWORD", params.password.get_secret_value())
        yield Warehouse(target, make_project(root, destination, SUITE, target.schema))


@pytest.fixture(params=ENGINES)
def warehouse(request: pytest.FixtureRequest) -> Warehouse:
    """Each engine in turn: tests taking this run once on DuckDB and once on PostgreSQL."""
    fixture: Warehouse = request.getfixturevalue(f"{request.param}_warehouse")
    return fixture
