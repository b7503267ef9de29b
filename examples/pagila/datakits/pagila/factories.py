"""Test rows for the Pagila contracts, deterministic by seed (see `datakit.factories`).

from datakits.pagila.factories import customers
table = customers(100, seed=1)          # 100 valid source customers, as a pyarrow Table
broken = customers_breaking("not_null", 10)  # 10 rows each with a NULL where none may be
"""

from __future__ import annotations

from typing import Any

from datakit.contracts import contract_from_sqlmodel
from datakit.factories import build_invalid_rows, build_rows

from .source import public as Source


def customers(n: int, seed: int = 0) -> Any:
    """`n` valid rows of the source `customer` table."""
    return build_rows(contract_from_sqlmodel(Source.Customer), n, seed)


def customers_breaking(rule: str, n: int, seed: int = 0, column: str | None = None) -> Any:
    """`n` source customers each breaking `rule` (in `column`, or the first that can), for reject tests."""
    return build_invalid_rows(contract_from_sqlmodel(Source.Customer), n, rule, column=column, seed=seed)
