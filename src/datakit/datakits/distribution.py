"""A datakit as a Python distribution: where its package is, its name and version, its entry point.

A datakit distribution declares itself with an entry point, the way pytest plugins and dbt adapters are
found:

    [project.entry-points."datakit.datakits"]
    pagila = "pagila_datakit"        # datakit name = the module holding its package

So a project can depend on `pagila-datakit>=1.2,<2` from any package index. The same source tree also
works as a folder (`datakits/pagila/` holding the `pyproject.toml`): its package is found under `src/`,
at the root, or is the root itself (a package folder that carries its own `pyproject.toml`).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datakit.datakits.errors import DatakitPackageError

ENTRY_POINT_GROUP = "datakit.datakits"
PYPROJECT = "pyproject.toml"


@dataclass(frozen=True)
class SourceTree:
    """A datakit distribution's source tree: its metadata and the folder of its package."""

    root: Path
    datakit: str
    module: str
    package: str | None
    version: str | None
    folder: Path


def read_pyproject(root: Path) -> dict[str, Any] | None:
    """`root/pyproject.toml` as a mapping (None when there is none); a located error when it is broken."""
    path = root / PYPROJECT
    if not path.is_file():
        return None
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DatakitPackageError(f"{PYPROJECT} is not valid TOML: {exc}", file=path) from None


def source_tree(root: Path) -> SourceTree | None:
    """The datakit distribution whose source tree is `root`, or None when `root` has no pyproject.toml."""
    data = read_pyproject(root)
    if data is None:
        return None
    project = data.get("project") or {}
    entries = (project.get("entry-points") or {}).get(ENTRY_POINT_GROUP) or {}
    path = root / PYPROJECT
    if not entries:
        raise DatakitPackageError(
            f'{PYPROJECT} declares no datakit: it has no [project.entry-points."{ENTRY_POINT_GROUP}"]',
            file=path,
            hint=f'add [project.entry-points."{ENTRY_POINT_GROUP}"] with `<name> = "<module>"` '
            "(`datakit kit new` writes it)",
        )
    if len(entries) > 1:
        raise DatakitPackageError(
            f"{PYPROJECT} declares {len(entries)} datakits ({', '.join(sorted(entries))}); a distribution "
            "holds one",
            file=path,
        )
    ((name, value),) = entries.items()
    module = str(value).split(":")[0].strip()
    version = project.get("version")
    return SourceTree(
        root=root,
        datakit=str(name),
        module=module,
        package=project.get("name"),
        version=str(version) if version is not None else None,
        folder=_package_folder(root, module, path),
    )


def _package_folder(root: Path, module: str, pyproject: Path) -> Path:
    parts = module.split(".")
    for candidate in (root / "src" / Path(*parts), root / Path(*parts)):
        if (candidate / "__init__.py").is_file():
            return candidate
    if (root / "__init__.py").is_file():  # the package folder carries its own pyproject.toml
        return root
    raise DatakitPackageError(
        f"the datakit's module {module!r} is not in this source tree (looked in src/{'/'.join(parts)}/, "
        f"{'/'.join(parts)}/ and the folder itself)",
        file=pyproject,
        hint='point the entry point at the package\'s module, e.g. `pagila = "pagila_datakit"`',
    )


def package_version(folder: Path) -> str | None:
    """The version a package folder declares without a pyproject (`__version__ = "1.2.0"`), else None."""
    import ast

    init = folder / "__init__.py"
    try:
        tree = ast.parse(init.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            return node.value.value
    return None
