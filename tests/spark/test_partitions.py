"""How a JDBC read is split for Spark's executors: a task's share stays bounded as the table grows."""

from __future__ import annotations

from datakit.connectors.engines.spark.reads import KEYS_PER_PARTITION, MAX_JDBC_PARTITIONS, jdbc_partitions


def test_a_small_range_gets_two_partitions_per_core_and_never_more_than_its_keys() -> None:
    assert jdbc_partitions(2, 1, 2_000_000) == 4
    assert jdbc_partitions(8, 1, 1_000) == 16
    assert jdbc_partitions(8, 5, 7) == 3  # three keys: three queries at most
    assert jdbc_partitions(2, 9, 9) == 1


def test_a_large_range_is_split_so_that_each_partition_holds_the_same_number_of_keys() -> None:
    small, large = jdbc_partitions(2, 1, 2_000_000), jdbc_partitions(2, 1, 10_000_000)
    assert (2_000_000 / small, 10_000_000 / large) == (KEYS_PER_PARTITION, KEYS_PER_PARTITION)
    # a sparse key's huge range does not make a query per half a million missing ids
    assert jdbc_partitions(2, 1, 10**12) == MAX_JDBC_PARTITIONS
