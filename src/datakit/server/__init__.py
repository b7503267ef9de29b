"""`datakit serve`: one long-running process that schedules jobs, accepts webhooks and shows their state.

The status pages (`pages.py`) only read the state store and the project, so the page can never start,
stop or change a run: what it shows is what the scheduler and the executors recorded.
"""
