"""Column-level lineage: every table, column and check of a project, from source to gold, computed.

    from datakit.lineage import build_lineage, find_column, trace

    graph = build_lineage(project)
    path = trace(graph, find_column(graph, "gold.fact_payment.amount"), "upstream")

Source columns -> loaded columns by the loader's rules (contracts, `columns:` expressions, typed
transforms read from their code, audit columns marked as such); loaded columns -> dbt models by
parsing dbt's compiled SQL (sqlglot, in the destination's dialect); columns -> the checks that read
them. Each edge says how (`How`); what cannot be known is `unknown`, never guessed. The docs site
(`datakit.docs`) and OpenLineage events (`lineage.openlineage`) are built from this graph.
"""

from __future__ import annotations

from datakit.lineage.build import build_lineage, compile_dbt
from datakit.lineage.model import Check, ColumnInfo, Edge, Graph, How, Table
from datakit.lineage.trace import Trace, find_column, trace

__all__ = [
    "Check",
    "ColumnInfo",
    "Edge",
    "Graph",
    "How",
    "Table",
    "Trace",
    "build_lineage",
    "compile_dbt",
    "find_column",
    "trace",
]
