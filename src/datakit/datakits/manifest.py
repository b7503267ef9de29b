"""The machine-readable manifest of a datakit: its version, tables (full contracts) and transforms.

`datakit kit build` writes it into the wheel's `.dist-info/` (`MANIFEST_FILE`), so an installed datakit,
or a wheel on disk, says what it holds without its code being imported: `kit check --against old.whl`
compares two versions from their manifests alone. A datakit in a folder gets the same manifest computed
from its imported contracts, so every comparison is manifest against manifest.

Each table is the contract as `Contract.model_dump(mode="json")` writes it (columns, logical types,
nullability, keys, unique keys, ranges, accepted values, patterns, foreign keys, layer, history), which
`Contract.model_validate` reads back equal: one description, never a second schema format to keep up.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from datakit.datakits.errors import DatakitPackageError

if TYPE_CHECKING:
    from pathlib import Path

    from datakit.contracts.model import Contract
    from datakit.datakits.package import Datakit

MANIFEST_FILE = "datakit_manifest.json"
FORMAT = 1


@dataclass(frozen=True)
class TransformInfo:
    """A typed transform as the manifest records it: the tables it maps between (`layer:qualified`)."""

    name: str
    source: str
    target: str


@dataclass(frozen=True)
class Manifest:
    """What one version of a datakit holds (see the module's docstring)."""

    datakit: str
    version: str | None
    package: str | None = None
    module: str | None = None
    tables: tuple[Contract, ...] = ()
    transforms: tuple[TransformInfo, ...] = ()
    requires: tuple[str, ...] = ()
    origin: str = field(default="", compare=False)
    """Where it was read from (a wheel, a folder, `git:<ref>`), for messages."""

    def table_key(self, contract: Contract) -> str:
        """`layer:system.schema.table`: how a table is matched between two versions."""
        return f"{contract.layer}:{contract.qualified_name}"

    @property
    def by_key(self) -> dict[str, Contract]:
        return {self.table_key(c): c for c in self.tables}

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "datakit": self.datakit,
            "package": self.package,
            "version": self.version,
            "module": self.module,
            "requires": list(self.requires),
            "tables": [c.model_dump(mode="json") for c in self.tables],
            "transforms": [{"name": t.name, "source": t.source, "target": t.target} for t in self.transforms],
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=False) + "\n"


def manifest_of(kit: Datakit, *, origin: str = "") -> Manifest:
    """The manifest of an imported datakit."""
    from datakit.contracts.sqlmodel_source import contract_from_sqlmodel

    def key(model: type[Any]) -> str:
        contract = contract_from_sqlmodel(model)
        if not contract.system:
            contract = contract.evolve(system=kit.name)
        return f"{contract.layer}:{contract.qualified_name}"

    transforms = tuple(
        TransformInfo(t.name, key(t.source_model), key(t.target_model))
        for t in sorted(kit.transforms.values(), key=lambda t: t.name)
    )
    return Manifest(
        datakit=kit.name,
        version=kit.version,
        package=kit.package,
        module=kit.module_name,
        tables=tuple(kit.contracts()),
        transforms=transforms,
        requires=kit.requires,
        origin=origin or str(kit.path),
    )


def parse_manifest(text: str, *, origin: str) -> Manifest:
    """A manifest from its JSON text; a DatakitPackageError naming `origin` when it is not one."""
    from pydantic import ValidationError

    from datakit.contracts.model import Contract

    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DatakitPackageError(f"{origin}: the datakit manifest is not JSON: {exc}") from None
    if not isinstance(data, Mapping) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, Mapping) else None
        raise DatakitPackageError(
            f"{origin}: unknown datakit manifest format {found!r} (this datakit reads format {FORMAT})",
            hint="rebuild the datakit with this version of `datakit kit build`",
        )
    try:
        tables = tuple(Contract.model_validate(table) for table in data.get("tables", ()))
    except ValidationError as exc:
        raise DatakitPackageError(f"{origin}: a table of the datakit manifest is invalid: {exc}") from None
    return Manifest(
        datakit=str(data["datakit"]),
        version=data.get("version"),
        package=data.get("package"),
        module=data.get("module"),
        tables=tables,
        transforms=tuple(
            TransformInfo(str(t["name"]), str(t["source"]), str(t["target"]))
            for t in data.get("transforms", ())
        ),
        requires=tuple(data.get("requires", ())),
        origin=origin,
    )


def read_wheel_manifest(wheel: Path) -> Manifest:
    """The manifest in a wheel's `.dist-info/` (a wheel built by `datakit kit build`)."""
    import zipfile

    try:
        with zipfile.ZipFile(wheel) as archive:
            names = [n for n in archive.namelist() if n.endswith(f".dist-info/{MANIFEST_FILE}")]
            if not names:
                raise DatakitPackageError(
                    f"{wheel}: this wheel carries no datakit manifest ({MANIFEST_FILE})",
                    hint="build it with `datakit kit build`, which adds the manifest to the wheel",
                )
            text = archive.read(names[0]).decode()
    except (OSError, zipfile.BadZipFile) as exc:
        raise DatakitPackageError(f"{wheel}: not a readable wheel: {exc}") from None
    return parse_manifest(text, origin=str(wheel))
