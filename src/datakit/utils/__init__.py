"""Small generic helpers with no knowledge of datakit's domain."""
