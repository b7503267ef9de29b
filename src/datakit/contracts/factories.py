"""Test data from contracts: valid rows, and rows that break exactly one rule.

Tests of loaders, transforms and checks need data that fits a contract without writing it by hand, and
data that breaks one rule to see it caught. Rows are made in Python (test sizes, not load sizes), each
column from its own `random.Random` seeded by `seed` and the column's name, so a table is the same on
every run and adding a column does not change the others. Patterns use the generator of `regex_gen.py`
(its documented subset); primary and unique keys get one column each made unique; foreign keys cannot
be known from one contract, so pass the parent's keys in `values`.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from datakit.contracts.arrow import arrow_type, to_arrow_schema
from datakit.contracts.errors import ContractError
from datakit.contracts.factory_breakers import breaker
from datakit.contracts.factory_values import column_values
from datakit.contracts.model import Contract, Rule
from datakit.contracts.types import TypeKind


def build_rows(
    contract: Contract, n: int, seed: int = 0, *, values: Mapping[str, Sequence[Any]] | None = None
) -> pa.Table:
    """`n` rows that pass `validate_batch(contract, ...)`, the same for the same seed.

    `values` gives, per column, the values to draw from (a parent table's keys, say).
    """
    unique = _unique_columns(contract)
    columns = []
    for column in contract.columns:
        rng = random.Random(f"{seed}:{column.name}")
        pool = (values or {}).get(column.name)
        if pool is not None:
            data: list[Any] = [rng.choice(list(pool)) for _ in range(n)]
        else:
            data = column_values(column, n, rng, unique=column.name in unique)
        columns.append(pa.array(data, type=arrow_type(column.type)))
    return pa.Table.from_arrays(columns, schema=to_arrow_schema(contract))


def build_invalid_rows(
    contract: Contract, n: int, rule: Rule | str, column: str | None = None, seed: int = 0
) -> pa.Table:
    """`n` rows that each break `rule` in one column (the first that can break it alone) and nothing else.

    Breaking `type` turns that column into text that does not convert to its type.
    """
    rule = Rule(rule)
    candidates = [contract.column(column)] if column is not None else list(contract.columns)
    for candidate in candidates:
        make_bad = breaker(candidate, rule)
        if make_bad is None:
            continue
        rows = build_rows(contract, n, seed)
        rng = random.Random(f"{seed}:{candidate.name}:{rule}")
        bad = [make_bad(rng, index) for index in range(n)]
        index = contract.column_names.index(candidate.name)
        target = pa.string() if rule is Rule.TYPE else arrow_type(candidate.type)
        field = pa.field(candidate.name, target, nullable=True)
        return rows.set_column(index, field, pa.array(bad, type=target))
    where = f"column {column!r}" if column else "no column"
    raise ContractError(f"{where} of {contract.name} can break rule {rule} alone", contract=contract.name)


def _unique_columns(contract: Contract) -> set[str]:
    """One column per primary or unique key, made unique so the key is."""
    chosen: set[str] = set()
    for key in [contract.primary_key, *contract.unique]:
        if not key or chosen & set(key):
            continue
        for name in key:
            column = contract.column(name)
            if column.accepted_values is None and column.type.kind not in (TypeKind.BOOLEAN, TypeKind.ARRAY):
                chosen.add(name)
                break
    return chosen
