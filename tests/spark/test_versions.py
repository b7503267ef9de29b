"""Atomic loads without transactions (issue 18, item 2): version folders switched at commit, a journal
that a crashed commit's successor finishes, nothing visible from a transaction that failed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from datakit.connectors import TableRef
from datakit.connectors.engines.spark import versions
from tests.matrix import unique_name

pytestmark = pytest.mark.spark


def _location(spark: Any, schema: str, table: str) -> Path:
    rows = spark.sql(f"DESCRIBE TABLE EXTENDED `{schema}`.`{table}`").collect()
    found = {str(row[0]).strip(): str(row[1]).strip() for row in rows}
    return Path(found["Location"].removeprefix("file:"))


def _rows(spark: Any, schema: str, table: str) -> list[tuple[Any, ...]]:
    return sorted(tuple(row) for row in spark.sql(f"SELECT * FROM `{schema}`.`{table}`").collect())


def test_each_commit_is_a_new_version_and_two_are_kept(spark_destination: Any) -> None:
    schema = unique_name("dk_v")
    spark = spark_destination.spark
    table = TableRef("t", schema)
    seen = []
    for value in range(3):
        with spark_destination.transaction() as tx:
            tx.execute(f"CREATE SCHEMA IF NOT EXISTS `{schema}`")
            tx.execute(f"CREATE TABLE IF NOT EXISTS `{schema}`.`t` (`a` INT)")
            tx.execute(f"INSERT INTO `{schema}`.`t` (`a`) VALUES ($1)", [value])
            assert tx.query(f"SELECT count(*) FROM `{schema}`.`t`") == [(value + 1,)]  # its own writes
        seen.append(_location(spark, schema, "t"))
        assert _rows(spark, schema, "t") == [(v,) for v in range(value + 1)]
    assert len(set(seen)) == 3 and all(versions.VERSIONS in str(path) for path in seen)
    kept = sorted(p for p in seen[0].parent.iterdir())
    assert kept == seen[1:]  # the current and the previous version; the oldest is gone
    assert spark_destination.columns(table)[0].name == "a"
    spark.sql(f"DROP DATABASE `{schema}` CASCADE")


def test_a_failed_transaction_changes_nothing(spark_destination: Any) -> None:
    schema = unique_name("dk_v")
    spark = spark_destination.spark
    with spark_destination.transaction() as tx:
        tx.execute(f"CREATE SCHEMA IF NOT EXISTS `{schema}`")
        tx.execute(f"CREATE TABLE `{schema}`.`t` (`a` INT)")
        tx.execute(f"INSERT INTO `{schema}`.`t` (`a`) VALUES (1)")
    before = _location(spark, schema, "t")

    def fail_midway() -> None:
        with spark_destination.transaction() as tx:
            tx.execute(f"DELETE FROM `{schema}`.`t` WHERE `a` = 1")
            tx.execute(f"CREATE TABLE `{schema}`.`u` (`b` INT)")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_midway()
    assert _rows(spark, schema, "t") == [(1,)]
    assert _location(spark, schema, "t") == before
    assert not spark.catalog.tableExists(f"`{schema}`.`u`")
    staging = Path(spark_destination.params.datakit_dir) / "staging"
    assert not staging.exists() or not any(staging.iterdir())
    spark.sql(f"DROP DATABASE `{schema}` CASCADE")


def test_a_commit_cut_after_its_journal_is_finished_at_the_next_start(spark_destination: Any) -> None:
    schema = unique_name("dk_v")
    spark = spark_destination.spark
    params = spark_destination.params
    with spark_destination.transaction() as tx:
        tx.execute(f"CREATE SCHEMA IF NOT EXISTS `{schema}`")
        tx.execute(f"CREATE TABLE `{schema}`.`t` (`a` INT)")
        tx.execute(f"INSERT INTO `{schema}`.`t` (`a`) VALUES (1)")
    # what a commit had done when its process died: the new versions written, the journal complete,
    # no table switched yet
    location = versions.new_location(params, schema, "t", "deadbeef00")
    spark.createDataFrame([(1,), (2,)], "a INT").write.parquet(str(location))
    new_table = versions.new_location(params, schema, "u", "deadbeef00")
    spark.createDataFrame([("x",)], "b STRING").write.parquet(str(new_table))
    switches = [
        versions.Switch(schema, "t", (("a", "int"),), str(location)),
        versions.Switch(schema, "u", (("b", "string"),), str(new_table)),
    ]
    folder = versions.journal_folder(params)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "deadbeef00.json").write_text(json.dumps([vars(s) for s in switches]))
    (folder / ".cafe.json.tmp").write_text("[")  # a journal never completed: that commit never happened
    versions.recover(spark, params)
    assert _rows(spark, schema, "t") == [(1,), (2,)]
    assert _rows(spark, schema, "u") == [("x",)]
    assert not any(folder.iterdir())
    spark.sql(f"DROP DATABASE `{schema}` CASCADE")
