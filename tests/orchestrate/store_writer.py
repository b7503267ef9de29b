"""(A process of its own.) Records runs into a state store, as `datakit run job` does, until told to stop.

    python -m tests.orchestrate.store_writer <url> <schema or -> <job> <stop file>

Prints `ready` once the store is open, then one line per run recorded (`run <id>`), and at the end
`done <runs> errors <n>` followed by each error: a test prunes the store meanwhile and checks that no
writer ever failed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from datakit.orchestrate.store import RunStatus, StateStore


def main(url: str, schema: str, job: str, stop: Path) -> int:
    store = StateStore(url, schema=None if schema == "-" else schema)
    print("ready", flush=True)
    runs = 0
    errors: list[str] = []
    while not stop.exists():
        try:
            run_id = store.start_run(job, "{}", allow_concurrent=True)
            store.add_steps(run_id, ["load.a", "load.b"])
            for step in ("load.a", "load.b"):
                store.attempt_started(run_id, step, 1)
                store.heartbeat(run_id)
                store.attempt_finished(
                    run_id, step, 1, log=f"{job} {run_id} {step}\n" * 400, rows={"rows_read": 1}
                )
            store.finish_run(run_id, RunStatus.SUCCEEDED)
            store.get_run(run_id)
        except Exception as exc:  # reported, not raised: the test wants every error, not the first
            errors.append(f"{type(exc).__name__}: {exc}")
            continue
        runs += 1
        print(f"run {run_id}", flush=True)
    store.close()
    print(f"done {runs} errors {len(errors)}", flush=True)
    for error in errors:
        print(error, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4])))
