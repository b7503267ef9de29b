"""dbt's result objects -> datakit's `DbtNodeResult`s, and failures -> one message a person can act on.

dbt reports a failing model as `Runtime Error in model x (models/x.sql)` followed by the database's
own words; the message datakit shows leads with what failed, where it is, and the database's words:
`model main.customer (models/customer.sql) failed: Binder Error: Referenced column "x" not found`.
Everything here reads dbt objects by attribute (dbt ships no type stubs), so it is typed `Any` at
this one seam and plain data after it.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from datakit.transform.invocation import DbtNodeResult

_HEADLINE = re.compile(r"^[\w ]*(Error|error|Failure|failure) in [\w ]+ \S+ \([^()]*\)\s*$")
_FILE = re.compile(r"(?:\(|\b)((?:[\w.-]+/)*[\w.-]+\.(?:sql|yml|yaml|py|csv|md))\b")


def node_result(result: Any) -> DbtNodeResult:
    """One dbt `RunResult` as a `DbtNodeResult`."""
    node = result.node
    response = result.adapter_response or {}
    rows = response.get("rows_affected") if isinstance(response, dict) else None
    execute = None
    executed = None
    for timing in result.timing or ():
        if timing.name == "execute" and timing.started_at and timing.completed_at:
            execute = (timing.completed_at - timing.started_at).total_seconds()
            executed = (_epoch(timing.started_at), _epoch(timing.completed_at))
    failures = result.failures
    return DbtNodeResult(
        unique_id=str(node.unique_id),
        name=str(node.name),
        resource_type=str(node.resource_type),
        status=str(result.status),
        execution_time=float(result.execution_time or 0.0),
        execute_time=execute,
        rows_affected=rows if isinstance(rows, int) and rows >= 0 else None,
        failures=failures if isinstance(failures, int) else None,
        message=str(result.message) if result.message is not None else None,
        relation=getattr(node, "relation_name", None),
        file=getattr(node, "original_file_path", None),
        executed=executed,
    )


def _epoch(moment: datetime) -> float:
    """dbt's timings are UTC, naive in some versions."""
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).timestamp()


def node_label(node: DbtNodeResult) -> str:
    """`model main.customer (models/customer.sql)`: what failed and where, for a person."""
    name = node.name
    if node.relation and node.resource_type in ("model", "seed", "snapshot"):
        parts = [part.strip('"`') for part in node.relation.split(".")]
        name = ".".join(parts[-2:])
    where = f" ({node.file})" if node.file else ""
    return f"{node.resource_type} {name}{where}"


def database_message(message: str | None) -> str:
    """The database's part of a dbt node message: without dbt's `X Error in model y (file)` headline."""
    if not message:
        return "no message"
    lines = message.strip().splitlines()
    if len(lines) > 1 and _HEADLINE.match(lines[0]):
        lines = lines[1:]
    return textwrap.dedent("\n".join(lines)).strip()


def failure_message(nodes: Sequence[DbtNodeResult]) -> str:
    """One line per failing node (continuation lines indented), naming it and the database's message."""
    lines = []
    for node in nodes:
        text = database_message(node.message).replace("\n", "\n    ")
        lines.append(f"{node_label(node)} failed: {text}")
    return "\n".join(lines)


def file_in(text: str) -> str | None:
    """The first project file an error text names (`models/x.sql`, `models/schema.yml`), if any."""
    match = _FILE.search(text)
    return match.group(1) if match else None
