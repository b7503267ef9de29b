"""Prefect 3 as an executor of datakit plans: flows, deployments with schedules, and `serve`.

`flows` makes one Prefect flow per (warehouse, job) whose tasks run the plan's steps with the local
executor's runner and record them in datakit's run history (engine `prefect`); `entry` is where Prefect
processes import those flows from; `deploy` turns the job's triggers into deployments (schedules,
deployment triggers, tags, parameters) and applies, prunes and serves them. Prefect is the optional
extra `datakit[prefect]`, pinned to the tested version set; only this package imports `prefect`,
lazily (an import-linter contract forbids it elsewhere).

Decision (version): Prefect 3.7.7 is the newest 3.x that installs next to the Airflow extra (Airflow
3.3.2 requires fastapi < 0.137; Prefect 3.8+ requires fastapi >= 0.139); `pip check` is clean with both.

Learned about Prefect 3.7 (and relied on):

* A served deployment's runs execute in a fresh `python -m prefect.engine` process that imports the
  flow from the deployment's entrypoint, so flows made at run time need an importable name (`entry`).
* Calling a task from a thread the flow started needs the flow's context (`contextvars.copy_context`);
  Prefect's own thread-pool task runner does the same.
* `retry_delay_seconds` takes one delay per retry; `retry_condition_fn(task, task_run, state)` decides
  whether a failed attempt is retried at all. `task_run.get_run_count()` is the attempt's number.
* Without `PREFECT_API_URL`, running a flow starts a temporary local server (the "ephemeral API").
* A deployment created without a work pool is run by a `serve` process (Prefect's "runner").
"""
