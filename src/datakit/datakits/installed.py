"""Datakits installed as packages: found through their `datakit.datakits` entry point.

Nothing is imported to list them: the entry point names the datakit and its module, the distribution
gives the package name and version, and `importlib.util.find_spec` the package's folder, which
`datakit.datakits.package` imports like any datakit folder (under a module name of its own).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from datakit.datakits.distribution import ENTRY_POINT_GROUP
from datakit.datakits.errors import DatakitPackageError
from datakit.datakits.manifest import MANIFEST_FILE, Manifest, parse_manifest


@dataclass(frozen=True)
class InstalledDatakit:
    """One installed datakit: its name, module, and the distribution that brings it."""

    name: str
    module: str
    package: str
    version: str

    @property
    def label(self) -> str:
        return f"{self.package} {self.version}"

    def folder(self) -> Path:
        """The folder of the datakit's package (found, not imported)."""
        import importlib.util

        try:
            spec = importlib.util.find_spec(self.module)
        except (ImportError, ValueError):
            spec = None
        locations = list(spec.submodule_search_locations or ()) if spec is not None else []
        if not locations:
            raise DatakitPackageError(
                f"datakit {self.name!r} ({self.label}) points at module {self.module!r}, which is not "
                "an installed package",
                hint=f"reinstall it: pip install --force-reinstall '{self.package}=={self.version}'",
            )
        return Path(locations[0])

    def manifest(self) -> Manifest | None:
        """The manifest `datakit kit build` put in the distribution's metadata (None when built otherwise)."""
        try:
            text = metadata.distribution(self.package).read_text(MANIFEST_FILE)
        except metadata.PackageNotFoundError:
            return None
        return parse_manifest(text, origin=self.label) if text else None


def installed_datakits() -> dict[str, list[InstalledDatakit]]:
    """Every installed datakit by name (a name two distributions claim lists both)."""
    found: dict[str, list[InstalledDatakit]] = {}
    seen: set[tuple[str, str]] = set()
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = entry.dist
        package = dist.metadata["Name"] if dist is not None else "?"
        version = dist.version if dist is not None else "?"
        if (entry.name, package) in seen:  # the same distribution on sys.path twice
            continue
        seen.add((entry.name, package))
        module = entry.value.split(":")[0].strip()
        found.setdefault(entry.name, []).append(InstalledDatakit(entry.name, module, package, version))
    return found


def installed_datakit(name: str) -> InstalledDatakit | None:
    """The installed datakit `name`, None when none is; an error when two distributions provide it."""
    candidates = installed_datakits().get(name, [])
    if len(candidates) > 1:
        raise DatakitPackageError(
            f"datakit {name!r} is provided by several installed packages: "
            + ", ".join(c.label for c in candidates),
            hint="uninstall all but one",
        )
    return candidates[0] if candidates else None
