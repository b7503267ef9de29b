"""`datakit demo`: a DVD-rental source made on the spot, the whole warehouse job on it, and a report.

generate  the source database in Pagila's shape (SQLite, seeded, about a second at scale 1)
project   a self-contained project around it (config, the Pagila datakit, the dbt project, checks)
run       generate -> project -> run the job -> summary -> report
report    report.html: step timeline, tables and rows per layer, check results, lineage
"""
