"""The rule for missing services: skip on a laptop, fail when DATAKIT_REQUIRE_SERVICES=1."""

from __future__ import annotations

import pytest

from tests import services

CLOSED = "postgresql://nobody@127.0.0.1:1/none"


def test_unreachable_postgres_skips_with_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAKIT_TEST_PG_DSN", CLOSED)
    monkeypatch.delenv("DATAKIT_REQUIRE_SERVICES", raising=False)
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL is unreachable"):
        services.postgres_dsn()


def test_unreachable_postgres_fails_when_services_are_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAKIT_TEST_PG_DSN", CLOSED)
    monkeypatch.setenv("DATAKIT_REQUIRE_SERVICES", "1")
    with pytest.raises(pytest.fail.Exception, match="DATAKIT_REQUIRE_SERVICES=1 forbids skipping"):
        services.postgres_dsn()


@pytest.mark.postgres
def test_postgres_test_database_answers(pg_dsn: str) -> None:
    import psycopg

    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute("select current_database(), current_setting('server_version_num')::int").fetchone()
    assert row is not None
    assert row[0] == "datakit_test" and row[1] >= 130000
