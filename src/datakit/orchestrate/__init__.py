"""Running jobs: a job compiles to a plan (a DAG of steps), the local executor runs it, a store records it.

Modules, from the bottom up: `plan` (job -> steps, no I/O), `retry` (which errors are worth another
attempt, and how long to wait), `dagrun` (a generic bounded-concurrency DAG walker), `subproc` (run a
function in a child process that a timeout can kill), `steps` (what a load step does), `store` (run
history in SQLite or PostgreSQL), `executor` (all of it together for one run of one job).
"""
