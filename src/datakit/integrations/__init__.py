"""Executors other than datakit's own that run the same plans (DESIGN.md 3.4: one plan, many executors).

Each integration lives in its own package and imports its orchestrator lazily, so `datakit` works
without any of them installed.
"""
