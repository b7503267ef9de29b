"""A loaded datakit: its contracts by layer and table, the models behind them, and its transforms.

Contracts are found by convention, not listed: every `table=True` SQLModel class defined in the
package's modules, and every spec in `contracts/*.yaml`. A contract's layer and system come from the
class's `__datakit__ = TableOptions(...)` (or the spec); a contract that names no system belongs to
the datakit's own. Lookups by name fail with the file and a did-you-mean.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from datakit.datakits.errors import DatakitPackageError
from datakit.datakits.registry import TypedTransform, transforms_in
from datakit.errors import did_you_mean

if TYPE_CHECKING:
    from datakit.config.project import Project
    from datakit.contracts.model import Contract, Layer
    from datakit.datakits.installed import InstalledDatakit

DEFAULT_FOLDER = "datakits"


@dataclass(frozen=True)
class DatakitTable:
    """One contract of a datakit, and where it was written (a class, or a spec file)."""

    contract: Contract
    file: Path | None
    line: int | None = None
    model: type[Any] | None = None

    @property
    def layer(self) -> Layer:
        return self.contract.layer

    @property
    def key(self) -> str:
        """`schema.table` when the contract has a schema, else the table name."""
        return (
            f"{self.contract.schema_name}.{self.contract.name}"
            if self.contract.schema_name
            else self.contract.name
        )


@dataclass(frozen=True)
class Datakit:
    """An imported datakit package."""

    name: str
    path: Path
    module: ModuleType
    tables: tuple[DatakitTable, ...]
    transforms: Mapping[str, TypedTransform] = field(default_factory=dict)
    version: str | None = None
    """From its distribution (pyproject.toml, the installed package) or `__version__`; None: unversioned."""
    package: str | None = None
    """The distribution that brings it (`pagila-datakit`), when it is one."""
    module_name: str | None = None
    requires: tuple[str, ...] = ()
    """Other datakits it uses (`datakit.datakits.requires`)."""
    installed: bool = False
    """Found through its entry point (an installed package), not in the project's folder."""

    @property
    def label(self) -> str:
        """`pagila 1.2.0`, or `pagila (unversioned)`: how messages and `_datakit` name this version."""
        return f"{self.name} {self.version}" if self.version else f"{self.name} (unversioned)"

    @property
    def layers(self) -> list[Layer]:
        """The layers this datakit has contracts for, in layer order."""
        from datakit.contracts.model import Layer

        present = {table.layer for table in self.tables}
        return [layer for layer in Layer if layer in present]

    def contracts(self, layer: Layer | str | None = None) -> list[Contract]:
        """Every contract, or those of one layer, in the order they were found."""
        return [t.contract for t in self.tables if layer is None or t.layer == layer]

    @functools.cached_property
    def _by_name(self) -> dict[tuple[str, str], list[DatakitTable]]:
        """(layer, name or schema.name) -> tables: lookups stay cheap in a datakit of thousands."""
        index: dict[tuple[str, str], list[DatakitTable]] = {}
        for table in self.tables:
            for name in dict.fromkeys((table.contract.name, table.key)):
                index.setdefault((str(table.layer), name), []).append(table)
        return index

    def table(self, name: str, layer: Layer | str) -> DatakitTable:
        """The table called `name` (or `schema.name`) in `layer`; a DatakitPackageError when absent."""
        matches = self._by_name.get((str(layer), name), [])
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            keys = ", ".join(sorted(t.key for t in matches))
            raise DatakitPackageError(
                f"datakit {self.name!r} has several {layer} tables called {name!r} ({keys})",
                file=self.path,
                hint="name it with its schema, e.g. `contract: public.customer`",
            )
        candidates = [t for t in self.tables if t.layer == layer]
        names = {t.contract.name for t in candidates} | {t.key for t in candidates}
        holding = {t.layer for t in self.tables if name in (t.contract.name, t.key)}
        elsewhere = [str(other) for other in self.layers if other in holding]
        if elsewhere:
            hint = f"it has {name!r} in {', '.join(elsewhere)}"
        else:
            hint = did_you_mean(name, names) or (
                f"its {layer} tables: {', '.join(sorted(names))}" if names else f"it has no {layer} tables"
            )
        raise DatakitPackageError(
            f"datakit {self.name!r} has no {layer} table {name!r}", file=self.path, hint=hint
        )

    def has_table(self, name: str, layer: Layer | str) -> bool:
        return (str(layer), name) in self._by_name

    def contract(self, name: str, layer: Layer | str) -> Contract:
        return self.table(name, layer).contract

    def transform(self, name: str) -> TypedTransform:
        """The transform registered as `name`; a DatakitPackageError with a suggestion when absent."""
        found = self.transforms.get(name)
        if found is not None:
            return found
        hint = did_you_mean(name, self.transforms) or (
            f"its transforms: {', '.join(sorted(self.transforms))}"
            if self.transforms
            else "decorate a function with @datakit.datakits.transform to register it"
        )
        raise DatakitPackageError(
            f"datakit {self.name!r} has no transform {name!r}", file=self.path, hint=hint
        )


def datakits_dir(project: Project) -> Path:
    """The folder holding the project's datakits (`paths.datakits`, default `datakits/`)."""
    return project.path(project.config.paths.datakits)


def datakit_names(folder: Path) -> list[str]:
    """The datakits in `folder`: packages (an `__init__.py`) and source trees (a `pyproject.toml`)."""
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if _is_datakit_folder(p))


def _is_datakit_folder(path: Path) -> bool:
    from datakit.datakits.distribution import PYPROJECT

    return (path / "__init__.py").is_file() or (path / PYPROJECT).is_file()


_cache: dict[Path, tuple[tuple[tuple[str, float], ...], Datakit]] = {}
_cache_lock = threading.RLock()  # re-entered: a datakit that `requires` another loads it while loading


@dataclass(frozen=True)
class _Loading:
    """What a datakit being imported may `require`: its sibling folders, and its project's pins."""

    name: str
    siblings: Path | None
    project: Project | None


_loading = threading.local()


def load_datakit(where: Project | Path, name: str) -> Datakit:
    """The datakit `name` of a project (or in a folder of datakits), imported once per file change.

    A project's datakit is its folder `datakits/<name>/` when there is one, else the installed datakit
    its datakit.yaml pins (`datakit.datakits.pins`).
    """
    folder = where if isinstance(where, Path) else datakits_dir(where)
    project = None if isinstance(where, Path) else where
    if _is_datakit_folder(folder / name):
        return _load_folder(name, folder / name, _Loading(name, folder, project))
    if project is not None:
        from datakit.datakits.pins import pinned_installed

        installed = pinned_installed(project, name)
        if installed is not None:
            return _load_installed(installed, _Loading(name, folder, project))
    raise _no_datakit(name, folder, project)


def _no_datakit(name: str, folder: Path, project: Project | None) -> DatakitPackageError:
    from datakit.datakits.pins import unpinned_hint

    known = datakit_names(folder)
    if project is not None:
        known = sorted({*known, *project.config.datakits})
    hint = (
        (unpinned_hint(name) if project is not None else None)
        or did_you_mean(name, known)
        or (
            f"datakits here: {', '.join(known)}"
            if known
            else f"create one with `datakit kit new {name} --out {folder.name}/{name}`, or pin an "
            "installed one in datakit.yaml (`datakits:`)"
        )
    )
    return DatakitPackageError(
        f"no datakit {name!r} (no package {name}/__init__.py), and no installed datakit of that name "
        "is pinned",
        file=folder,
        hint=hint,
    )


def datakit_at(path: Path, name: str | None = None) -> Datakit:
    """The datakit in `path`: a package folder, or a distribution's source tree (a pyproject.toml)."""
    path = path.resolve()
    if not _is_datakit_folder(path):
        raise DatakitPackageError(
            "not a datakit: no __init__.py and no pyproject.toml here",
            file=path,
            hint="give the datakit's folder (its package, or the folder of its pyproject.toml)",
        )
    return _load_folder(name or path.name, path, _Loading(name or path.name, path.parent, None))


def requires(name: str) -> ModuleType:
    """The package of datakit `name`, for a datakit whose contracts or transforms use another's.

        from datakit.datakits import requires
        Crm = requires("crm")

        @transform
        def app_to_crm(source: App.Customer) -> Crm.Customer: ...

    Called while a datakit is imported, it finds `name` where that datakit was found (a sibling folder
    of the project's datakits, else an installed one the project pins); the dependency is recorded
    in the datakit (`Datakit.requires`) and its manifest. Outside a datakit import, an installed one.
    """
    stack: list[_Loading] = getattr(_loading, "stack", [])
    current = stack[-1] if stack else None
    if any(frame.name == name for frame in stack):
        chain = " -> ".join([*(frame.name for frame in stack), name])
        raise DatakitPackageError(f"datakits require each other in a cycle: {chain}")
    if current is not None:
        current_requires = getattr(_loading, "requires", {})
        current_requires.setdefault(current.name, []).append(name)
        if current.project is not None:
            return load_datakit(current.project, name).module
        if current.siblings is not None and _is_datakit_folder(current.siblings / name):
            return _load_folder(name, current.siblings / name, _Loading(name, current.siblings, None)).module
    from datakit.datakits.installed import installed_datakit

    installed = installed_datakit(name)
    if installed is None:
        where = current.siblings if current is not None and current.siblings else Path.cwd()
        raise _no_datakit(name, where, None)
    return _load_installed(installed, _Loading(name, None, None)).module


def _load_folder(name: str, folder: Path, loading: _Loading) -> Datakit:
    from datakit.datakits.distribution import package_version, source_tree

    tree = source_tree(folder)  # None: a plain package folder
    package = tree.folder if tree is not None else folder
    stamp = _stamp(folder)
    key = folder.resolve()
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        loaded = _load(
            name,
            package,
            loading,
            version=tree.version if tree is not None else package_version(package),
            package_name=tree.package if tree is not None else None,
            module_name=tree.module if tree is not None else None,
        )
        _cache[key] = (stamp, loaded)
        return loaded


def _load_installed(installed: InstalledDatakit, loading: _Loading) -> Datakit:
    folder = installed.folder()
    key = folder.resolve()
    stamp = ((installed.package, 0.0), (installed.version, 0.0))
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        loaded = _load(
            installed.name,
            folder,
            loading,
            version=installed.version,
            package_name=installed.package,
            module_name=installed.module,
            installed=True,
        )
        _cache[key] = (stamp, loaded)
        return loaded


def _stamp(package: Path) -> tuple[tuple[str, float], ...]:
    files = [p for p in package.rglob("*") if p.suffix in (".py", ".yaml", ".yml", ".toml") and p.is_file()]
    return tuple(sorted((str(p), p.stat().st_mtime) for p in files))


def _load(
    name: str,
    package: Path,
    loading: _Loading,
    *,
    version: str | None,
    package_name: str | None,
    module_name: str | None,
    installed: bool = False,
) -> Datakit:
    from datakit.datakits.importer import import_package
    from datakit.datakits.specs import contracts_from_file, spec_files

    stack: list[_Loading] = getattr(_loading, "stack", None) or []
    _loading.stack = [*stack, loading]
    if not stack:
        _loading.requires = {}
    try:
        _, modules = import_package(name, package)
    finally:
        _loading.stack = stack
    needed: dict[str, list[str]] = getattr(_loading, "requires", {})
    tables = [*_model_tables(name, modules)]
    for path in spec_files(package):
        tables.extend(
            DatakitTable(_own_system(contract, name), path, line)
            for contract, line in contracts_from_file(path)
        )
    _check_unique(name, tables)
    kit = Datakit(
        name,
        package,
        modules[0],
        tuple(tables),
        transforms_in(modules),
        version=version,
        package=package_name,
        module_name=module_name,
        requires=tuple(dict.fromkeys(needed.get(name, ()))),
        installed=installed,
    )
    for table in tables:
        if table.model is not None:
            _owners[id(table.model)] = (kit, table)
    return kit


_owners: dict[int, tuple[Datakit, DatakitTable]] = {}


def owner_of(model: type[Any]) -> tuple[Datakit, DatakitTable] | None:
    """The loaded datakit and table a table class belongs to (a transform's target may be another
    datakit's, through `requires`), or None."""
    found = _owners.get(id(model))
    return found if found is not None and found[1].model is model else None


def _model_tables(name: str, modules: Sequence[ModuleType]) -> Iterable[DatakitTable]:
    from sqlmodel import SQLModel

    from datakit.contracts.errors import ContractError
    from datakit.contracts.sqlmodel_source import contract_from_sqlmodel

    seen: set[int] = set()
    prefix = modules[0].__name__
    for module in modules:
        for value in vars(module).values():
            if (
                not isinstance(value, type)
                or not issubclass(value, SQLModel)
                or "__table__" not in vars(value)
                or not value.__module__.startswith(prefix)
                or id(value) in seen
            ):
                continue
            seen.add(id(value))
            file, line = _class_location(value)
            try:
                contract = contract_from_sqlmodel(value)
            except ContractError as exc:
                raise DatakitPackageError(exc.message, file=file, line=line, hint=exc.hint) from None
            yield DatakitTable(_own_system(contract, name), file, line, value)


def _own_system(contract: Contract, name: str) -> Contract:
    return contract if contract.system else contract.evolve(system=name)


def _class_location(cls: type[Any]) -> tuple[Path | None, int | None]:
    import inspect

    try:
        file = inspect.getsourcefile(cls)
        _, line = inspect.getsourcelines(cls)
    except (OSError, TypeError):
        return None, None
    return (Path(file) if file else None), line


def _check_unique(name: str, tables: Sequence[DatakitTable]) -> None:
    seen: dict[tuple[str, str], DatakitTable] = {}
    for table in tables:
        key = (str(table.layer), table.key)
        other = seen.get(key)
        if other is not None:
            raise DatakitPackageError(
                f"datakit {name!r} defines the {table.layer} table {table.key!r} twice "
                f"(also at {other.file}:{other.line})",
                file=table.file,
                line=table.line,
            )
        seen[key] = table
