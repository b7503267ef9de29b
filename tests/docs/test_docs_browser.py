"""The docs site in a real headless Chromium, read from `file://` as a person would open it.

Two ways in: `--dump-dom` of a page opened at a route (`#/search/...`, `#/graph/...`,
`#/column/...`) shows what the browser rendered there; the DevTools protocol (`tests.docs.cdp`)
types into the search box and clicks the graph, as a person does, and reads what changed.
"""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path
from urllib.parse import quote

import pytest

from datakit.config.project import Project
from datakit.docs import DocsResult
from tests.browser import chromium, chromium_binary
from tests.docs.cdp import Browser

GOLD = "warehouse.gold"


@pytest.fixture
def site(documented: tuple[Project, DocsResult]) -> str:
    chromium_binary()  # skips (or fails under DATAKIT_REQUIRE_SERVICES) without Chromium
    return documented[1].index.resolve().as_uri()


def dom(site: str, route: str, profile: Path) -> str:
    return chromium(profile, "--dump-dom", f"{site}#/{route}")


def test_search_finds_tables_and_columns(site: str, tmp_path: Path) -> None:
    page = dom(site, "search/full_name", tmp_path / "profile")
    links = re.findall(r'<li class="result column-result">.*?href="([^"]+)"', page)
    assert links == [
        f"#/column/{quote(GOLD + '.dim_customer', safe='')}/full_name",
        f"#/column/{quote(GOLD + '.dim_staff', safe='')}/full_name",
    ]
    page = dom(site, "search/payment", tmp_path / "profile2")
    tables = re.findall(r'<li class="result table-result">.*?class="table-link">([^<]+)</a>', page)
    assert "warehouse.gold.dim_date" in tables  # its description speaks of payments
    assert [t for t in tables if "payment" in t] == [
        "dvdrental.payment",
        "warehouse.br__pagila__public.payment",
        "warehouse.silver.payment",
        f"{GOLD}.fact_payment",
    ]


def test_the_graph_expands_tables_to_columns(site: str, tmp_path: Path) -> None:
    focus = f"{GOLD}.dim_customer"
    opened = f"{focus},warehouse.silver.customer"
    page = dom(site, f"graph/{quote(focus, safe='')}?open={quote(opened, safe=',')}", tmp_path / "profile")
    nodes = dict(re.findall(r'<g class="node[^"]*" data-table="([^"]+)" data-expanded="(\w+)"', page))
    assert nodes[focus] == nodes["warehouse.silver.customer"] == "true"
    assert nodes["dvdrental.customer"] == nodes["warehouse.silver.address"] == "false"
    assert f"{GOLD}.fact_payment" not in nodes  # not in dim_customer's lineage
    assert f'data-column="{focus}.full_name"' in page
    edge = r'<path d="[^"]+" class="edge column how-(\w+)" data-from="([^"]+)" data-to="([^"]+)"'
    edges = set(re.findall(edge, page))
    assert ("transformed", "warehouse.silver.customer.first_name", f"{focus}.full_name") in edges
    assert ("transformed", "warehouse.silver.customer.last_name", f"{focus}.full_name") in edges
    assert ("joined_on", "warehouse.silver.customer.address_id", focus) in edges


def test_a_columns_lineage_page(site: str, tmp_path: Path) -> None:
    table = f"{GOLD}.fact_payment"
    page = dom(site, f"column/{quote(table, safe='')}/amount", tmp_path / "profile")
    upstream = page[page.index('id="upstream"') : page.index("Its table's rows are")]
    rows = page[page.index("Its table's rows are") : page.index('id="downstream"')]
    assert "warehouse.silver.rental.inventory_id" in rows and "joined on" in rows
    assert re.findall(r'class="column-link">([^<]+)</a>', upstream) == [
        "warehouse.silver.payment.amount",
        "warehouse.br__pagila__public.payment.amount",
        "dvdrental.payment.amount",
    ]
    assert re.findall(r'class="how">(\w+)</span>', upstream) == ["copied", "cast", "copied"]
    downstream = page[page.index('id="downstream"') :]
    assert "warehouse.gold.agg_monthly_revenue_by_store_category.revenue" in downstream
    assert '<span class="how">aggregated</span>' in downstream
    checks = re.findall(r'<tr class="check" data-check="([^"]+)">.*?class="badge st-(\w+)"', page)
    assert ("checks:silver_quality:silver.payment:expression(amount &gt;= 0)", "passed") in checks

    shot = tmp_path / "column.png"
    url = f"{site}#/column/{quote(table, safe='')}/amount"
    chromium(tmp_path / "profile3", f"--screenshot={shot}", "--window-size=1280,900", url)
    width, height, colours = _png(shot.read_bytes())
    assert (width, height) == (1280, 900) and colours > 50


def test_typing_in_search_and_clicking_the_graph(site: str, tmp_path: Path) -> None:
    with Browser(tmp_path / "profile", site) as browser:
        found = browser.evaluate(
            """(() => {
              const box = document.getElementById("search");
              box.value = "dim_customer full";
              box.dispatchEvent(new Event("input"));
              const links = [...document.querySelectorAll("#search-results a")];
              return [location.hash, links.map(a => a.textContent)];
            })()"""
        )
        assert found == ["#/search/dim_customer%20full", [f"{GOLD}.dim_customer.full_name"]]
        title = browser.evaluate(
            """new Promise(done => {
              window.addEventListener(
                "hashchange", () => done(document.getElementById("column-name").textContent), {once: true});
              document.querySelector("#search-results a").click();
            })"""
        )
        assert title == ".full_name"
        node = f'[data-table="{GOLD}.dim_customer"]'
        expanded = browser.evaluate(
            f"""new Promise(done => {{
              window.addEventListener("hashchange", () => {{
                window.addEventListener("hashchange", () => done([
                  document.querySelector('{node}').dataset.expanded,
                  document.querySelectorAll('{node} .col').length,
                ]), {{once: true}});
                document.querySelector('{node} .table-label').dispatchEvent(new MouseEvent("click"));
              }}, {{once: true}});
              location.hash = "#/graph/" + encodeURIComponent("{GOLD}.dim_customer");
            }})"""
        )
        assert expanded == ["true", 16]
        lineage = browser.evaluate(
            f"""new Promise(done => {{
              const found = () => document.querySelectorAll("#upstream .column-link");
              const links = () => [...found()].map(a => a.textContent);
              window.addEventListener("hashchange", () => done(links()), {{once: true}});
              const column = document.querySelector('[data-column="{GOLD}.dim_customer.full_name"]');
              column.dispatchEvent(new MouseEvent("click"));
            }})"""
        )
        assert "dvdrental.customer.first_name" in lineage and "dvdrental.customer.last_name" in lineage


def test_each_warehouse_shows_its_own_loads(site: str, tmp_path: Path) -> None:
    with Browser(tmp_path / "profile", site) as browser:
        shown = browser.evaluate(
            """new Promise(done => {
              window.addEventListener("hashchange", () => {
                const picker = document.getElementById("warehouse");
                const mine = document.querySelector("#table-status .load").textContent;
                picker.value = "acme";
                picker.dispatchEvent(new Event("change"));
                done([[...picker.options].map(o => o.value), mine,
                      document.querySelector("#table-status .load").textContent]);
              }, {once: true});
              location.hash = "#/table/" + encodeURIComponent("warehouse.br__pagila__public.rental");
            })"""
        )
    options, mine, acme = shown
    assert options == ["", "acme"]
    assert "rows loaded" in mine and "succeeded by dvdrental_bronze.rental" in mine
    assert "rows loaded" in acme and "succeeded by dvdrental_bronze.rental" in acme


def _png(png: bytes) -> tuple[int, int, int]:
    """Width, height and the count of distinct byte values in the pixels (1 for a blank page)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    data, offset = b"", 8
    while offset < len(png):
        length, kind = struct.unpack(">I4s", png[offset : offset + 8])
        if kind == b"IDAT":
            data += png[offset + 8 : offset + 8 + length]
        offset += 12 + length
    return width, height, len(set(zlib.decompress(data)))
