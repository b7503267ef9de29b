"""Contracts written as YAML table specs in a datakit's `contracts/` folder.

A file holds one table spec (the mapping `contract_from_spec` reads) or a list of them. Problems name
the file and the line of the table they are about.
"""

from __future__ import annotations

from pathlib import Path

from datakit.config.yaml_source import YamlProblem, read_yaml
from datakit.contracts.errors import ContractError
from datakit.contracts.model import Contract
from datakit.datakits.errors import DatakitPackageError

SPEC_FOLDER = "contracts"


def spec_files(package: Path) -> list[Path]:
    """The YAML spec files of the datakit in `package`, in name order."""
    folder = package / SPEC_FOLDER
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def contracts_from_file(path: Path) -> list[tuple[Contract, int]]:
    """Each table spec in `path` as a contract, with the line it starts at."""
    from datakit.contracts.spec import contract_from_spec

    try:
        doc = read_yaml(path)
    except YamlProblem as exc:
        raise DatakitPackageError(exc.problem.message, file=path, line=exc.problem.line) from None
    items = doc.data if isinstance(doc.data, list) else [doc.data]
    found = []
    for index, item in enumerate(items):
        loc: tuple[int, ...] = (index,) if isinstance(doc.data, list) else ()
        line = doc.position(loc)[0]
        if not isinstance(item, dict):
            raise DatakitPackageError(
                "a contract file holds a table spec (a mapping with `table:` and `columns:`) "
                "or a list of them",
                file=path,
                line=line,
            )
        try:
            found.append((contract_from_spec(item), line))
        except ContractError as exc:
            raise DatakitPackageError(exc.message, file=path, line=line, hint=exc.hint) from None
    return found
