"""A process that loads one resource and exits: the victim of the kill -9 tests.

Run as `python -m tests.load.kill_worker '<json>'`; the JSON names the source database and table, the
destination and the target schema. Connections carry `application_name` so the test can wait until
PostgreSQL has noticed the death of every one of them before it looks at the result.
"""

from __future__ import annotations

import json
import sys

from datakit.connectors import (
    DuckDBParams,
    PostgresParams,
    ReadRequest,
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


def main(arguments: dict[str, str]) -> None:
    tagged = PostgresParams.from_dsn(arguments["source_dsn"]).model_copy(
        update={"options": {"application_name": arguments["tag"]}}
    )
    if arguments["kind"] == "duckdb":
        destination = open_destination(DuckDBParams(database=arguments["path"]))
    else:
        destination = open_destination(tagged)
    plan = ResourcePlan(
        pipeline="kill",
        resource="big",
        source=open_source(tagged),
        request=ReadRequest(table=TableRef("big", arguments["source_schema"])),
        contract=contract_from_spec(SPEC),
        target=TableRef("big", arguments["target_schema"]),
        source_label="kill.big",
        write_disposition=arguments["disposition"],  # type: ignore[arg-type]
    )
    result = load_resource(plan, destination)
    print(json.dumps({"load_id": result.load_id, "rows": result.rows_loaded}))


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
