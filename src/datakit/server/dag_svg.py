"""A DAG drawn as inline SVG: a pure function of nodes, edges and statuses, so pages need no JavaScript.

The layout is the usual layered (Sugiyama-style) drawing cut down to what a plan needs:
- longest-path layering: a node sits one column right of its furthest-right dependency, so every edge
  points rightwards and the columns read as "what can run after what";
- a few sweeps of barycentre ordering within each column (a node moves towards the mean row of its
  neighbours), the cheap heuristic that removes most crossings;
- a column taller than `max_rows` wraps into several sub-columns, so a 300-step parallel job stays a
  block the page can show instead of a 10,000-pixel strip.
Same input, same bytes out: ties are broken by the input order, never by hashing or sets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape

STATUS_COLOURS: dict[str, str] = {
    "succeeded": "#2e7d32",
    "failed": "#c62828",
    "running": "#1565c0",
    "pending": "#9e9e9e",
    "queued": "#7e57c2",
    "skipped": "#bdbdbd",
    "reused": "#00897b",
    "abandoned": "#ef6c00",
    "cancelled": "#6d4c41",
}
"""One colour per run or step status, shared by the drawing and the pages' CSS."""
UNKNOWN_COLOUR = "#607d8b"

NODE_WIDTH = 196  # fits LABEL_CHARS of 12px monospace
NODE_HEIGHT = 26
COLUMN_GAP = 56
ROW_GAP = 12
MARGIN = 10
LABEL_CHARS = 24
SWEEPS = 4


def status_colour(status: str | None) -> str:
    """The colour of a status; one neutral colour for statuses this page does not know (yet)."""
    return STATUS_COLOURS.get(status or "", UNKNOWN_COLOUR)


def tint(colour: str, strength: float = 0.15) -> str:
    """`colour` mixed into white: an opaque box fill, so edges drawn behind a box do not show through."""
    rgb = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(255 - (255 - c) * strength):02x}" for c in rgb)


@dataclass(frozen=True)
class Layout:
    """Where each node goes: `layers[i]` lists column i's nodes top to bottom."""

    layers: tuple[tuple[str, ...], ...]
    edges: tuple[tuple[str, str], ...]
    """(upstream, downstream) pairs between known nodes, duplicates and self-loops removed."""

    def layer_of(self, node: str) -> int:
        return next(i for i, layer in enumerate(self.layers) if node in layer)


def layout(nodes: Sequence[str], edges: Iterable[tuple[str, str]]) -> Layout:
    """Columns by longest path, rows by barycentre; edges to unknown nodes add those nodes at the end.

    A cycle (a corrupt stored plan) does not hang or fail the page: its nodes are placed as if the
    edge closing the cycle were absent.
    """
    order = list(dict.fromkeys(nodes))
    known = set(order)
    kept: dict[tuple[str, str], None] = {}  # a dict: ordered and deduplicated in linear time
    for up, down in edges:
        for node in (up, down):
            if node not in known:
                known.add(node)
                order.append(node)
        if up != down:
            kept[(up, down)] = None
    index = {node: i for i, node in enumerate(order)}
    ups: dict[str, list[str]] = {node: [] for node in order}
    downs: dict[str, list[str]] = {node: [] for node in order}
    for up, down in kept:
        ups[down].append(up)
        downs[up].append(down)
    depth = _longest_path(order, ups, downs)
    columns: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for node in order:
        columns[depth[node]].append(node)
    _barycentre(columns, ups, downs, index)
    return Layout(tuple(tuple(c) for c in columns), tuple(kept))


def _longest_path(order: list[str], ups: dict[str, list[str]], downs: dict[str, list[str]]) -> dict[str, int]:
    """Column = 1 + the deepest upstream column (Kahn's order); cycle members start where they stall."""
    waiting = {node: len(ups[node]) for node in order}
    depth = dict.fromkeys(order, 0)
    placed: set[str] = set()
    ready = [node for node in order if waiting[node] == 0]
    while len(placed) < len(order):
        if not ready:  # only cycles remain: release the earliest unplaced node
            ready = [next(node for node in order if node not in placed)]
        node = ready.pop(0)
        if node in placed:
            continue
        placed.add(node)
        for child in downs[node]:
            if child in placed:
                continue
            depth[child] = max(depth[child], depth[node] + 1)
            waiting[child] -= 1
            if waiting[child] == 0:
                ready.append(child)
    return depth


def _barycentre(
    columns: list[list[str]], ups: dict[str, list[str]], downs: dict[str, list[str]], index: dict[str, int]
) -> None:
    """Reorder each column by the mean row of its neighbours, sweeping right then left, a few times."""
    row = {node: r for column in columns for r, node in enumerate(column)}

    def sweep(column: list[str], neighbours: dict[str, list[str]]) -> None:
        def key(node: str) -> tuple[float, int, int]:
            near = neighbours[node]
            centre = sum(row[n] for n in near) / len(near) if near else float(row[node])
            return (centre, row[node], index[node])

        column.sort(key=key)
        for r, node in enumerate(column):
            row[node] = r

    for _ in range(SWEEPS):
        for column in columns[1:]:
            sweep(column, ups)
        for column in reversed(columns[:-1]):
            sweep(column, downs)


def ellipsize(text: str, limit: int = LABEL_CHARS) -> str:
    """Cut a long step id in the middle: both the pipeline and the resource end stay readable."""
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    return text[:head] + "…" + text[len(text) - (limit - 1 - head) :]


def render_dag(
    nodes: Sequence[str],
    edges: Iterable[tuple[str, str]],
    status: Mapping[str, str] | None = None,
    *,
    max_rows: int = 30,
    id_prefix: str = "dag",
) -> str:
    """The DAG as one `<svg>` element (safe to inline: every text is escaped).

    `edges` are (upstream, downstream) pairs; `status` maps a node to a status name for its colour.
    `id_prefix` keeps the arrowhead marker id unique when a page shows several drawings.
    """
    shape = layout(nodes, edges)
    status = status or {}
    place: dict[str, tuple[float, float]] = {}
    x = float(MARGIN)
    tallest = 0
    for column in shape.layers:
        for start in range(0, max(len(column), 1), max_rows):
            chunk = column[start : start + max_rows]
            for r, node in enumerate(chunk):
                place[node] = (x, MARGIN + r * (NODE_HEIGHT + ROW_GAP))
            tallest = max(tallest, len(chunk))
            x += NODE_WIDTH + COLUMN_GAP
    width = int(max(x - COLUMN_GAP + MARGIN, 2 * MARGIN))
    height = int(max(MARGIN * 2 + tallest * (NODE_HEIGHT + ROW_GAP) - ROW_GAP, 2 * MARGIN))
    marker = f"{id_prefix}-arrow"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="dag" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="dependency graph of {len(place)} steps">',
        f'<defs><marker id="{marker}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M 0 0 L 10 5 L 0 10 z" fill="#78909c"/>'
        "</marker></defs>",
    ]
    for up, down in shape.edges:  # edges first, so boxes cover any edge that crosses a wrapped column
        (x1, y1), (x2, y2) = place[up], place[down]
        sx, sy = x1 + NODE_WIDTH, y1 + NODE_HEIGHT / 2
        ex, ey = x2, y2 + NODE_HEIGHT / 2
        bend = max((ex - sx) / 2, 20.0)
        curve = f"M {sx:.1f} {sy:.1f} C {sx + bend:.1f} {sy:.1f}, {ex - bend:.1f} {ey:.1f}, {ex:.1f} {ey:.1f}"
        out.append(
            f'<path class="edge" data-from="{escape(up)}" data-to="{escape(down)}" d="{curve}" '
            f'fill="none" stroke="#90a4ae" stroke-width="1.4" marker-end="url(#{marker})"/>'
        )
    for node in (n for column in shape.layers for n in column):
        nx, ny = place[node]
        state = status.get(node)
        colour = status_colour(state)
        tooltip = f"{node} — {state}" if state else node
        out.append(
            f'<g class="node" data-step="{escape(node)}" data-status="{escape(state or "")}">'
            f"<title>{escape(tooltip)}</title>"
            f'<rect x="{nx:.1f}" y="{ny:.1f}" width="{NODE_WIDTH}" height="{NODE_HEIGHT}" rx="6" ry="6" '
            f'fill="{tint(colour)}" stroke="{colour}" stroke-width="1.6"/>'
            f'<text x="{nx + 8:.1f}" y="{ny + NODE_HEIGHT / 2 + 4:.1f}" font-size="12" '
            f'font-family="monospace" fill="#263238">{escape(ellipsize(node))}</text></g>'
        )
    out.append("</svg>")
    return "".join(out)
