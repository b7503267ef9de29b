"""Find fields carrying a marker (secret references, cross-file references) in loaded models.

Markers live in the field types (`SecretRef`, `SourceRef`...), so adding a field of such a type to any
model is enough for validation, `--check-secrets` and tenant isolation to see it.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel

from datakit.config.yaml_source import PathKey

M = TypeVar("M")


def iter_marked(value: Any, marker: type[M], loc: PathKey = ()) -> Iterator[tuple[PathKey, str, M]]:
    """Yield `(loc, value, marker)` for every string field of `value` whose type carries `marker`."""
    yield from _walk(value, None, marker, loc, ())


def _walk(
    value: Any, annotation: Any, marker: type[M], loc: PathKey, inherited: tuple[Any, ...]
) -> Iterator[tuple[PathKey, str, M]]:
    metadata = inherited + _metadata(annotation, value)
    if isinstance(value, str):
        for item in metadata:
            if isinstance(item, marker):
                yield loc, value, item
        return
    if isinstance(value, BaseModel):
        for name, info in type(value).model_fields.items():
            key = info.alias or name
            yield from _walk(getattr(value, name), info.annotation, marker, (*loc, key), tuple(info.metadata))
    elif isinstance(value, list | tuple):
        inner = _container_arg(annotation, value, 0)
        for i, item in enumerate(value):
            yield from _walk(item, inner, marker, (*loc, i), ())
    elif isinstance(value, dict):
        inner = _container_arg(annotation, value, 1)
        for key, item in value.items():
            yield from _walk(item, inner, marker, (*loc, key), ())


def _metadata(annotation: Any, value: Any) -> tuple[Any, ...]:
    """Markers of `annotation` that apply to `value` (for a union, those of the branch the value fits)."""
    if annotation is None:
        return ()
    if get_origin(annotation) is Annotated:
        base, *extra = get_args(annotation)
        return tuple(extra) + _metadata(base, value)
    if get_origin(annotation) in (Union, types.UnionType):
        for arg in get_args(annotation):
            base = get_args(arg)[0] if get_origin(arg) is Annotated else arg
            if isinstance(base, type) and isinstance(value, base):
                return _metadata(arg, value)
    return ()


def _container_arg(annotation: Any, value: Any, index: int) -> Any:
    """The element (index 0) or value (index 1) type of a list/dict annotation, through Optional/Annotated."""
    if annotation is None:
        return None
    origin = get_origin(annotation)
    if origin is Annotated:
        return _container_arg(get_args(annotation)[0], value, index)
    if origin in (Union, types.UnionType):
        for arg in get_args(annotation):
            target = get_origin(arg) or arg
            if isinstance(target, type) and isinstance(value, target):
                return _container_arg(arg, value, index)
        return None
    args = get_args(annotation)
    if origin in (list, tuple) and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[index]
    return None
