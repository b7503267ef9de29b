"""A DuckDB file another process holds: a transient error naming the destination, file and holder."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from datakit.connectors import DuckDBParams
from datakit.connectors.engines.duckdb.destination import DuckDBDestination
from datakit.connectors.engines.duckdb.errors import FileLocked
from datakit.orchestrate.retry import is_transient
from tests.duckdb_lock import duckdb_lock


def test_a_locked_file_is_a_transient_error_that_names_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    destination = DuckDBDestination(DuckDBParams(database=str(path), destination="warehouse"))
    with duckdb_lock(path) as holder:
        with pytest.raises(FileLocked) as locked, destination.transaction():
            pass
        assert locked.value.message == (
            f"destination warehouse (file {path}) is locked by another process (PID {holder.pid})"
        )
        assert is_transient(locked.value)
        holder.release()
        with destination.transaction() as tx:  # once it let go, the file opens
            tx.execute("create table t (a int)")
    with duckdb.connect(str(path), read_only=True) as conn:
        assert conn.execute("select count(*) from t").fetchone() == (0,)
