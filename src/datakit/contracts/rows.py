"""Rows of a SQLModel table class, to and from Arrow, a column at a time.

A typed transform hands the user's function one model object per row and turns what it returns back
into Arrow. Pydantic's per-object route (`model_validate`, then `model_dump`) costs tens of
microseconds a row per model; here the work is done per column instead:

* `ModelRows.objects`: each Arrow column becomes a Python list once (dates and UTC timestamps through
  NumPy, several times faster than `to_pylist`), each list is validated by its field's own Pydantic
  type in one call, and the objects are made without `__init__`, as SQLAlchemy makes the objects it
  loads, their fields set from those lists. A value its field refuses fails its row, with Pydantic's
  message. SQLAlchemy does not track these objects, which makes them cheap; `tracked` gives a full ORM
  object with the same values, for a function that sets attributes of its input.
* `ModelRows.batch`: what the function returned (model objects or mappings of fields) becomes one
  Arrow array per column, typed by the contract. A column holding a value of another type comes out as
  text, which the contract's validator reads value by value: a bad value is rejected by the contract,
  with its rule, as a bad source value would be. Field rules a contract cannot state (`min_length`,
  `multiple_of`) are checked per column by Pydantic. A mixin column the loader fills
  (`datakit.load.times`) that a row leaves unset comes out NULL, not as the model's default, so the
  loader fills it by its rules.

A model with code of its own in validation (`@field_validator`, `@model_validator`, private
attributes) is validated object by object instead, since that code may need whole rows.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Container, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import annotated_types
import numpy as np
import pyarrow as pa
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticSerializationError, to_json, to_jsonable_python
from sqlalchemy.orm import exc as orm_exc
from sqlalchemy.orm.instrumentation import manager_of_class
from sqlmodel import SQLModel
from sqlmodel.main import FieldInfoMetadata

from datakit.contracts.arrow import to_arrow_schema
from datakit.contracts.mixins import declared_mixins, load_times
from datakit.contracts.sqlmodel_source import contract_from_sqlmodel, field_columns
from datakit.contracts.types import TypeKind

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UTC_ZONES = frozenset({"UTC", "Etc/UTC", "+00:00", "Z"})
_STATED_BY_CONTRACTS = (
    FieldInfoMetadata,  # SQLModel's column options
    annotated_types.Gt,
    annotated_types.Ge,
    annotated_types.Lt,
    annotated_types.Le,
    annotated_types.MaxLen,
)


@dataclass(frozen=True)
class RowFailure:
    """A row that could not be read or written: its position, the column at fault if one is, why."""

    row: int
    column: str | None
    reason: str


@dataclass(frozen=True)
class _Field:
    name: str
    column: str
    info: FieldInfo
    values: TypeAdapter[list[Any]]  # the field's type over a whole column
    value: TypeAdapter[Any]  # the same for one value, to find the values at fault

    @classmethod
    def of(cls, name: str, column: str, info: FieldInfo) -> _Field:
        annotated = Annotated[info.annotation, info]  # type: ignore[name-defined]
        return cls(name, column, info, TypeAdapter(list[annotated]), TypeAdapter(annotated))

    def check(self, values: list[Any], failures: dict[int, RowFailure]) -> list[Any]:
        """`values` validated in one call; a value the field refuses fails its row (its first failure)."""
        try:
            return self.values.validate_python(values)
        except ValidationError:
            pass  # rare: find the values at fault one by one
        checked: list[Any] = []
        for row, value in enumerate(values):
            try:
                checked.append(self.value.validate_python(value))
            except ValidationError as exc:
                failures.setdefault(row, RowFailure(row, self.column, f"{self.name}: {_first_error(exc)}"))
                checked.append(None)
        return checked


class ModelRows:
    """The rows of one table model: Arrow batches as model objects, and model objects as batches."""

    def __init__(self, model: type[SQLModel], *, loader_fills: Collection[str] = ()) -> None:
        """`loader_fills`: fields the loader fills itself (a consolidated table's provenance column),
        which a result may leave unset even when the model requires them."""
        self.model = model
        contract = contract_from_sqlmodel(model)
        self.schema = to_arrow_schema(contract)
        self._json = frozenset(c.name for c in contract.columns if c.type.kind is TypeKind.JSON)
        columns = field_columns(model)
        self._fields = [_Field.of(name, columns[name], info) for name, info in model.model_fields.items()]
        self._by_column = {field.column: field for field in self._fields}
        self._by_name = {field.name: field for field in self._fields}
        self._written = [self._by_column[name].name for name in self.schema.names]  # in contract order
        self._per_object = _own_validation(model)
        self._loader_fills = frozenset(load_times(declared_mixins(model))) | frozenset(loader_fills)
        self._required = frozenset(
            field.name
            for field in self._fields
            if field.info.is_required() and field.name not in loader_fills
        )
        self._model_rules = frozenset(
            field.name for field in self._fields if not self._per_object and _beyond_contract(field.info)
        )

    # -- Arrow -> objects ---------------------------------------------------------------------------

    def objects(self, batch: pa.RecordBatch) -> tuple[Iterator[Any], list[RowFailure]]:
        """One object per row of `batch` (None for a row that failed), and the failures by row.

        The values are read and checked at once; the objects are made one at a time as they are asked
        for, so a batch's worth of them never waits in memory for the garbage collector to go over.
        """
        failures: dict[int, RowFailure] = {}
        if self._per_object:
            objects = self._validated_objects(batch, failures)
            return iter(objects), sorted(failures.values(), key=_by_row)
        present = {name: index for index, name in enumerate(batch.schema.names)}
        columns: list[list[Any]] = []
        given: set[str] = set()
        for field in self._fields:
            index = present.get(field.column)
            if index is None:
                columns.append(self._absent(field, batch.num_rows, failures))
            else:
                columns.append(field.check(python_values(batch.column(index)), failures))
                given.add(field.name)
        return self._made(columns, given, failures), sorted(failures.values(), key=_by_row)

    def _made(self, columns: list[list[Any]], given: set[str], failures: Container[int]) -> Iterator[Any]:
        # One set of given fields for every object of the batch: nothing changes it (setting an attribute
        # of an untracked object fails before Pydantic records it; `tracked` copies it), and a set per
        # object would cost more than the object itself (sets are the garbage collector's to follow).
        names = [field.name for field in self._fields]
        new, assign, model = object.__new__, object.__setattr__, self.model
        for row, values in enumerate(zip(*columns, strict=True)):
            if row in failures:
                yield None
                continue
            obj = new(model)
            assign(obj, "__dict__", dict(zip(names, values, strict=True)))
            assign(obj, "__pydantic_fields_set__", given)
            assign(obj, "__pydantic_extra__", None)
            assign(obj, "__pydantic_private__", None)
            yield obj

    @staticmethod
    def _absent(field: _Field, rows: int, failures: dict[int, RowFailure]) -> list[Any]:
        """The values of a field the batch has no column for: its default, or a failure if it has none."""
        if not field.info.is_required():
            return [field.info.get_default(call_default_factory=True) for _ in range(rows)]
        reason = f"{field.name}: Field required (the batch has no column {field.column})"
        for row in range(rows):
            failures.setdefault(row, RowFailure(row, field.column, reason))
        return [None] * rows

    def _validated_objects(self, batch: pa.RecordBatch, failures: dict[int, RowFailure]) -> list[Any]:
        objects: list[Any] = []
        for row, values in enumerate(batch.to_pylist()):
            by_field = {self._field_name(column): value for column, value in values.items()}
            try:
                objects.append(self.model.model_validate(by_field))
            except ValidationError as exc:
                failures[row] = self._failure(row, exc)
                objects.append(None)
        return objects

    def tracked(self, obj: Any) -> Any:
        """`obj` as an object SQLAlchemy tracks (so its attributes can be set), with the same values."""
        full = manager_of_class(self.model).new_instance()
        full.__dict__.update(obj.__dict__)
        object.__setattr__(full, "__pydantic_fields_set__", set(obj.__pydantic_fields_set__))
        return full

    @staticmethod
    def needs_tracking(exc: BaseException) -> bool:
        """Whether `exc` is what an untracked object raises when a function sets one of its attributes."""
        if isinstance(exc, orm_exc.UnmappedInstanceError):
            return True
        return isinstance(exc, AttributeError) and exc.name == "_sa_instance_state"

    # -- objects -> Arrow ---------------------------------------------------------------------------

    def batch(self, results: Sequence[Any]) -> tuple[pa.RecordBatch, list[RowFailure]]:
        """`results` (model objects or mappings of field values) as one batch of the contract's columns.

        A result that fails (not a model object or a mapping, a required field unset, a rule only the
        model states) is left out and reported at its position in `results`; the others keep their order.
        """
        failures: list[RowFailure] = []
        rows: list[dict[str, Any]] = []
        givens: list[set[str]] = []
        positions: list[int] = []
        model, required = self.model, self._required
        for position, result in enumerate(results):
            if isinstance(result, model):
                data, given = result.__dict__, result.__pydantic_fields_set__
            elif isinstance(result, BaseModel | Mapping):
                data, given = self._completed(result)
            else:
                reason = f"returned {type(result).__name__}, not a {model.__name__} or a mapping"
                failures.append(RowFailure(position, None, reason))
                continue
            if not required <= given:
                missing = sorted(required.difference(given))
                reason = f"{', '.join(missing)}: Field required"
                failures.append(RowFailure(position, self._column_name(missing[0]), reason))
                continue
            if self._per_object:
                try:
                    fields = {name: data[name] for name in self._by_name if name in data}
                    data = model.model_validate(fields).__dict__  # a dict: an object would pass as it is
                except ValidationError as exc:
                    failures.append(self._failure(position, exc))
                    continue
            rows.append(data)
            givens.append(given)
            positions.append(position)
        out, refused = self._arrays(rows, givens)
        failures += [RowFailure(positions[i], f.column, f.reason) for i, f in refused.items()]
        return out, sorted(failures, key=_by_row)

    def _arrays(
        self, rows: list[dict[str, Any]], givens: list[set[str]]
    ) -> tuple[pa.RecordBatch, dict[int, RowFailure]]:
        """The columns of `rows`, and the rows a rule only the model states refused (left out)."""
        arrays: list[pa.Array] = []
        fields: list[pa.Field] = []
        refused: dict[int, RowFailure] = {}
        for name, target in zip(self._written, self.schema, strict=True):
            array = self._array(self._values(name, rows, givens, refused), target)
            arrays.append(array)
            fields.append(target if array.type == target.type else pa.field(target.name, array.type))
        out = pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields, metadata=self.schema.metadata))
        if refused:
            keep = np.ones(len(rows), dtype=bool)
            keep[list(refused)] = False
            out = out.filter(pa.array(keep))
        return out, refused

    def _values(
        self,
        name: str,
        rows: list[dict[str, Any]],
        givens: list[set[str]],
        refused: dict[int, RowFailure],
    ) -> list[Any]:
        """Field `name` of every row (rows whose value a rule only the model states refuses: to `refused`)."""
        if name in self._loader_fills:  # unset: NULL, for the loader to fill
            return [row.get(name) if name in given else None for row, given in zip(rows, givens, strict=True)]
        values = [row.get(name) for row in rows]
        return self._by_name[name].check(values, refused) if name in self._model_rules else values

    def _completed(self, result: BaseModel | Mapping[str, Any]) -> tuple[dict[str, Any], set[str]]:
        """A result that is not a `model` object, as its field values with the model's defaults."""
        if isinstance(result, BaseModel):
            data, given = result.model_dump(), result.model_fields_set
        else:
            data, given = dict(result), set(result)
        for field in self._fields:
            if field.name in data:
                continue
            if field.name in self._loader_fills:  # NULL for the loader to fill: no default needed
                data[field.name] = None
            elif not field.info.is_required():
                data[field.name] = field.info.get_default(call_default_factory=True)
        return data, given

    def _array(self, values: list[Any], target: pa.Field) -> pa.Array:
        if target.name in self._json:
            values = [v if v is None or isinstance(v, str) else to_json(v).decode() for v in values]
        try:
            return pa.array(values, type=target.type)
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            # a value of another type: as text, which the contract's validator reads value by value
            return pa.array([None if v is None else _text(v) for v in values], pa.string())

    def _failure(self, row: int, exc: ValidationError) -> RowFailure:
        errors = exc.errors()
        location = errors[0]["loc"] if errors else ()
        column = self._column_name(str(location[0])) if location else None
        return RowFailure(row, column, _one_line(exc))

    def _column_name(self, field_name: str) -> str:
        return next((f.column for f in self._fields if f.name == field_name), field_name)

    def _field_name(self, column: str) -> str:
        field = self._by_column.get(column)
        return field.name if field is not None else column


def python_values(array: pa.Array) -> list[Any]:
    """`array.to_pylist()`, through NumPy for dates and timestamps (Arrow's own is ~10x slower there).

    Timestamps zoned in UTC come out with `datetime.UTC`; other zones take Arrow's way.
    """
    kind = array.type
    if pa.types.is_date32(kind):
        return array.to_numpy(zero_copy_only=False).tolist()  # type: ignore[no-any-return]
    if pa.types.is_timestamp(kind) and kind.unit != "ns":
        if kind.tz is None:
            return array.to_numpy(zero_copy_only=False).tolist()  # type: ignore[no-any-return]
        if kind.tz in _UTC_ZONES:
            wall = array.cast(pa.timestamp("us")).to_numpy(zero_copy_only=False)
            since = (wall - np.datetime64(0, "us")).tolist()  # timedeltas; None for nulls
            epoch = _EPOCH
            return [None if delta is None else epoch + delta for delta in since]
    values: list[Any] = array.to_pylist()
    return values


def _own_validation(model: type[BaseModel]) -> bool:
    """Whether validating `model` runs code of its own (validators, private attributes)."""
    found = model.__pydantic_decorators__
    return bool(
        found.validators
        or found.field_validators
        or found.root_validators
        or found.model_validators
        or model.__private_attributes__
    )


def _beyond_contract(info: FieldInfo) -> bool:
    """Whether `info` has a rule for values that a contract cannot state (e.g. `min_length`)."""
    for meta in info.metadata:
        pattern_only = list(getattr(meta, "__dict__", ())) == ["pattern"]  # Pydantic's `Field(pattern=)`
        if not (pattern_only or isinstance(meta, _STATED_BY_CONTRACTS)):
            return True
    return False


def _text(value: Any) -> str:
    """A value as text the contract's validator reads (ISO dates and times; JSON for the rest)."""
    try:
        plain = to_jsonable_python(value)
    except PydanticSerializationError:
        return str(value)
    return plain if isinstance(plain, str) else json.dumps(plain)


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    return str(errors[0]["msg"]) if errors else _one_line(exc)


def _one_line(exc: Exception) -> str:
    return "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())


def _by_row(failure: RowFailure) -> int:
    return failure.row
