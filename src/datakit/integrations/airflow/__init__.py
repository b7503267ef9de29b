"""Airflow 3 as an executor of datakit plans: compile static DAG files, run each step as a task.

`compile` (no Airflow import: it works without the extra and is fast) writes one DAG file per
(warehouse, job); `schedule` folds a job's triggers into the DAG's schedule; `task` is what the files'
tasks call. Airflow is the optional extra `datakit[airflow]`, pinned to the tested version set; only
this package imports `airflow`, lazily (an import-linter contract forbids it elsewhere).

Decision (virtualenv): Airflow 3.3.2 (core 3.3.2, task SDK 1.3.2) co-installs with datakit's own
dependencies — the same SQLAlchemy 2.1, pydantic 2, starlette 1.x and dbt-core 1.11 versions, `pip
check` clean — so it is an extra of the project's virtualenv, not a virtualenv of its own. Tests that
need it use the test interpreter when it has Airflow, else `DATAKIT_AIRFLOW_PYTHON`, and run Airflow in
a subprocess with its own AIRFLOW_HOME and SQLite metadata database.

Learned about Airflow 3.3 (and relied on):

* The authoring API is `airflow.sdk` (DAG, task, Asset, the timetables); DAG files import only that.
* `dag.test()` first syncs the DAGs *from the files of the configured dags folder* into the metadata
  database and runs that version, so the DAG under test must be discoverable from a file there; its
  tasks run in the calling process, and a task up for retry is re-run after its `retry_delay` in the
  same call, so retries are testable with short delays.
* `retry_exponential_backoff` is a float multiplier (0: constant delay; 2.0 doubles), with a
  deterministic jitter between 1x and 2x the computed delay, capped by `max_retry_delay`. datakit's
  own jitter is between 0.5x and 1x: under Airflow a backoff wait may be up to twice as long.
* `AirflowFailException` fails a task without retries (Airflow 3.3 also has a `retry_policy`
  parameter; the exception works the same on every 3.x).
* `fail_fast=True` marks pending tasks *skipped*, and a run whose leaves are skipped ends `success`
  although a task failed — so compiled DAGs do not use it (see `compile`).
* Importing Airflow creates `~/airflow` unless AIRFLOW_HOME is set; its logs go to stdout.
"""
