"""Rows are never dropped in silence: a merge's repeated keys, a CSV line with an unterminated quote,
and a files source's rejected values are all in `<table>__rejected`, so read == loaded + rejected."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from datakit.contracts import contract_from_spec
from datakit.load.loader import load_resource
from datakit.load.plan import LoadResult
from tests.load.helpers import CUSTOMER_DDL, CUSTOMER_SPEC, plan_for
from tests.load.test_files_load import plan as files_plan
from tests.matrix import Row, SourceDb, Target


def counts(result: LoadResult) -> tuple[int, int, int]:
    return result.rows_read, result.rows_loaded, result.rows_rejected


def recorded(dest: Target, result: LoadResult) -> list[Row]:
    return dest.query(
        "SELECT rows_read, rows_loaded, rows_rejected FROM _datakit.loads WHERE load_id = $1",
        [result.load_id],
    )


def rejected(dest: Target, table: str, *columns: str) -> list[Row]:
    items = ", ".join(columns)
    return dest.query(f"SELECT {items} FROM {dest.q(table + '__rejected')} ORDER BY _dk_row_index")


@pytest.mark.parametrize("history", [False, True])
def test_a_merge_keeps_the_last_row_of_a_key_and_rejects_the_others(
    dest: Target, source_db: SourceDb, history: bool
) -> None:
    now = datetime.now(UTC)
    source_db.create("customer", f"seq int, {CUSTOMER_DDL}")
    keyed = [(1, 1, "a"), (2, 2, "b"), (3, 1, "c"), (4, 3, "d"), (5, 1, "e"), (6, 3, "f")]  # seq, id, name
    source_db.insert("customer", [(seq, key, name, seq, now) for seq, key, name in keyed])
    contract = contract_from_spec(
        {
            **CUSTOMER_SPEC,
            "history": history,
            "columns": {"seq": {"type": "integer"}, **CUSTOMER_SPEC["columns"]},
        }
    )
    plan = plan_for(
        source_db.source,
        source_db.schema,
        "customer",
        contract,
        dest.table("customer"),
        disposition="merge",
        order_by=("seq",),
        batch_size=2,  # the repeats span batches
    )

    result = load_resource(plan, dest.destination)

    assert counts(result) == (6, 3, 3)
    assert recorded(dest, result) == [(6, 3, 3)]
    assert dest.query(f"SELECT id, name FROM {dest.q('customer')} ORDER BY id") == [
        (1, "e"),
        (2, "b"),
        (3, "f"),
    ]
    assert rejected(dest, "customer", "name", "_dk_row_index", "_dk_failed_column", "_dk_failed_rule") == [
        ("a", 0, "id", "duplicate_key"),
        ("c", 2, "id", "duplicate_key"),
        ("d", 3, "id", "duplicate_key"),
    ]
    reasons = [row[0] for row in rejected(dest, "customer", "_dk_reason")]
    assert reasons[0] == "key (id) = (1) repeats in this load; the last row read (row 4) is kept"
    assert reasons[2] == "key (id) = (3) repeats in this load; the last row read (row 5) is kept"
    if history:
        assert dest.query(f"SELECT id, name FROM {dest.q('customer__history')} ORDER BY id") == [
            (1, "e"),
            (2, "b"),
            (3, "f"),
        ]

    again = load_resource(plan, dest.destination)  # the same read: nothing changes, still counted
    assert counts(again) == (6, 3, 3)


def test_files_merge_rejects_repeated_keys_naming_their_file(dest: Target, tmp_path: Path) -> None:
    """Files are read in path order, top to bottom: the last file's row of a key wins."""
    (tmp_path / "a.csv").write_text("id,name,score\n1,ann,1\n2,bob,1\n1,ann2,1\n")
    (tmp_path / "b.csv").write_text("id,name,score\n2,bob2,2\n3,cy,2\n")

    result = load_resource(files_plan(tmp_path, dest, "csv", "merge"), dest.destination)

    assert counts(result) == (5, 3, 2)
    assert dest.query(f"SELECT id, name FROM {dest.q('people')} ORDER BY id") == [
        (1, "ann2"),
        (2, "bob2"),
        (3, "cy"),
    ]
    assert rejected(dest, "people", "name", "_dk_file", "_dk_failed_rule") == [
        ("ann", str(tmp_path / "a.csv"), "duplicate_key"),
        ("bob", str(tmp_path / "a.csv"), "duplicate_key"),
    ]


def test_value_rejections_of_a_files_source_name_their_file(dest: Target, tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,name,score\n1,ann,1\n2,bob,1\n")
    (tmp_path / "b.csv").write_text("id,name,score\n3,cy,2\n4,dee,2\n")
    plan = files_plan(tmp_path, dest, "csv")
    tight = plan.contract.evolve(
        columns=tuple(
            c.model_copy(update={"max_length": 2}) if c.name == "name" else c for c in plan.contract.columns
        )
    )
    result = load_resource(plan.__class__(**{**plan.__dict__, "contract": tight}), dest.destination)

    assert counts(result) == (4, 1, 3)
    assert rejected(dest, "people", "name", "_dk_file", "_dk_failed_rule") == [
        ("ann", str(tmp_path / "a.csv"), "max_length"),
        ("bob", str(tmp_path / "a.csv"), "max_length"),
        ("dee", str(tmp_path / "b.csv"), "max_length"),
    ]


@pytest.mark.parametrize(
    ("text", "loaded"),
    [
        ('1,ann,5\n2,"bob,6\n3,cy,7\n4,dd,8\n', [(1, "ann"), (3, "cy"), (4, "dd")]),  # never closed
        ('1,ann,5\n2,"bob,6\n3,cy,7\n4,"dd",8\n5,ee,9\n', [(1, "ann"), (3, "cy"), (4, "dd"), (5, "ee")]),
    ],
    ids=["to-the-end", "closed-by-a-later-quote"],
)
def test_an_unterminated_quote_rejects_its_line_only(
    dest: Target, tmp_path: Path, text: str, loaded: list[tuple[int, str]]
) -> None:
    (tmp_path / "a.csv").write_text("id,name,score\n" + text)

    result = load_resource(files_plan(tmp_path, dest, "csv"), dest.destination)

    assert counts(result) == (len(loaded) + 1, len(loaded), 1)
    assert dest.query(f"SELECT id, name FROM {dest.q('people')} ORDER BY id") == loaded
    ((line, rule, raw, reason),) = rejected(
        dest, "people", "_dk_row_index", "_dk_failed_rule", "_dk_raw", "_dk_reason"
    )
    assert (line, rule, raw) == (3, "parse", '2,"bob,6')
    assert "quote" in reason


def test_quoted_line_breaks_still_load(dest: Target, tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text('id,name,score\n1,"ann\nmarie",5\n2,"bob ""b""",6\n3,cy,7\n')

    result = load_resource(files_plan(tmp_path, dest, "csv"), dest.destination)

    assert counts(result) == (3, 3, 0)
    assert dest.query(f"SELECT id, name FROM {dest.q('people')} ORDER BY id") == [
        (1, "ann\nmarie"),
        (2, 'bob "b"'),
        (3, "cy"),
    ]
