"""The one error type of `datakit.contracts`.

A contract problem is always terminal (retrying cannot fix a wrong definition or a batch that lacks a
required column), so `ContractError` is not transient. It carries the contract and column it is about,
so callers (the loader, the CLI) can point at the culprit without parsing the message.
"""

from __future__ import annotations

from collections.abc import Sequence

from datakit.errors import DatakitError


class ContractError(DatakitError):
    """A contract is invalid, or data or a database does not fit it structurally."""

    def __init__(
        self,
        message: str,
        *,
        contract: str | None = None,
        column: str | None = None,
        problems: Sequence[str] = (),
        hint: str | None = None,
    ) -> None:
        self.contract = contract
        self.column = column
        self.problems = tuple(problems)
        where = ".".join(part for part in (contract, column) if part)
        text = f"{where}: {message}" if where else message
        if self.problems:
            text = "\n".join([text, *(f"  - {problem}" for problem in self.problems)])
        super().__init__(text, hint=hint)
