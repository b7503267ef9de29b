"""The jaffle shop's contracts: what its CSV exports must hold (contracts/*.yaml, one table each)."""
