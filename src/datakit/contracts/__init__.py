"""Data contracts: typed, engine-neutral descriptions of tables, and what is derived from them.

A `Contract` comes from a SQLModel class (`contract_from_sqlmodel`), a YAML table spec
(`contract_from_spec`) or a live database (`datakit.connectors.reflection`), and gives the Arrow schema of its
batches (`to_arrow_schema`) and the vectorized check of incoming batches (`validate_batch`). Contracts
speak logical types only; each engine maps them to its own (`datakit.connectors.engine.Engine`: DDL,
catalog types), and drift against a live table is the loader's (`datakit.load.drift`).

Importing this package is cheap: the names below are loaded on first use, so `datakit --help` does not
pay for pyarrow, SQLAlchemy or DuckDB.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datakit.contracts.arrow import arrow_type, to_arrow_schema
    from datakit.contracts.audit import AUDIT_COLUMN_NAMES, AUDIT_COLUMNS, with_audit_columns
    from datakit.contracts.errors import ContractError
    from datakit.contracts.mixins import TableMixin, TransactionalTableMixin
    from datakit.contracts.model import Column, Contract, Layer, LayerRules, Rule
    from datakit.contracts.naming import layer_schema_name, parse_layer_schema_name
    from datakit.contracts.render import render_datakit_package
    from datakit.contracts.spec import ColumnSpec, TableSpec, contract_from_spec
    from datakit.contracts.sqlmodel_source import TableOptions, contract_from_sqlmodel
    from datakit.contracts.types import LogicalType, TypeKind, parse_type
    from datakit.contracts.validate import ValidationResult, validate_batch

_EXPORTS: dict[str, str] = {
    "arrow_type": "arrow",
    "to_arrow_schema": "arrow",
    "AUDIT_COLUMN_NAMES": "audit",
    "AUDIT_COLUMNS": "audit",
    "with_audit_columns": "audit",
    "ContractError": "errors",
    "TableMixin": "mixins",
    "TransactionalTableMixin": "mixins",
    "Column": "model",
    "Contract": "model",
    "Layer": "model",
    "LayerRules": "model",
    "Rule": "model",
    "layer_schema_name": "naming",
    "parse_layer_schema_name": "naming",
    "render_datakit_package": "render",
    "ColumnSpec": "spec",
    "TableSpec": "spec",
    "contract_from_spec": "spec",
    "TableOptions": "sqlmodel_source",
    "contract_from_sqlmodel": "sqlmodel_source",
    "LogicalType": "types",
    "TypeKind": "types",
    "parse_type": "types",
    "ValidationResult": "validate",
    "validate_batch": "validate",
}

__all__ = [
    "AUDIT_COLUMNS",
    "AUDIT_COLUMN_NAMES",
    "Column",
    "ColumnSpec",
    "Contract",
    "ContractError",
    "Layer",
    "LayerRules",
    "LogicalType",
    "Rule",
    "TableMixin",
    "TableOptions",
    "TableSpec",
    "TransactionalTableMixin",
    "TypeKind",
    "ValidationResult",
    "arrow_type",
    "contract_from_spec",
    "contract_from_sqlmodel",
    "layer_schema_name",
    "parse_layer_schema_name",
    "parse_type",
    "render_datakit_package",
    "to_arrow_schema",
    "validate_batch",
    "with_audit_columns",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
