"""The DAG drawing: columns by longest path, fewer crossings, valid and deterministic SVG at scale."""

from __future__ import annotations

import random
import re
import xml.etree.ElementTree as ET

from datakit.server.dag_svg import ellipsize, layout, render_dag, status_colour, tint

SVG = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # well-formed XML, or this raises


def _node_boxes(svg: str) -> dict[str, tuple[float, float]]:
    root = _parse(svg)
    boxes = {}
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "node":
            rect = g.find(f"{SVG}rect")
            assert rect is not None
            boxes[g.get("data-step", "")] = (float(rect.get("x", "0")), float(rect.get("y", "0")))
    return boxes


def _crossings(shape_layers: tuple[tuple[str, ...], ...], edges: list[tuple[str, str]]) -> int:
    row = {n: r for layer in shape_layers for r, n in enumerate(layer)}
    col = {n: c for c, layer in enumerate(shape_layers) for n in layer}
    adjacent = [(a, b) for a, b in edges if col[b] == col[a] + 1]
    count = 0
    for i, (a, b) in enumerate(adjacent):
        for c, d in adjacent[i + 1 :]:
            if col[a] == col[c] and (row[a] - row[c]) * (row[b] - row[d]) < 0:
                count += 1
    return count


def test_columns_follow_the_longest_path() -> None:
    # a -> b -> c and a -> c: c sits after b (its furthest dependency), not next to b
    shape = layout(["a", "b", "c", "d"], [("a", "b"), ("b", "c"), ("a", "c")])
    assert shape.layers == (("a", "d"), ("b",), ("c",))
    assert shape.layer_of("c") == 2 and shape.layer_of("d") == 0


def test_edges_to_unknown_nodes_add_them_and_duplicates_collapse() -> None:
    shape = layout(["a"], [("a", "x"), ("a", "x"), ("a", "a")])
    assert shape.layers == (("a",), ("x",))
    assert shape.edges == (("a", "x"),)


def test_barycentre_ordering_removes_an_avoidable_crossing() -> None:
    # input order makes the two chains cross; ordering by the parents' rows uncrosses them
    nodes = ["a1", "a2", "b2", "b1"]
    edges = [("a1", "b1"), ("a2", "b2")]
    shape = layout(nodes, edges)
    assert shape.layers == (("a1", "a2"), ("b1", "b2"))
    assert _crossings(shape.layers, edges) == 0


def test_a_cycle_in_a_corrupt_plan_still_draws() -> None:
    svg = render_dag(["a", "b", "c"], [("a", "b"), ("b", "c"), ("c", "a")])
    assert svg.count('class="node"') == 3 and svg.count('class="edge"') == 3
    _parse(svg)


def test_nodes_and_edges_carry_classes_ids_titles_and_status_colours() -> None:
    svg = render_dag(
        ["load.customers", "load.orders"], [("load.customers", "load.orders")], {"load.orders": "failed"}
    )
    root = _parse(svg)
    nodes = [g for g in root.iter(f"{SVG}g") if g.get("class") == "node"]
    edges = [p for p in root.iter(f"{SVG}path") if p.get("class") == "edge"]
    assert [g.get("data-step") for g in nodes] == ["load.customers", "load.orders"]
    assert [(e.get("data-from"), e.get("data-to")) for e in edges] == [("load.customers", "load.orders")]
    assert edges[0].get("marker-end") == "url(#dag-arrow)"
    titles = [g.findtext(f"{SVG}title") for g in nodes]
    assert titles == ["load.customers", "load.orders — failed"]
    failed_rect = nodes[1].find(f"{SVG}rect")
    assert failed_rect is not None and failed_rect.get("stroke") == status_colour("failed") == "#c62828"
    # an opaque light fill: edges passing behind a box stay hidden
    assert failed_rect.get("fill") == tint("#c62828") == "#f6dfdf" and failed_rect.get("fill-opacity") is None
    assert status_colour("exploded") == status_colour(None) == "#607d8b"
    # the downstream box is right of its upstream box
    boxes = _node_boxes(svg)
    assert boxes["load.orders"][0] > boxes["load.customers"][0]


def test_long_ids_are_ellipsized_in_the_box_but_whole_in_the_tooltip() -> None:
    long_id = "a_very_long_pipeline_name.an_even_longer_resource_name"
    assert ellipsize(long_id) == "a_very_long…esource_name"
    assert len(ellipsize(long_id)) == 24 and ellipsize("short") == "short"
    svg = render_dag([long_id], [])
    root = _parse(svg)
    group = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "node")
    assert group.findtext(f"{SVG}title") == long_id
    assert group.findtext(f"{SVG}text") == "a_very_long…esource_name"


def test_markup_in_ids_is_escaped() -> None:
    svg = render_dag(['x"><script>alert(1)</script>'], [], {'x"><script>alert(1)</script>': "<b>"})
    assert "<script>" not in svg
    root = _parse(svg)
    group = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "node")
    assert group.get("data-step") == 'x"><script>alert(1)</script>'
    assert group.get("data-status") == "<b>"


def _random_dag(size: int, seed: int) -> tuple[list[str], list[tuple[str, str]]]:
    rng = random.Random(seed)
    nodes = [f"pipe{i // 5}.res{i % 5}" for i in range(size)]
    edges = [
        (nodes[j], nodes[i])
        for i in range(1, size)
        for j in rng.sample(range(i), k=min(i, rng.randint(0, 3)))
    ]
    return nodes, edges


def test_a_fifty_node_dag_renders_every_node_and_edge_left_to_right() -> None:
    nodes, edges = _random_dag(50, seed=7)
    svg = render_dag(nodes, edges)
    assert svg.count('class="node"') == 50
    assert svg.count('class="edge"') == len(set(edges))
    boxes = _node_boxes(svg)
    assert set(boxes) == set(nodes)
    assert all(boxes[down][0] > boxes[up][0] for up, down in edges)
    assert len(set(boxes.values())) == 50  # no two boxes on top of each other


def test_output_is_deterministic() -> None:
    nodes, edges = _random_dag(80, seed=3)
    first = render_dag(nodes, edges, {nodes[0]: "succeeded"})
    assert render_dag(list(nodes), list(edges), {nodes[0]: "succeeded"}) == first
    assert re.search(r'width="(\d+)" height="(\d+)"', first)


def test_a_wide_column_wraps_instead_of_growing_without_bound() -> None:
    nodes = [f"step{i:03d}" for i in range(300)]  # a parallel job: no edges, one column
    svg = render_dag(nodes, [], max_rows=30)
    root = _parse(svg)
    assert svg.count('class="node"') == 300
    height = int(root.get("height", "0"))
    assert height < 30 * 40 + 40
    boxes = _node_boxes(svg)
    assert len({x for x, _ in boxes.values()}) == 10  # ten sub-columns of thirty


def test_a_few_hundred_nodes_render() -> None:
    """How fast is `bench/dag_svg.py`'s figure, not a test's."""
    nodes, edges = _random_dag(400, seed=11)
    svg = render_dag(nodes, edges)
    assert svg.count('class="node"') == 400
    assert svg.count('class="edge"') == len(set(edges))


def test_an_empty_graph_is_a_small_valid_svg() -> None:
    root = _parse(render_dag([], []))
    assert root.tag == f"{SVG}svg" and int(root.get("width", "0")) > 0
