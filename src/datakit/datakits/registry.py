"""Typed row transforms: `@transform` marks a function `(source: A.Table) -> B.Table` of a datakit.

The decorator reads the source and target models from the type hints once, at import, so a transform
whose annotations are not table models fails where it is written, not in the middle of a load. It
marks the function instead of filling a global registry: a datakit's transforms are found in its own
modules (`transforms_in`), so two datakits may each have a `customer_transform`.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar, overload

from datakit.datakits.errors import DatakitPackageError

MARK = "__datakit_transform__"
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class TypedTransform:
    """A registered row transform: its name, the function, and the table models it maps between."""

    name: str
    func: Callable[[Any], Any]
    source_model: type[Any]
    target_model: type[Any]
    file: Path | None = None
    line: int | None = None

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}" if self.file else self.name


@overload
def transform(func: F, /) -> F: ...
@overload
def transform(*, name: str | None = None) -> Callable[[F], F]: ...
def transform(func: Any = None, /, *, name: str | None = None) -> Any:
    """Register a typed row transform under its function name (or `name`).

    The function takes one row of the source model and returns one row of the target model (a model
    instance or a mapping of its fields); a row for which it raises is rejected with the error.
    """

    def mark(target: F) -> F:
        setattr(target, MARK, _describe(target, name or target.__name__))
        return target

    return mark(func) if func is not None else mark


def transforms_in(modules: Iterable[ModuleType]) -> dict[str, TypedTransform]:
    """Every transform defined in `modules`, by name; two with one name are an error."""
    found: dict[str, TypedTransform] = {}
    for module in modules:
        for value in vars(module).values():
            registered = getattr(value, MARK, None)
            if not isinstance(registered, TypedTransform) or registered.func is not value:
                continue
            other = found.get(registered.name)
            if other is not None and other.func is not registered.func:
                raise DatakitPackageError(
                    f"two transforms are called {registered.name!r} (the other is at {other.location})",
                    file=registered.file,
                    line=registered.line,
                    hint="give one of them another name: @transform(name=...)",
                )
            found[registered.name] = registered
    return found


def _describe(func: Callable[..., Any], name: str) -> TypedTransform:
    file, line = _where(func)
    try:
        hints = typing.get_type_hints(func)
    except Exception as exc:  # a NameError in a string annotation: user code, reported where it is
        raise DatakitPackageError(
            f"transform {name!r}: cannot read its type hints ({type(exc).__name__}: {exc})",
            file=file,
            line=line,
        ) from None
    params = [p for p in inspect.signature(func).parameters.values() if p.default is inspect.Parameter.empty]
    if len(params) != 1:
        raise DatakitPackageError(
            f"transform {name!r} must take exactly one required argument (the source row), not {len(params)}",
            file=file,
            line=line,
        )
    source, target = hints.get(params[0].name), hints.get("return")
    for role, model in (("argument", source), ("return", target)):
        if not _is_table_model(model):
            shown = getattr(model, "__qualname__", repr(model))
            raise DatakitPackageError(
                f"transform {name!r}: the {role} annotation must be a SQLModel table class, not {shown}",
                file=file,
                line=line,
                hint="annotate as `def f(source: Source.Customer) -> Bronze.Customer:`",
            )
    return TypedTransform(name, func, source, target, file, line)  # type: ignore[arg-type]


def _is_table_model(model: Any) -> bool:
    from sqlmodel import SQLModel

    return isinstance(model, type) and issubclass(model, SQLModel) and hasattr(model, "__table__")


def _where(func: Callable[..., Any]) -> tuple[Path | None, int | None]:
    code = getattr(func, "__code__", None)
    if code is None:
        return None, None
    return Path(code.co_filename), code.co_firstlineno
