"""Sources: one module per database kind, each a class that satisfies `datakit.connectors.base.Source`."""
