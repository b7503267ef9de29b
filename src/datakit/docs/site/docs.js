// datakit docs: renders window.DATAKIT_DOCS (data.js) into search, table, column and graph views.
// Every piece of data goes into the page as text (textContent, attributes), never as HTML.
"use strict";
(function () {
  const DATA = window.DATAKIT_DOCS;
  const LAYERS = ["source", "bronze", "silver", "gold", "model"];
  const SVG = "http://www.w3.org/2000/svg";
  const GRAPH_ALL_LIMIT = 400;
  const main = document.getElementById("main");
  const search = document.getElementById("search");
  const picker = document.getElementById("warehouse");

  // ---- indexes ---------------------------------------------------------------------------------
  const tables = new Map(DATA.tables.map((t) => [t.id, t]));
  const edges = DATA.edges.map((e) => ({
    source: e[0], sourceColumn: e[1], target: e[2], targetColumn: e[3], how: e[4], via: e[5], expression: e[6],
  }));
  const key = (table, column) => table + "\u0000" + (column === null ? "" : column);
  const into = new Map();
  const outOf = new Map();
  const up = new Map();
  const down = new Map();
  const push = (map, k, v) => { if (!map.has(k)) map.set(k, []); map.get(k).push(v); };
  const add = (map, k, v) => { if (!map.has(k)) map.set(k, new Set()); map.get(k).add(v); };
  for (const e of edges) {
    push(into, key(e.target, e.targetColumn), e);
    push(outOf, e.source, e);
    add(up, e.target, e.source);
    add(down, e.source, e.target);
  }
  const checksByColumn = new Map();
  const checksByTable = new Map();
  for (const c of DATA.checks) {
    push(checksByTable, c.table, c);
    for (const r of c.reads) push(checksByColumn, key(r.table, r.column), c);
  }
  const haystack = DATA.tables.map((t) => ({
    table: t,
    text: (t.id + " " + (t.description || "")).toLowerCase(),
    columns: t.columns.map((c) => ({ column: c, text: (t.id + "." + c.name + " " + (c.description || "")).toLowerCase() })),
  }));

  // ---- small DOM helpers -----------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") node.textContent = v; else node.setAttribute(k, v);
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) node.setAttribute(k, v);
    for (const child of children) if (child) node.appendChild(child);
    return node;
  }
  const enc = encodeURIComponent;
  const tableHref = (id) => "#/table/" + enc(id);
  const columnHref = (id, column) => "#/column/" + enc(id) + "/" + enc(column);
  const tableLink = (id) => el("a", { href: tableHref(id), class: "table-link", text: id });
  const columnLink = (id, column) => el("a", { href: columnHref(id, column), class: "column-link", text: id + "." + column });
  const badge = (text, cls) => el("span", { class: "badge " + (cls || ""), text: text });
  const layerBadge = (layer) => badge(layer, "layer-" + layer);
  function table(headers, rows, cls) {
    return el("table", { class: "grid " + (cls || "") },
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", { text: h })))),
      el("tbody", {}, rows));
  }

  // ---- warehouse status --------------------------------------------------------------------------
  let warehouse = "";
  for (const w of DATA.warehouses) picker.appendChild(el("option", { value: w.key, text: w.name }));
  picker.addEventListener("change", () => { warehouse = picker.value; route(); });
  const status = () => DATA.status[warehouse] || { loads: {}, checks: {}, built: {}, runs: [], read: false };
  const when = (iso) => (iso || "").replace("T", " ").replace("+00:00", " UTC");
  function age(iso) {
    if (!iso) return "";
    const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    const units = [[86400, "d"], [3600, "h"], [60, "min"]];
    for (const [size, unit] of units) if (seconds >= size) return Math.floor(seconds / size) + " " + unit + " ago";
    return "just now";
  }

  // ---- views -------------------------------------------------------------------------------------
  function overview() {
    const counts = LAYERS.map((layer) => [layer, DATA.tables.filter((t) => t.layer === layer)]).filter((x) => x[1].length);
    const columns = DATA.tables.reduce((n, t) => n + t.columns.length, 0);
    return [
      el("h1", { text: DATA.project }),
      DATA.description ? el("p", { text: DATA.description }) : null,
      el("div", { class: "cards" },
        counts.map(([layer, list]) => el("div", { class: "card" }, el("b", { text: String(list.length) }), layerBadge(layer), " tables")),
        el("div", { class: "card" }, el("b", { text: String(columns) }), "columns"),
        el("div", { class: "card" }, el("b", { text: String(DATA.checks.length) }), "checks")),
      counts.map(([layer, list]) => [
        el("h2", { text: layer }),
        el("ul", { class: "tables" }, list.slice().sort((a, b) => a.id.localeCompare(b.id)).map((t) =>
          el("li", {}, tableLink(t.id), t.description ? el("span", { class: "muted", text: " — " + t.description }) : null))),
      ]),
    ];
  }

  function searchView(query) {
    const terms = query.toLowerCase().split(/\s+/).filter(Boolean);
    const matches = (text) => terms.every((term) => text.includes(term));
    const found = [];
    const columns = [];
    for (const h of haystack) {
      if (terms.length && matches(h.text)) found.push(h.table);
      for (const c of h.columns) if (terms.length && matches(c.text)) columns.push([h.table, c.column]);
    }
    return [
      el("h1", { text: "Search: " + query }),
      el("p", { class: "muted", id: "search-count", text: found.length + " tables, " + columns.length + " columns" }),
      el("ul", { id: "search-results" },
        found.slice(0, 200).map((t) => el("li", { class: "result table-result" }, layerBadge(t.layer), " ", tableLink(t.id))),
        columns.slice(0, 300).map(([t, c]) => el("li", { class: "result column-result" }, layerBadge(t.layer), " ",
          columnLink(t.id, c.name), c.description ? el("span", { class: "muted", text: " — " + c.description }) : null))),
    ];
  }

  function tableView(id) {
    const t = tables.get(id);
    if (!t) return [el("h1", { text: "No table " + id })];
    const st = status();
    const load = st.loads[id];
    const built = st.built[id];
    const ups = [...(up.get(id) || [])].sort();
    const downs = [...(down.get(id) || [])].sort();
    const checks = checksByTable.get(id) || [];
    const fresh = load ? load.finished_at : built ? built.at : null;
    return [
      el("h1", {}, layerBadge(t.layer), " ", el("span", { id: "table-name", text: t.id })),
      el("p", { class: "muted", text: t.kind + " in " + t.system + (t.origin ? " — made by " + t.origin : "") }),
      t.description ? el("p", { text: t.description }) : null,
      t.notes.map((n) => el("div", { class: "note", text: n })),
      el("div", { class: "cards", id: "table-status" },
        load ? el("div", { class: "card load" }, el("b", { text: load.rows_loaded.toLocaleString() }), "rows loaded (read ",
          load.rows_read.toLocaleString() + ", rejected " + load.rows_rejected.toLocaleString() + ")",
          el("div", { class: "muted", text: load.status + " by " + load.pipeline + "." + load.resource })) : null,
        built ? el("div", { class: "card built" }, badge(String(built.status), "st-" + built.status), " last build",
          el("div", { class: "muted", text: "run " + built.run })) : null,
        el("div", { class: "card freshness" }, el("b", { text: fresh ? age(fresh) : "—" }),
          fresh ? "last " + (load ? "load" : "build") + " " + when(fresh) : (st.read ? "never loaded or built" : "state not read"))),
      el("p", {}, el("a", { href: "#/graph/" + enc(id), text: "Show in the graph" })),
      el("h2", { text: "Columns (" + t.columns.length + ")" }),
      table(["column", "type", "constraints", "description", "checks"], t.columns.map((c) =>
        el("tr", { class: "role-" + c.role, "data-column": c.name },
          el("td", {}, el("a", { href: columnHref(id, c.name), text: c.name })),
          el("td", { text: c.type || "" }),
          el("td", { text: [...c.constraints, c.role !== "data" ? "(" + c.role + ")" : ""].filter(Boolean).join(", ") }),
          el("td", { text: c.description || "" }),
          el("td", { text: String((checksByColumn.get(key(id, c.name)) || []).length || "") })))),
      el("h2", { text: "Checks (" + checks.length + ")" }),
      checks.length ? checkTable(checks) : el("p", { class: "muted", text: "No check reads this table." }),
      el("h2", { text: "Upstream" }),
      ups.length ? el("ul", {}, ups.map((u) => el("li", {}, tableLink(u)))) : el("p", { class: "muted", text: "nothing" }),
      el("h2", { text: "Downstream" }),
      downs.length ? el("ul", {}, downs.map((d) => el("li", {}, tableLink(d)))) : el("p", { class: "muted", text: "nothing" }),
      t.sql ? el("details", {}, el("summary", { text: "SQL" }), el("pre", { text: t.sql })) : null,
    ];
  }

  function checkTable(checks) {
    const results = status().checks;
    return table(["check", "kind", "reads", "severity", "last result"], checks.map((c) => {
      const r = results[c.id];
      return el("tr", { class: "check", "data-check": c.id },
        el("td", { text: c.name }),
        el("td", { text: c.kind }),
        el("td", {}, c.reads.map((x, i) => [i ? ", " : "", x.column ? columnLink(x.table, x.column) : tableLink(x.table)])),
        el("td", { text: c.severity }),
        el("td", { class: "result" }, r ? [badge(r.status, "st-" + r.status), " ",
          r.failing_rows ? r.failing_rows + " failing rows " : "", el("span", { class: "muted", text: when(r.at) })]
          : el("span", { class: "muted", text: "no result yet" })));
    }));
  }

  function columnView(id, column) {
    const t = tables.get(id);
    const info = t && t.columns.find((c) => c.name === column);
    if (!info) return [el("h1", { text: "No column " + id + "." + column })];
    const checks = new Map();
    const upTree = upstreamTree(id, column, new Set(), checks, 0);
    const downTree = downstreamTree(id, column, new Set(), checks, 0);
    const rows = (into.get(key(id, null)) || []);
    return [
      el("h1", {}, layerBadge(t.layer), " ", tableLink(id), el("span", { id: "column-name", text: "." + column })),
      el("p", {}, info.type ? badge(info.type) : null, " ", info.constraints.join(", "), " ",
        info.role !== "data" ? el("span", { class: "role-" + info.role, text: roleText(info.role) }) : null),
      info.description ? el("p", { text: info.description }) : null,
      el("h2", { text: "Upstream: where it comes from" }),
      el("div", { id: "upstream" }, upTree.childNodes.length ? upTree : el("p", { class: "muted", text: roleText(info.role) })),
      rows.length ? [el("h3", { text: "Its table's rows are" }),
        el("ul", { class: "tree rows" }, rows.map((e) => el("li", {}, el("span", { class: "how", text: e.how.replace("_", " ") }), " ",
          e.sourceColumn ? columnLink(e.source, e.sourceColumn) : tableLink(e.source), el("span", { class: "muted", text: " [" + e.via + "]" }))))] : null,
      el("h2", { text: "Downstream: what it feeds" }),
      el("div", { id: "downstream" }, downTree.childNodes.length ? downTree : el("p", { class: "muted", text: "nothing downstream" })),
      el("h2", { text: "Checks on it and its lineage" }),
      checks.size ? checkTable([...checks.values()]) : el("p", { class: "muted", text: "none" }),
    ];
  }

  function roleText(role) {
    return { audit: "filled by the loader (audit column)", loader: "filled by the loader when the source gives none",
      constant: "a constant: no column feeds it" }[role] || "a source column: nothing upstream";
  }

  function edgeItem(e, table, column, word) {
    return el("li", { class: "edge-item how-" + e.how },
      el("span", { class: "how", text: e.how.replace("_", " ") }), " " + word + " ",
      column ? columnLink(table, column) : tableLink(table),
      el("span", { class: "muted", text: " [" + e.via + "]" }),
      e.expression && e.how !== "copied" ? el("code", { class: "muted", text: " " + e.expression }) : null);
  }

  function upstreamTree(id, column, seen, checks, depth) {
    const list = el("ul", { class: "tree" });
    seen.add(key(id, column));
    for (const c of checksByColumn.get(key(id, column)) || []) checks.set(c.id, c);
    if (depth > 30) return list;
    for (const e of into.get(key(id, column)) || []) {
      const item = edgeItem(e, e.source, e.sourceColumn, "from");
      if (e.sourceColumn !== null && !seen.has(key(e.source, e.sourceColumn))) {
        const sub = upstreamTree(e.source, e.sourceColumn, seen, checks, depth + 1);
        if (sub.childNodes.length) item.appendChild(sub);
      }
      list.appendChild(item);
    }
    return list;
  }

  function downstreamTree(id, column, seen, checks, depth) {
    const list = el("ul", { class: "tree" });
    seen.add(key(id, column));
    for (const c of checksByColumn.get(key(id, column)) || []) checks.set(c.id, c);
    if (depth > 30) return list;
    for (const e of outOf.get(id) || []) {
      if (e.sourceColumn !== column && e.sourceColumn !== null) continue;
      const item = edgeItem(e, e.target, e.targetColumn, "into");
      if (e.targetColumn !== null && !seen.has(key(e.target, e.targetColumn))) {
        const sub = downstreamTree(e.target, e.targetColumn, seen, checks, depth + 1);
        if (sub.childNodes.length) item.appendChild(sub);
      }
      list.appendChild(item);
    }
    return list;
  }

  // ---- graph ---------------------------------------------------------------------------------------
  const COLUMN_X = 290, BOX_W = 230, HEAD_H = 22, ROW_H = 16, GAP = 10, TOP = 10;

  function lineageOf(id) {
    const keep = new Set([id]);
    for (const [map] of [[up], [down]]) {
      const todo = [id];
      while (todo.length && keep.size < 300) {
        for (const next of map.get(todo.shift()) || []) if (!keep.has(next)) { keep.add(next); todo.push(next); }
      }
    }
    return keep;
  }

  function graphView(focus, open) {
    let shown;
    if (focus && tables.has(focus)) shown = lineageOf(focus);
    else if (DATA.tables.length <= GRAPH_ALL_LIMIT) shown = new Set(tables.keys());
    else return [el("h1", { text: "Graph" }), el("p", { text: DATA.tables.length +
      " tables: too many to draw at once. Search for a table and open its graph." })];
    const expanded = new Set(open.filter((id) => shown.has(id)));
    const columns = LAYERS.map((layer) => [...shown].filter((id) => tables.get(id).layer === layer).sort());
    const place = new Map();
    let height = 0;
    columns.filter((c) => c.length).forEach((ids, x) => {
      let y = TOP;
      for (const id of ids) {
        const t = tables.get(id);
        const h = HEAD_H + (expanded.has(id) ? t.columns.length * ROW_H + 4 : 0);
        place.set(id, { x: 10 + x * COLUMN_X, y: y, h: h });
        y += h + GAP;
      }
      height = Math.max(height, y);
    });
    const width = 10 + columns.filter((c) => c.length).length * COLUMN_X;
    const root = svg("svg", { width: width, height: height + 10, viewBox: "0 0 " + width + " " + (height + 10), id: "graph-svg" });
    const edgeLayer = svg("g", { class: "edges" });
    root.appendChild(edgeLayer);
    const rowY = (id, column) => {
      const p = place.get(id);
      const index = tables.get(id).columns.findIndex((c) => c.name === column);
      return expanded.has(id) && index >= 0 ? p.y + HEAD_H + index * ROW_H + ROW_H / 2 : p.y + HEAD_H / 2;
    };
    const drawn = new Set();
    for (const e of edges) {
      if (!place.has(e.source) || !place.has(e.target)) continue;
      const columnLevel = expanded.has(e.source) || expanded.has(e.target);
      const from = columnLevel && e.sourceColumn ? e.sourceColumn : null;
      const to = columnLevel && e.targetColumn ? e.targetColumn : null;
      const id = [e.source, from, e.target, to, columnLevel ? e.how : ""].join("\u0000");
      if (drawn.has(id)) continue;
      drawn.add(id);
      const a = place.get(e.source), b = place.get(e.target);
      const x1 = a.x + BOX_W, y1 = rowY(e.source, from), y2 = rowY(e.target, to);
      let d;
      if (a.x === b.x) d = `M${x1},${y1} C${x1 + 40},${y1} ${x1 + 40},${y2} ${x1},${y2}`;
      else { const mid = (x1 + b.x) / 2; d = `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${b.x},${y2}`; }
      edgeLayer.appendChild(svg("path", { d: d, class: "edge" + (columnLevel ? " column how-" + e.how : ""),
        "data-from": e.source + (from ? "." + from : ""), "data-to": e.target + (to ? "." + to : "") },
        svg("title", {}, document.createTextNode(e.how + " [" + e.via + "]"))));
    }
    for (const [id, p] of place) {
      const t = tables.get(id);
      const g = svg("g", { class: "node layer-" + t.layer + (id === focus ? " focus" : ""), "data-table": id,
        "data-expanded": expanded.has(id) ? "true" : "false" });
      g.appendChild(svg("rect", { class: "box", x: p.x, y: p.y, width: BOX_W, height: p.h, rx: 3 }));
      const label = svg("text", { x: p.x + 6, y: p.y + 15, class: "table-label" }, document.createTextNode(
        (expanded.has(id) ? "▾ " : "▸ ") + (t.schema ? t.schema + "." : "") + t.name));
      label.addEventListener("click", () => toggle(focus, open, id));
      g.appendChild(label);
      g.appendChild(svg("title", {}, document.createTextNode(id)));
      if (expanded.has(id)) t.columns.forEach((c, i) => {
        const row = svg("g", { class: "col", "data-column": id + "." + c.name });
        row.appendChild(svg("text", { x: p.x + 14, y: p.y + HEAD_H + i * ROW_H + 11 }, document.createTextNode(c.name)));
        row.addEventListener("click", () => { location.hash = columnHref(id, c.name); });
        g.appendChild(row);
      });
      root.appendChild(g);
    }
    return [
      el("h1", { text: focus ? "Lineage of " + focus : "All tables" }),
      el("p", { class: "muted", text: "Click a table to show its columns and their edges; click a column for its lineage." }),
      el("div", { id: "graph" }, root),
    ];
  }

  function toggle(focus, open, id) {
    const next = open.includes(id) ? open.filter((x) => x !== id) : [...open, id];
    location.hash = "#/graph/" + enc(focus || "") + (next.length ? "?open=" + next.map(enc).join(",") : "");
  }

  // ---- routing -------------------------------------------------------------------------------------
  function route() {
    const hash = location.hash.replace(/^#\/?/, "");
    const [path, query] = hash.split("?");
    const parts = path.split("/").map(decodeURIComponent);
    let view;
    if (parts[0] === "table" && parts[1]) view = tableView(parts[1]);
    else if (parts[0] === "column" && parts.length >= 3) view = columnView(parts[1], parts.slice(2).join("/"));
    else if (parts[0] === "search") { search.value = parts.slice(1).join("/"); view = searchView(search.value); }
    else if (parts[0] === "graph") {
      const open = new URLSearchParams(query || "").get("open");
      view = graphView(parts[1] || "", open ? open.split(",").filter(Boolean) : []);
    } else view = overview();
    main.replaceChildren(...[view].flat(Infinity).filter(Boolean));
    document.body.setAttribute("data-view", parts[0] || "overview");
  }
  search.addEventListener("input", () => {
    const q = search.value.trim();
    history.replaceState(null, "", q ? "#/search/" + enc(q) : "#/");
    route();
  });
  window.addEventListener("hashchange", route);
  document.getElementById("project").textContent = DATA.project + " — datakit docs";
  document.getElementById("footer").textContent = "Built " + DATA.built_at + " by datakit docs build.";
  route();
})();
