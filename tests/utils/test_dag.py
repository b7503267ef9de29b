"""The generic DAG: order, cycles with their path, downstream sets."""

from __future__ import annotations

import pytest

from datakit.utils.dag import DAG, CycleFound


def test_order_puts_dependencies_first() -> None:
    order = DAG({"load": ["extract"], "report": ["load", "check"], "check": ["load"]}).order()
    assert order.index("extract") < order.index("load") < order.index("check") < order.index("report")


def test_cycle_is_reported_with_its_path() -> None:
    dag = DAG({"a": ["b"], "b": ["c"], "c": ["a"], "d": []})
    assert dag.find_cycle() == ["a", "b", "c", "a"]
    with pytest.raises(CycleFound, match="dependency cycle: a -> b -> c -> a"):
        dag.order()


def test_downstream() -> None:
    dag = DAG({"b": ["a"], "c": ["b"], "d": ["a"], "e": []})
    assert dag.downstream("a") == {"b", "c", "d"}
    assert dag.downstream("e") == set()
