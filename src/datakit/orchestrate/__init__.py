"""Running jobs: a job compiles to a plan (a DAG of steps), the local executor runs it, a store records it.

Modules, from the bottom up: `stepkinds` (the kinds of step, their typed parameters and the one form
they travel in), `plan` (job -> steps, no I/O), `retry` (which errors are worth another attempt, and
how long to wait), `dagrun` (a generic bounded-concurrency DAG walker), `lifeline`, `stepcall`,
`stepserver` and `subproc` (run a step in a child process that a timeout can kill, forked from a warm
server or spawned), `steps` (what each kind of step does), `store` (run history in SQLite or
PostgreSQL), `notify` (run events to channels, SLA misses), `executor` (all of it together for one run
of one job), `run` and `launch` (the entry points of `datakit run job` and of the daemon). `triggers`
and `webhooks` decide when a job starts.
"""
