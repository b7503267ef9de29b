"""A contract column the source does not deliver is an error before anything is written, never a
column of NULLs; columns the loader, a mixin or a transform fills are delivered."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from datakit.contracts import Contract, contract_from_spec
from datakit.contracts.model import Column
from datakit.load.errors import LoadError
from datakit.load.infer import ContractToInfer
from datakit.load.loader import load_resource
from datakit.load.plan import ResourcePlan
from datakit.load.transforms import sql_transform
from tests.http_api import running_api
from tests.load.helpers import CUSTOMER_DDL, CUSTOMER_SPEC, plan_for
from tests.load.test_files_load import plan as files_plan
from tests.load.test_rest_load import Events, rest_plan
from tests.matrix import SourceDb, Target


def with_columns(**extra: dict[str, Any]) -> Contract:
    return contract_from_spec({**CUSTOMER_SPEC, "columns": {**CUSTOMER_SPEC["columns"], **extra}})


def refused(dest: Target, plan: ResourcePlan, table: str) -> LoadError:
    with pytest.raises(LoadError) as caught:
        load_resource(plan, dest.destination)
    assert dest.query(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2",
        [dest.schema, table],
    ) == [(0,)]
    status = dest.query(
        "SELECT status, error FROM _datakit.loads WHERE target = $1", [str(dest.table(table))]
    )
    assert [row[0] for row in status] == ["failed"]
    assert str(caught.value) == status[0][1]
    return caught.value


@pytest.fixture
def customers(source_db: SourceDb) -> SourceDb:
    now = datetime.now(UTC)
    source_db.create("customer", CUSTOMER_DDL)
    source_db.insert("customer", [(g, f"n{g}", g, now) for g in range(1, 6)])
    return source_db


def test_a_contract_column_a_table_lacks_is_an_error(dest: Target, customers: SourceDb) -> None:
    contract = with_columns(email={"type": "string"}, region={"type": "string"})
    plan = plan_for(
        customers.source, customers.schema, "customer", contract, dest.table("customer"), pipeline="shop"
    )

    error = refused(dest, plan, "customer")

    assert error.message == (
        "shop.customer: the source does not deliver columns email, region of contract 'customer' "
        "(layer bronze); they would load as NULL in every row"
    )
    assert error.hint is not None
    assert "`columns:` expressions" in error.hint
    assert "remove them from the contract" in error.hint
    assert "The source delivers: id, name, score, updated" in error.hint
    assert (error.pipeline, error.resource) == ("shop", "customer")


def test_a_column_an_expression_computes_is_delivered(dest: Target, customers: SourceDb) -> None:
    contract = with_columns(email={"type": "string", "nullable": False})
    transform = sql_transform({"email": "name || '@example.com'"}, keep_columns=True)
    plan = plan_for(
        customers.source, customers.schema, "customer", contract, dest.table("customer"), transform=transform
    )

    result = load_resource(plan, dest.destination)

    assert result.rows_loaded == 5
    assert dest.query(f"SELECT email FROM {dest.q('customer')} WHERE id = 2") == [("n2@example.com",)]


def test_a_contract_column_a_csv_file_lacks_is_an_error(dest: Target, tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,name,score\n1,ann,1\n")
    plan = files_plan(tmp_path, dest, "csv")
    contract = plan.contract.evolve(columns=(*plan.contract.columns, Column(name="email", type="string")))

    error = refused(dest, ResourcePlan(**{**plan.__dict__, "contract": contract}), "people")

    assert (
        "files_test.people: the source does not deliver column email of contract 'files.main.people'"
        in error.message
    )
    assert error.hint is not None
    assert "The source delivers: id, name, score" in error.hint


def test_a_sampled_schema_proves_no_column_missing(dest: Target) -> None:
    """REST records (and JSON Lines) name only the fields they have: an optional field absent from
    every record of a load is NULL there, as the contract allows, not an error."""
    with running_api() as api:
        api.route("/events")(Events(5))
        plan = rest_plan(api, dest)
        assert isinstance(plan.contract, ContractToInfer)
        inferred = plan.contract.infer(plan.source.arrow_schema(plan.request))
        contract = inferred.evolve(columns=(*inferred.columns, Column(name="coupon", type="string")))

        result = load_resource(ResourcePlan(**{**plan.__dict__, "contract": contract}), dest.destination)

    assert (result.rows_loaded, result.rows_rejected) == (5, 0)
    assert dest.query(f"SELECT count(coupon) FROM {dest.q('events')}") == [(0,)]
