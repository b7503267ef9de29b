"""Import a datakit package from a folder under a module name of its own.

Two projects (or two datakits of one project) may both define `customer`; imported under their folder
names they would share `sys.modules` entries, and tables declared on SQLModel's default base would
share one SQLAlchemy `MetaData` ("Table 'customer' is already defined"). So each import gets a unique
module name derived from the folder's path, and runs with a fresh `SQLModel.metadata` of its own.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import itertools
import pkgutil
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TypeVar

from datakit.datakits.errors import DatakitPackageError

T = TypeVar("T")
_counter = itertools.count()
_lock = threading.RLock()
_SKIPPED = ("test", "tests", "conftest")


def import_package(name: str, folder: Path) -> tuple[ModuleType, list[ModuleType]]:
    """The package in `folder` and every module below it (test modules skipped), freshly imported."""
    init = folder / "__init__.py"
    digest = hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:10]
    module_name = f"_datakit_{name}_{digest}_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(module_name, init, submodule_search_locations=[str(folder)])
    if spec is None or spec.loader is None:  # pragma: no cover - a folder with __init__.py always has one
        raise DatakitPackageError(f"cannot import datakit {name!r}", file=init)
    package = importlib.util.module_from_spec(spec)
    with _lock, _own_metadata(), _no_bytecode():
        sys.modules[module_name] = package
        try:
            _run(name, folder, lambda: spec.loader.exec_module(package))  # type: ignore[union-attr]
            modules = [package]
            for submodule in _submodules(folder, module_name):
                modules.append(_run(name, folder, functools.partial(importlib.import_module, submodule)))
        except BaseException:
            for key in [k for k in sys.modules if k == module_name or k.startswith(f"{module_name}.")]:
                del sys.modules[key]
            raise
    return package, modules


def _submodules(folder: Path, prefix: str) -> Iterator[str]:
    """Dotted names of the modules below `folder`, parents first; test modules and packages skipped."""
    for info in sorted(pkgutil.iter_modules([str(folder)]), key=lambda info: info.name):
        if info.name.startswith(_SKIPPED):
            continue
        yield f"{prefix}.{info.name}"
        if info.ispkg:
            yield from _submodules(folder / info.name, f"{prefix}.{info.name}")


@contextmanager
def _no_bytecode() -> Iterator[None]:
    """No `__pycache__/` written into the project: it may be read-only (a DAG bundle), and a datakit's
    few modules compile in milliseconds."""
    before = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        yield
    finally:
        sys.dont_write_bytecode = before


@contextmanager
def _own_metadata() -> Iterator[None]:
    """Table classes on SQLModel's default base register in a MetaData of this import only."""
    from sqlalchemy import MetaData
    from sqlmodel import SQLModel

    saved = SQLModel.metadata
    SQLModel.metadata = MetaData()
    try:
        yield
    finally:
        SQLModel.metadata = saved


def _run(name: str, folder: Path, step: Callable[[], T]) -> T:
    try:
        return step()
    except DatakitPackageError:
        raise
    except Exception as exc:
        file, line = _user_frame(exc, folder)
        raise DatakitPackageError(
            f"datakit {name!r} failed to import: {type(exc).__name__}: {exc}",
            file=file,
            line=line,
            hint="fix the code at that line (run with --debug for the traceback)",
        ) from exc


def _user_frame(exc: BaseException, folder: Path) -> tuple[Path | None, int | None]:
    """The innermost place in the datakit's own files where `exc` was raised (or found, for syntax)."""
    root = folder.resolve()
    if isinstance(exc, SyntaxError) and exc.filename:
        return Path(exc.filename), exc.lineno
    found: tuple[Path | None, int | None] = (None, None)
    for frame in traceback.extract_tb(exc.__traceback__):
        path = Path(frame.filename).resolve()
        if path.is_relative_to(root):
            found = (path, frame.lineno)
    return found
