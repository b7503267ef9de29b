"""A process that loads one resource and exits: the victim of the kill -9 tests.

Run as `python -m tests.load.kill_worker '<json>'`; the JSON names the source (a PostgreSQL DSN and
schema, or a SQLite file), the destination (a DuckDB file or a PostgreSQL DSN) and the target schema.
PostgreSQL connections carry `application_name` so the test can wait until PostgreSQL has noticed the
death of every one of them before it looks at the result.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from datakit.connectors import (
    DuckDBParams,
    PostgresParams,
    ReadRequest,
    SqliteParams,
    TableRef,
    open_destination,
    open_source,
)
from datakit.contracts import contract_from_spec
from datakit.load.loader import load_resource
from datakit.load.plan import ResourcePlan

SPEC = {
    "table": "big",
    "layer": "bronze",
    "primary_key": ["id"],
    "columns": {
        "id": {"type": "integer"},
        "name": {"type": "string", "max_length": 40, "nullable": False},
        "score": {"type": "integer"},
        "updated": {"type": "timestamptz", "nullable": False},
    },
}


def tagged(dsn: str, tag: str) -> PostgresParams:
    return PostgresParams.from_dsn(dsn).model_copy(update={"options": {"application_name": tag}})


def main(arguments: dict[str, str]) -> None:
    if arguments["kind"] == "duckdb":
        destination = open_destination(DuckDBParams(database=arguments["target"]))
    else:
        destination = open_destination(tagged(arguments["target"], arguments["tag"]))
    if arguments["source_kind"] == "sqlite":
        source = open_source(SqliteParams(database=Path(arguments["source"])))
    else:
        source = open_source(tagged(arguments["source"], arguments["tag"]))
    plan = ResourcePlan(
        pipeline="kill",
        resource="big",
        source=source,
        request=ReadRequest(table=TableRef("big", arguments["source_schema"] or None)),
        contract=contract_from_spec(SPEC),
        target=TableRef("big", arguments["target_schema"]),
        source_label="kill.big",
        write_disposition=arguments["disposition"],  # type: ignore[arg-type]
    )
    result = load_resource(plan, destination)
    print(json.dumps({"load_id": result.load_id, "rows": result.rows_loaded}))


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
