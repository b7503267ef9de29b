"""Errors: typed, transient when a retry may help, and never carrying a password. Imports stay cheap."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid

import pytest
from pydantic import SecretStr

from datakit.connectors import (
    ConnectionLost,
    ConnectorError,
    DuckDBParams,
    MysqlParams,
    PostgresParams,
    ReadRequest,
    SqliteParams,
    TableRef,
    open_destination,
    open_source,
)
from datakit.errors import DatakitError

SECRET = "s3cr3t-Pa55word"


def test_params_never_show_the_password() -> None:
    params = PostgresParams(host="db", database="x", user="u", password=SecretStr(SECRET))
    for text in (repr(params), str(params), params.describe(), params.model_dump_json()):
        assert SECRET not in text
    assert SECRET in params.uri() and SECRET in params.conninfo()  # only what goes to the driver


def test_unreachable_postgres_is_transient_and_secret_free() -> None:
    params = PostgresParams(host="127.0.0.1", port=1, database="x", user="u", password=SecretStr(SECRET))
    source = open_source(params)
    for action in (
        lambda: source.columns(TableRef("t")),
        lambda: list(source.read(ReadRequest(query="select 1"))),
    ):
        with pytest.raises(ConnectionLost) as err:
            action()
        assert err.value.transient and isinstance(err.value, DatakitError)
        assert SECRET not in str(err.value)
    with pytest.raises(ConnectionLost) as err, open_destination(params).transaction():
        pass
    assert SECRET not in str(err.value)


@pytest.mark.postgres
def test_wrong_password_does_not_echo_it(pg_dsn: str) -> None:
    base = PostgresParams.from_dsn(pg_dsn)
    params = base.model_copy(update={"password": SecretStr(SECRET), "user": "datakit_nobody"})
    with pytest.raises(ConnectorError) as err:
        open_source(params).columns(TableRef("t"))
    assert SECRET not in str(err.value) and "datakit_nobody" in str(err.value)


@pytest.mark.postgres
def test_sql_errors_are_terminal_and_name_the_statement(pg_dsn: str) -> None:
    destination = open_destination(PostgresParams.from_dsn(pg_dsn))
    with pytest.raises(ConnectorError) as err, destination.transaction() as tx:
        tx.execute("SELECT * FROM no_such_table_anywhere")
    assert not err.value.transient and "no_such_table_anywhere" in str(err.value)


@pytest.mark.mysql
def test_unreachable_mysql_is_transient() -> None:
    params = MysqlParams(
        host="127.0.0.1", port=1, database="x", password=SecretStr(SECRET), connect_timeout=2
    )
    with pytest.raises(ConnectionLost) as err:
        open_source(params).columns(TableRef("t"))
    assert SECRET not in str(err.value)


def test_open_picks_the_class_by_type() -> None:
    assert type(open_source(SqliteParams(database="x.sqlite"))).__name__ == "SqliteSource"  # type: ignore[arg-type]
    assert type(open_destination(DuckDBParams(database=":memory:"))).__name__ == "DuckDBDestination"


def test_import_is_cheap() -> None:
    code = (
        "import sys, datakit.connectors\n"
        "heavy = {'pyarrow', 'duckdb', 'psycopg', 'adbc_driver_postgresql', 'pymysql', 'connectorx'}\n"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_read_request_validates() -> None:
    with pytest.raises(ValueError, match="either"):
        ReadRequest()
    with pytest.raises(ValueError, match="batch_size"):
        ReadRequest(query="select 1", batch_size=0)


@pytest.mark.postgres
def test_a_deadlock_is_transient_by_its_sqlstate(pg_dsn: str) -> None:
    """Two loads locking rows in opposite orders: PostgreSQL aborts one (40P01), which a retry fixes."""
    destination = open_destination(PostgresParams.from_dsn(pg_dsn))
    table = f"dk_deadlock_{uuid.uuid4().hex[:10]}"
    with destination.transaction() as tx:
        tx.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, v int)")
        tx.execute(f"INSERT INTO {table} VALUES (1, 0), (2, 0)")
    holding = [threading.Event(), threading.Event()]
    failures: list[ConnectorError] = []

    def update(first: int, second: int, mine: int) -> None:
        try:
            with destination.transaction() as tx:
                tx.execute(f"UPDATE {table} SET v = v + 1 WHERE id = $1", [first])
                holding[mine].set()
                holding[1 - mine].wait(timeout=60)  # both hold their first row before either goes on
                tx.execute(f"UPDATE {table} SET v = v + 1 WHERE id = $1", [second])
        except ConnectorError as exc:
            failures.append(exc)

    try:
        threads = [
            threading.Thread(target=update, args=(1, 2, 0)),
            threading.Thread(target=update, args=(2, 1, 1)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(failures) == 1, failures
        assert isinstance(failures[0], ConnectionLost) and failures[0].transient
        assert "deadlock detected" in str(failures[0])
    finally:
        with destination.transaction() as tx:
            tx.execute(f"DROP TABLE {table}")


def test_each_engine_reads_its_own_words_of_a_transient_dbt_failure() -> None:
    """dbt passes driver errors on as text: the destination's engine decides, by its own words."""
    from datakit.connectors.engines import engine_of

    duckdb, postgres = engine_of("duckdb"), engine_of("postgres")
    locked = 'IO Error: Could not set lock on file "/w/warehouse.duckdb": Conflicting lock is held'
    assert duckdb.transient_message(locked)
    assert not postgres.transient_message(locked)
    assert postgres.transient_message("ERROR: could not serialize access due to concurrent update")
    assert postgres.transient_message("FATAL: the database system is starting up")
    for engine in (duckdb, postgres):
        assert engine.transient_message("connection refused")
        assert not engine.transient_message('syntax error at or near "selec"')
