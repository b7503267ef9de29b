"""Load a folder of compiled DAG files as Airflow's DAG processor would, and describe what Airflow sees.

Run by the tests in the interpreter that has Airflow (`python dag_inspect.py DAGS_FOLDER`). Prints, as
its last line, JSON: import errors, the top-level packages each file imported (airflow.sdk already
imported, as it is in the DAG processor; each file executed afresh, as the processor does on every
parse) and, per DAG, its settings and every task's dependencies, retry settings, timeout and outlets.
How long a parse takes is `bench/airflow_compile.py`'s figure (`max_dag_import_s`), not a test's.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any


def _parse_imports(folder: Path) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """The top-level packages that parsing each file imported (what makes a parse slow or fast), and
    the datakit modules among them."""
    import airflow.sdk  # noqa: F401 - warm, as in the DAG processor

    imported: dict[str, list[str]] = {}
    datakit: dict[str, list[str]] = {}
    for path in sorted(folder.glob("*.py")):
        before = set(sys.modules)
        spec = importlib.util.spec_from_file_location(f"dag_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        new = set(sys.modules) - before
        imported[path.name] = sorted({name.split(".")[0] for name in new})
        datakit[path.name] = sorted(name for name in new if name.split(".")[0] == "datakit")
        for name in datakit[path.name]:  # the next file is parsed afresh, as the processor does
            del sys.modules[name]
    return imported, datakit


def _seconds(value: Any) -> float | None:
    return None if value is None else value.total_seconds()


def _timetable(dag: Any) -> dict[str, Any]:
    """The timetable as Airflow serializes it: `{"type": short class name, **its settings}`."""
    from airflow.serialization.encoders import encode_timetable

    encoded = {str(getattr(k, "value", k)): v for k, v in encode_timetable(dag.timetable).items()}
    settings = encoded.get("__var") or {}
    return {
        "type": str(encoded["__type"]).rsplit(".", 1)[-1],
        **json.loads(json.dumps(settings, default=str)),
    }


def _assets(dag: Any) -> list[str]:
    """The URIs of the assets the DAG is scheduled on (conditions flattened)."""
    found: list[str] = []
    pending = [getattr(dag.timetable, "asset_condition", None)]
    while pending:
        condition = pending.pop()
        if condition is None:
            continue
        if hasattr(condition, "objects"):
            pending.extend(condition.objects)
        else:
            found.append(condition.uri)
    return sorted(found)


def main() -> None:
    folder = Path(sys.argv[1])
    imported, datakit_modules = _parse_imports(folder)
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(folder))
    dags = {}
    for dag_id, dag in bag.dags.items():
        tasks = {
            task.task_id: {
                "upstream": sorted(task.upstream_task_ids),
                "retries": task.retries,
                "retry_delay": _seconds(task.retry_delay),
                "retry_exponential_backoff": task.retry_exponential_backoff,
                "max_retry_delay": _seconds(task.max_retry_delay),
                "execution_timeout": _seconds(task.execution_timeout),
                "outlets": [getattr(o, "uri", str(o)) for o in task.outlets],
                "display_name": task.task_display_name,
                "doc_md": task.doc_md,
                "pool": task.pool,
                "pool_slots": task.pool_slots,
                "priority_weight": task.priority_weight,
                "queue": task.queue,
                "owner": task.owner,
            }
            for task in dag.tasks
        }
        dags[dag_id] = {
            "max_active_tasks": dag.max_active_tasks,
            "max_active_runs": dag.max_active_runs,
            "catchup": dag.catchup,
            "fail_fast": dag.fail_fast,
            "timetable": _timetable(dag),
            "schedule_assets": _assets(dag),
            "tasks": tasks,
            "owner": dag.owner,
            "tags": sorted(dag.tags),
            "dag_display_name": dag.dag_display_name,
            "doc_md": dag.doc_md,
            "callbacks": {
                "on_failure": dag.on_failure_callback is not None,
                "on_success": dag.on_success_callback is not None,
            },
            "deadlines": [
                {
                    "interval": alert.interval.total_seconds(),
                    "reference": type(alert.reference).__name__,
                    "callback": alert.callback.path,
                }
                for alert in dag.deadline or []
            ],
        }
    errors = {str(k): v for k, v in bag.import_errors.items()}
    print(
        json.dumps(
            {
                "import_errors": errors,
                "parse_imports": imported,
                "parse_datakit_modules": datakit_modules,
                "dags": dags,
            },
            default=str,
        )
    )


if __name__ == "__main__":
    main()
