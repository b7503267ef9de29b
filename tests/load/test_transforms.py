"""Transforms: a typed row function (raising rows are rejected with the error) and SQL expressions."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa
from pydantic import field_validator
from sqlmodel import Field, SQLModel

from datakit.contracts import contract_from_sqlmodel
from datakit.load.errors import TransformError
from datakit.load.loader import load_resource
from datakit.load.transforms import row_transform, sql_transform
from tests.load.helpers import plan_for


class SystemPerson(SQLModel, table=True):
    __tablename__ = "dk_test_system_person"
    id: int = Field(primary_key=True)
    first_name: str
    last_name: str


class BronzePerson(SQLModel, table=True):
    __tablename__ = "dk_test_bronze_person"
    id: int = Field(primary_key=True)
    full_name: str = Field(max_length=12)


def to_bronze(person: SystemPerson) -> BronzePerson:
    if person.first_name == "boom":
        raise ValueError(f"cannot name person {person.id}")
    return BronzePerson(id=person.id, full_name=f"{person.first_name} {person.last_name}".title())


@pytest.fixture
def people(source_schema: str, pg_exec: Any) -> str:
    pg_exec(f'CREATE TABLE "{source_schema}".person (id int, first_name text, last_name text)')
    pg_exec(
        f"""INSERT INTO "{source_schema}".person SELECT g,
        CASE WHEN g % 10 = 0 THEN 'boom' ELSE 'ann' END,
        CASE WHEN g % 25 = 1 THEN 'much-too-long-a-name' ELSE 'lee' || g END
        FROM generate_series(1, 100) g"""
    )
    return source_schema


def target_contract() -> Any:
    return contract_from_sqlmodel(BronzePerson, layer="bronze").evolve(name="person")


def test_row_transform_rejects_raising_and_invalid_rows(dest: Any, source: Any, people: str) -> None:
    transform = row_transform(to_bronze, SystemPerson, BronzePerson)
    plan = plan_for(
        source, people, "person", target_contract(), dest.table("person"), transform=transform, batch_size=30
    )
    result = load_resource(plan, dest.destination)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (100, 86, 14)
    assert dest.query(f"SELECT full_name FROM {dest.q('person')} WHERE id = 2") == [("Ann Lee2",)]
    rejected = dest.query(
        f"SELECT id, first_name, _dk_failed_rule, _dk_reason, _dk_load_id FROM {dest.q('person__rejected')} "
        "ORDER BY CAST(id AS INTEGER)"
    )
    assert len(rejected) == 14
    by_id = {int(row[0]): row for row in rejected}
    assert by_id[10][1:4] == ("boom", "transform", "to_bronze raised ValueError: cannot name person 10")
    assert by_id[26][2] == "max_length"  # its result breaks BronzePerson's max_length: the contract says so
    assert "longer than 12 characters" in by_id[26][3]
    assert {row[4] for row in rejected} == {result.load_id}


class SystemOrder(SQLModel, table=True):
    __tablename__ = "dk_test_system_order"
    id: int = Field(primary_key=True)
    qty: int
    note: str | None = None
    placed: date


class BronzeOrder(SQLModel, table=True):
    __tablename__ = "dk_test_bronze_order"
    id: int = Field(primary_key=True)
    qty: int = Field(ge=0, le=100)
    status: str = Field(default="new", max_length=10)
    note: str | None = None
    placed_at: datetime
    code: str | None = Field(default=None, sa_column_kwargs={"name": "order_code"})


def to_order(order: SystemOrder) -> Any:
    """Each note asks for one way a row can go wrong."""
    placed_at = datetime.combine(order.placed, time(), tzinfo=UTC)
    if order.note == "boom":
        raise ValueError(f"order {order.id} went boom")
    if order.note == "nothing":
        return None
    if order.note == "dict":  # a mapping of the fields: the others take the model's defaults
        return {"id": order.id, "qty": order.qty, "placed_at": placed_at, "code": "D"}
    qty: Any = "many" if order.note == "many" else order.qty * 10
    return BronzeOrder(id=order.id, qty=qty, note=order.note, placed_at=placed_at)


def test_row_transform_rejects_each_row_for_its_own_reason(
    dest: Any, source: Any, source_schema: str, pg_exec: Any
) -> None:
    """A row fails where it fails: its input (the source model), the function, or its output (the
    contract, with the contract's rule); defaults and unset optional fields load as the model says."""
    table = f'"{source_schema}"."order"'
    pg_exec(f"CREATE TABLE {table} (id int, qty int, note text, placed date)")
    pg_exec(
        f"""INSERT INTO {table} VALUES
        (1, 3, NULL, '2024-05-01'), (2, 1, 'boom', '2024-05-02'), (3, 20, 'too many', '2024-05-03'),
        (4, NULL, NULL, '2024-05-04'), (5, 1, 'many', '2024-05-05'), (6, 1, 'nothing', '2024-05-06'),
        (7, 4, 'dict', '2024-05-07'), (8, 5, 'fine', '2024-05-08')"""
    )
    contract = contract_from_sqlmodel(BronzeOrder, layer="bronze").evolve(name="order")
    transform = row_transform(to_order, SystemOrder, BronzeOrder)
    plan = plan_for(source, source_schema, "order", contract, dest.table("order"), transform=transform)
    result = load_resource(plan, dest.destination)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (8, 3, 5)
    loaded = dest.query(
        f"SELECT id, qty, status, note, placed_at, order_code FROM {dest.q('order')} ORDER BY id"
    )
    assert loaded == [
        (1, 30, "new", None, datetime(2024, 5, 1, tzinfo=UTC), None),
        (7, 4, "new", None, datetime(2024, 5, 7, tzinfo=UTC), "D"),
        (8, 50, "new", "fine", datetime(2024, 5, 8, tzinfo=UTC), None),
    ]
    rejected = dest.query(
        f"SELECT id, _dk_row_index, _dk_failed_column, _dk_failed_rule, _dk_reason "
        f"FROM {dest.q('order__rejected')} ORDER BY _dk_row_index"
    )
    assert [tuple(row[1:]) for row in rejected] == [
        (1, None, "transform", "to_order raised ValueError: order 2 went boom"),
        (2, "qty", "range", "'200' is above the maximum 100"),
        (3, "qty", "transform", "to_order: qty: Input should be a valid integer"),
        (4, "qty", "type", "cannot convert 'many' to int32"),
        (5, None, "transform", "to_order: returned NoneType, not a BronzeOrder or a mapping"),
    ]
    assert [row[0] for row in rejected] == ["2", "3", "4", "5", "6"]


def test_sql_transform(dest: Any, source: Any, people: str) -> None:
    transform = sql_transform({"id": "id", "full_name": "upper(first_name || ' ' || left(last_name, 5))"})
    plan = plan_for(source, people, "person", target_contract(), dest.table("person"), transform=transform)
    result = load_resource(plan, dest.destination)
    assert (result.rows_loaded, result.rows_rejected) == (100, 0)
    assert dest.query(f"SELECT full_name FROM {dest.q('person')} WHERE id IN (1, 2) ORDER BY id") == [
        ("ANN MUCH-",),
        ("ANN LEE2",),
    ]


def test_sql_transform_keeping_columns(dest: Any, source: Any, people: str) -> None:
    transform = sql_transform({"last_name": "upper(last_name)", "full_name": "'x'"}, keep_columns=True)
    plan = plan_for(source, people, "person", target_contract(), dest.table("person"), transform=transform)
    result = load_resource(plan, dest.destination)
    assert result.schema_changes  # first_name and last_name are new columns of the target (evolve)
    assert dest.query(f"SELECT first_name, last_name, full_name FROM {dest.q('person')} WHERE id = 2") == [
        ("ann", "LEE2", "x")
    ]


def test_unparsable_expression_fails_when_built() -> None:
    with pytest.raises(TransformError, match="does not parse"):
        sql_transform({"full_name": "upper((first_name"})


def test_unknown_column_fails_before_loading(dest: Any, source: Any, people: str) -> None:
    transform = sql_transform({"id": "id", "full_name": "no_such_column || 'x'"})
    plan = plan_for(source, people, "person", target_contract(), dest.table("person"), transform=transform)
    with pytest.raises(TransformError, match="no_such_column"):
        load_resource(plan, dest.destination)
    assert dest.query(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1", [dest.schema]
    ) == [(0,)]


# -- what a function may do with its rows (no database: the transform alone, on Arrow batches) ----------


def people_batch(*names: str | None) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist(
        [{"id": i, "first_name": name, "last_name": "lee"} for i, name in enumerate(names, start=1)]
    )


def shout(person: SystemPerson) -> BronzePerson:
    person.first_name = person.first_name.upper()  # SQLAlchemy tracks attributes set on a table model
    return BronzePerson(id=person.id, full_name=person.first_name)


def test_a_function_may_set_attributes_of_its_input() -> None:
    out = row_transform(shout, SystemPerson, BronzePerson)(people_batch("ann", "bo", "cy"))
    assert out.rejected is None
    assert out.batch.to_pylist() == [
        {"id": 1, "full_name": "ANN"},
        {"id": 2, "full_name": "BO"},
        {"id": 3, "full_name": "CY"},
    ]


class TrimmedPerson(SQLModel, table=True):
    __tablename__ = "dk_test_trimmed_person"
    id: int = Field(primary_key=True)
    first_name: str
    last_name: str

    @field_validator("first_name")
    @classmethod
    def trimmed(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a name cannot be blank")
        return value.strip()


def bracketed(person: TrimmedPerson) -> BronzePerson:
    return BronzePerson(id=person.id, full_name=f"<{person.first_name}>")


def test_a_source_model_with_validators_of_its_own_gets_them_run() -> None:
    out = row_transform(bracketed, TrimmedPerson, BronzePerson)(people_batch("  ann ", "   ", "bo"))
    assert out.batch.to_pylist() == [{"id": 1, "full_name": "<ann>"}, {"id": 3, "full_name": "<bo>"}]
    assert out.rejected is not None
    assert out.rejected.column("_dk_row_index").to_pylist() == [1]
    assert out.rejected.column("_dk_failed_column").to_pylist() == ["first_name"]
    assert "a name cannot be blank" in out.rejected.column("_dk_reason")[0].as_py()


class ShortPerson(SQLModel, table=True):
    __tablename__ = "dk_test_short_person"
    id: int = Field(primary_key=True)
    full_name: str = Field(min_length=3, max_length=12)  # min_length: no contract rule says it


def first_name_only(person: SystemPerson) -> ShortPerson:
    return ShortPerson(id=person.id, full_name=person.first_name)


def test_a_rule_only_the_model_states_is_checked_by_the_model() -> None:
    out = row_transform(first_name_only, SystemPerson, ShortPerson)(people_batch("ann", "bo", "cy", "dee"))
    assert out.batch.to_pylist() == [{"id": 1, "full_name": "ann"}, {"id": 4, "full_name": "dee"}]
    assert out.rejected is not None
    rejected = out.rejected.select(["id", "_dk_row_index", "_dk_failed_column", "_dk_reason"]).to_pylist()
    assert rejected == [
        {
            "id": "2",
            "_dk_row_index": 1,
            "_dk_failed_column": "full_name",
            "_dk_reason": "first_name_only: full_name: String should have at least 3 characters",
        },
        {
            "id": "3",
            "_dk_row_index": 2,
            "_dk_failed_column": "full_name",
            "_dk_reason": "first_name_only: full_name: String should have at least 3 characters",
        },
    ]


class PersonWithDefaults(SQLModel, table=True):
    __tablename__ = "dk_test_person_with_defaults"
    id: int = Field(primary_key=True)
    first_name: str
    last_name: str = "?"
    nickname: str | None = None


def named(person: PersonWithDefaults) -> BronzePerson:
    return BronzePerson(id=person.id, full_name=f"{person.first_name} {person.last_name} {person.nickname}")


def test_a_source_column_the_batch_lacks_takes_the_fields_default_or_fails_every_row() -> None:
    transform = row_transform(named, PersonWithDefaults, BronzePerson)
    lacking_optional = pa.RecordBatch.from_pylist([{"id": 1, "first_name": "ann"}])
    assert transform(lacking_optional).batch.to_pylist() == [{"id": 1, "full_name": "ann ? None"}]
    lacking_required = pa.RecordBatch.from_pylist(
        [{"id": 1, "last_name": "lee"}, {"id": 2, "last_name": "x"}]
    )
    out = transform(lacking_required)
    assert out.batch.num_rows == 0
    assert out.rejected is not None
    assert (
        out.rejected.column("_dk_reason").to_pylist()
        == ["named: first_name: Field required (the batch has no column first_name)"] * 2
    )


class Event(SQLModel, table=True):
    __tablename__ = "dk_test_event"
    id: int = Field(primary_key=True)
    payload: dict[str, Any] = Field(sa_type=sa.JSON)


def event(person: SystemPerson) -> Event:
    return Event(id=person.id, payload={"name": person.first_name, "tags": [1, 2]})


def test_a_json_column_takes_mappings_and_lists_as_json_text() -> None:
    out = row_transform(event, SystemPerson, Event)(people_batch("ann"))
    assert out.rejected is None
    assert out.batch.to_pylist() == [{"id": 1, "payload": '{"name":"ann","tags":[1,2]}'}]


class CheckedPerson(SQLModel, table=True):
    __tablename__ = "dk_test_checked_person"
    id: int = Field(primary_key=True)
    full_name: str

    @field_validator("full_name")
    @classmethod
    def title_case(cls, value: str) -> str:
        if value.startswith("x"):
            raise ValueError("no names starting with x")
        return value.title()


def full_name(person: SystemPerson) -> CheckedPerson:
    return CheckedPerson(id=person.id, full_name=f"{person.first_name} {person.last_name}")


def test_a_target_model_with_validators_of_its_own_gets_them_run() -> None:
    out = row_transform(full_name, SystemPerson, CheckedPerson)(people_batch("ann", "xi", "bo"))
    assert out.batch.to_pylist() == [{"id": 1, "full_name": "Ann Lee"}, {"id": 3, "full_name": "Bo Lee"}]
    assert out.rejected is not None
    assert out.rejected.column("_dk_row_index").to_pylist() == [1]
    assert out.rejected.column("_dk_failed_column").to_pylist() == ["full_name"]
    assert "no names starting with x" in out.rejected.column("_dk_reason")[0].as_py()
