"""The `datakit` command line: parsing and printing only; the work is done by library functions."""
