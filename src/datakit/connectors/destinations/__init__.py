"""Destinations: one module per database kind, each satisfying `datakit.connectors.base.Destination`."""
