"""Access to the real services tests run against, with one rule for when they are missing.

On a laptop without PostgreSQL the tests that need it are skipped with the reason; in CI
(`DATAKIT_REQUIRE_SERVICES=1`) a missing service is a failure, so a broken set-up can never pass green.
"""

from __future__ import annotations

import os

import pytest

PG_DSN_DEFAULT = "postgresql://datakit:datakit@127.0.0.1:5432/datakit_test"


def services_required() -> bool:
    return os.environ.get("DATAKIT_REQUIRE_SERVICES", "").strip().lower() in {"1", "true", "yes"}


def unavailable(service: str, reason: str) -> None:
    """Skip, or fail when services are required, with a message that says how to get the service."""
    message = f"{service} is unreachable ({reason}); start it or set DATAKIT_TEST_PG_DSN"
    if services_required():
        pytest.fail(f"{message} — DATAKIT_REQUIRE_SERVICES=1 forbids skipping", pytrace=False)
    pytest.skip(message)


def postgres_dsn() -> str:
    """The DSN of the PostgreSQL test database, after checking that it answers."""
    import psycopg

    dsn = os.environ.get("DATAKIT_TEST_PG_DSN", PG_DSN_DEFAULT)
    try:
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            conn.execute("select 1")
    except psycopg.Error as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        unavailable("PostgreSQL", first_line)
    return dsn


MYSQL_URL_DEFAULT = "mysql://root@127.0.0.1:3306/test"


def mysql_url() -> str:
    """The URL of the MySQL/MariaDB test database, after checking that it answers."""
    from urllib.parse import unquote, urlsplit

    import pymysql

    url = os.environ.get("DATAKIT_TEST_MYSQL_URL", MYSQL_URL_DEFAULT)
    parts = urlsplit(url)
    try:
        conn = pymysql.connect(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 3306,
            user=unquote(parts.username or "root"),
            password=unquote(parts.password or ""),
            database=parts.path.lstrip("/") or "test",
            connect_timeout=3,
        )
        conn.close()
    except pymysql.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        unavailable("MySQL/MariaDB", f"{reason}; its URL comes from DATAKIT_TEST_MYSQL_URL")
    return url
