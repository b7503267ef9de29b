"""The Spark engine: tables in an open format (Parquet) in a warehouse folder, versioned by datakit."""
