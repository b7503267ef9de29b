"""Lineage layout rules that the report's picture relies on."""

from __future__ import annotations

import pytest

from datakit.demo.facts import layer_of
from datakit.demo.lineage import BOX_WIDTH, LABEL_CHARS, _layout


@pytest.mark.parametrize(
    ("schema", "layer"),
    [
        ("br__pagila__public", "bronze"),
        ("acme_br__pagila__public", "bronze"),  # a tenant warehouse's schemas carry its prefix
        ("silver", "silver"),
        ("acme_silver", "silver"),
        ("sv__pagila__public", "silver"),
        ("gold", "gold"),
        ("gd__pagila__public", "gold"),
        ("_datakit", None),
        ("main", None),
    ],
)
def test_layer_of_schema(schema: str, layer: str | None) -> None:
    assert layer_of(schema) == layer


def test_columns_by_layer_and_edges_within_a_layer_go_around_it() -> None:
    nodes = {
        "source:a": ("source", "src.a"),
        "bronze:a": ("bronze", "br__x__public.a"),
        "gold:dim": ("gold", "gold.dim"),
        "gold:fact_with_a_very_long_name_indeed": ("gold", "gold.fact_with_a_very_long_name_indeed"),
    }
    lineage = _layout(
        nodes, {("source:a", "bronze:a"), ("gold:dim", "gold:fact_with_a_very_long_name_indeed")}
    )  # type: ignore[arg-type]
    xs = {n.id: n.x for n in lineage.nodes}
    assert xs["source:a"] < xs["bronze:a"] < xs["gold:dim"] == xs["gold:fact_with_a_very_long_name_indeed"]
    (across, _), (within, loop) = sorted(lineage.paths(), key=lambda p: p[0].source, reverse=True)
    assert (across.source, within.source) == ("source:a", "gold:dim")
    right = xs["gold:dim"] + BOX_WIDTH
    assert loop.startswith(f"M{right},") and loop.split()[-1].startswith(
        f"{right},"
    )  # leaves and returns right
    long = lineage.node("gold:fact_with_a_very_long_name_indeed")
    assert len(long.label) == LABEL_CHARS and long.label.endswith("…")
    assert lineage.width >= max(n.x for n in lineage.nodes) + BOX_WIDTH
