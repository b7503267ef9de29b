"""`python -m datakit` runs the CLI."""

from datakit.cli.app import main

main()
