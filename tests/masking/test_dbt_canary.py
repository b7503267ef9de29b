"""dbt on PostgreSQL with a canary password: no form of it in the run's output, history or dbt's logs.

The test creates a role whose password is the canary; the warehouse logs in with it (the test server
trusts local logins, so any password would do: what matters is that the canary reaches dbt's
connection). A model logs a line carrying every encoded form of the canary (what a macro printing a
connection URL would do); dbt scrubs only the raw value from its own log, datakit must mask the rest.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.config.helpers import write
from tests.masking.canaries import canary, file_leaks, leak_forms, leaks
from tests.masking.test_canaries import cli, history_text

pytestmark = pytest.mark.postgres


@pytest.fixture
def canary_role(pg_dsn: str) -> Iterator[tuple[str, str]]:
    """A login role with a canary password, allowed to create schemas; dropped with what it owns."""
    import psycopg
    from psycopg import sql

    role, password = f"dk_canary_{uuid.uuid4().hex[:10]}", canary("pg")
    database = urlsplit(pg_dsn).path.lstrip("/")
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), password))
        conn.execute(
            sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(
                sql.Identifier(database), sql.Identifier(role)
            )
        )
    yield role, password
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP OWNED BY {} CASCADE").format(sql.Identifier(role)))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def make_project(root: Path, pg_dsn: str, role: str) -> None:
    parts = urlsplit(pg_dsn)
    write(root, "datakit.yaml", "name: dbtcanary\n")
    write(root, "config/secrets_mapping.yaml", "secrets:\n  warehouse_password: {env_var: CANARY_PG}\n")
    write(
        root,
        "config/destinations/warehouse.yaml",
        f"""
        destination:
          name: warehouse
          type: postgres
          connection:
            host: {parts.hostname}
            port: {parts.port or 5432}
            database: {parts.path.lstrip("/")}
            user: {role}
            password_secret_key: warehouse_password
        """,
    )
    write(
        root,
        "transform/leaky/dbt_project.yml",
        f"""
        name: leaky
        version: "1.0"
        config-version: 2
        profile: leaky
        models:
          leaky:
            +materialized: view
            +schema: {role}
        """,
    )
    write(
        root,
        "transform/leaky/models/leak.sql",
        """
        {{ log("connection check: " ~ env_var("CANARY_PG_FORMS"), info=True) }}
        select 1 as one
        """,
    )
    write(
        root,
        "config/jobs/transform.yaml",
        """
        job:
          name: transform
          steps:
            - {name: leaky, dbt: {project: transform/leaky, command: run}}
          retries: {max_attempts: 1}
        """,
    )


def test_dbt_output_history_and_logs_hold_no_form_of_the_password(
    tmp_path: Path, pg_dsn: str, canary_role: tuple[str, str]
) -> None:
    role, password = canary_role
    forms = leak_forms(password, user=role)
    root = tmp_path / "dbtcanary"
    make_project(root, pg_dsn, role)
    env = {"CANARY_PG": password, "CANARY_PG_FORMS": " ".join(forms.values())}

    run = cli(root, env, "run", "job", "transform")
    assert run.returncode == 0, run.stdout + run.stderr
    shown = cli(root, env, "runs", "show", "1", "--logs")
    assert shown.returncode == 0, shown.stderr
    assert "connection check: ***" in shown.stdout + shown.stderr  # the line reached the step log, masked

    (dbt_log,) = root.glob(".datakit/dbt/**/logs/dbt.log")
    assert "connection check: ***" in dbt_log.read_text(encoding="utf-8")
    # target/ holds dbt's parse state, which records the test's own CANARY_PG_FORMS variable: not a log
    logs = {name: names for name, names in file_leaks(root, forms).items() if "/target/" not in name}
    assert logs == {}
    assert leaks(history_text(root), forms) == []
    assert [leaks(out.stdout + out.stderr, forms) for out in (run, shown)] == [[], []]
