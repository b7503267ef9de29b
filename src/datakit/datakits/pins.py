"""A project's pins of installed datakits (`datakits:` in datakit.yaml), checked against what is installed.

A project uses an installed datakit only when it pins it, like a lock on a dependency: the pin says
which versions the project was written against, so an upgrade that breaks it is caught by `validate`
(and refused by a load), not discovered in the warehouse. Datakits in the project's own folder need no
pin. Every error points at the pin's line in datakit.yaml and says what to install.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from datakit.datakits.errors import DatakitPackageError
from datakit.datakits.installed import InstalledDatakit, installed_datakit, installed_datakits

if TYPE_CHECKING:
    from datakit.config.models.project import DatakitPin
    from datakit.config.project import Project


@dataclass(frozen=True)
class PinnedDatakit:
    """A pin and where it is written (datakit.yaml, line and column)."""

    name: str
    pin: DatakitPin
    file: Path | None
    line: int | None
    column: int | None

    def install_hint(self) -> str:
        package = self.pin.package or f"the package that provides datakit {self.name!r}"
        if self.pin.package:
            return f"install it: pip install '{package}{self.pin.version}'"
        return f"install {package} at a version {self.pin.version} (give `package:` in the pin for a command)"


def pins(project: Project) -> dict[str, PinnedDatakit]:
    """The project's pins by datakit name, each with its position in datakit.yaml."""
    from datakit.config.models.project import pin_of

    found: dict[str, PinnedDatakit] = {}
    origin = project.config_origin
    for name, value in project.config.datakits.items():
        line = column = None
        if origin is not None:
            line, column = origin.doc.position(("datakits", name))
        found[name] = PinnedDatakit(name, pin_of(value), project.config_file, line, column)
    return found


def pinned_installed(project: Project, name: str) -> InstalledDatakit | None:
    """The installed datakit a project's pin of `name` selects; None when `name` is not pinned.

    Raises a DatakitPackageError at the pin when it is not installed or its version does not match.
    """
    pin = pins(project).get(name)
    if pin is None:
        return None
    installed = installed_datakit(name)
    if installed is None:
        raise _at(
            pin, f"datakit {name!r} is pinned ({pin.pin.version}) but not installed", pin.install_hint()
        )
    if not version_matches(installed.version, pin.pin.version):
        raise _at(
            pin,
            f"datakit {name!r} is installed at version {installed.version} ({installed.package}), but "
            f"datakit.yaml pins {pin.pin.version}",
            f"install a matching version: pip install '{installed.package}{pin.pin.version}', or change "
            "the pin after checking the changes (`datakit kit check`)",
        )
    if pin.pin.package and _normal(pin.pin.package) != _normal(installed.package):
        raise _at(
            pin,
            f"datakit {name!r} comes from package {installed.package}, but the pin names {pin.pin.package}",
            f"uninstall {installed.package} and install {pin.pin.package}, or fix `package:` in the pin",
        )
    return installed


def unpinned_hint(name: str) -> str | None:
    """For a datakit that is installed but not pinned: how to pin it (None when it is not installed)."""
    candidates = installed_datakits().get(name, [])
    if not candidates:
        return None
    found = candidates[0]
    return (
        f"datakit {name!r} is installed ({found.label}) but datakit.yaml does not pin it: add "
        f"`datakits: {{{name}: {{version: '>={found.version}', package: {found.package}}}}}`"
    )


def version_matches(version: str, specifier: str) -> bool:
    """Whether `version` is one `specifier` accepts (pre-releases included when it names one)."""
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion, Version

    try:
        return SpecifierSet(specifier).contains(Version(version), prereleases=True)
    except InvalidVersion:
        return False


def _normal(package: str) -> str:
    import re

    return re.sub(r"[-_.]+", "-", package).lower()


def _at(pin: PinnedDatakit, message: str, hint: str) -> DatakitPackageError:
    return DatakitPackageError(message, file=pin.file, line=pin.line, column=pin.column, hint=hint)
