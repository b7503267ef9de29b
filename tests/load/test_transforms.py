"""Transforms: a typed row function (raising rows are rejected with the error) and SQL expressions."""

from __future__ import annotations

from typing import Any

import pytest
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
