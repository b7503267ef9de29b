"""The DuckDB engine: an embedded file, loaded through Arrow (see `destination`)."""
