"""datakit: layered data warehouses from declarative YAML and typed data contracts.

Importing the package is cheap on purpose: database drivers, Arrow and dbt are imported lazily inside
the modules that need them, so `datakit --help` starts fast.
"""

__version__ = "0.1.0"
