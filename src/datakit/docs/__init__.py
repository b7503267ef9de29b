"""The project's documentation: a static site of every table, column and check, from source to gold.

    from datakit.docs import build_docs

    result = build_docs(project)          # .datakit/docs/index.html, readable without a server

Tables with their columns, types, constraints and descriptions (contracts, dbt YAML, the catalog),
the lineage graph that expands to columns, each column's upstream and downstream (`datakit.lineage`),
the checks with their newest results, and per warehouse (tenant) the last loads and freshness.
"""

from __future__ import annotations

from datakit.docs.build import DocsResult, build_docs, site_data, write_site
from datakit.docs.serve import docs_server, serve_docs

__all__ = ["DocsResult", "build_docs", "docs_server", "serve_docs", "site_data", "write_site"]
