"""The generated DVD-rental source: deterministic, scaled, consistent, Pagila-sized.

How fast is `bench/demo_source.py`'s figure, not a test's: tests run on loaded machines.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from datakit.demo.generate import TABLES, generate_source, table_checksums
from datakit.errors import UsageError
from tests.pagila import UNSCALED_ROWS

RANDOM_TABLES = ("actor", "address", "customer", "film", "film_actor", "inventory", "payment", "rental")


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    path = tmp_path_factory.mktemp("source") / "dvdrental.sqlite"
    return path, generate_source(path)


def connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)


def test_scale_one_is_pagila_sized(full: tuple[Path, dict[str, int]]) -> None:
    path, counts = full
    assert sorted(counts) == sorted(UNSCALED_ROWS)  # Pagila's 15 tables, no more, no less
    for table in ("actor", "customer", "film", "rental", "language", "category"):
        assert counts[table] == UNSCALED_ROWS[table], table
    assert counts["payment"] == counts["rental"]
    assert counts["address"] == UNSCALED_ROWS["address"]  # stores, staff and customers, as in Pagila
    assert counts["store"] == 2
    assert 4000 < counts["inventory"] < 5200
    assert 4500 < counts["film_actor"] < 6500
    with connect(path) as db:
        for table in TABLES:
            assert db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == counts[table], table


def test_same_seed_same_rows_other_seed_other_rows(tmp_path: Path) -> None:
    first, again, other = tmp_path / "a.sqlite", tmp_path / "b.sqlite", tmp_path / "c.sqlite"
    generate_source(first, scale=0.2, seed=7)
    generate_source(again, scale=0.2, seed=7)
    generate_source(other, scale=0.2, seed=8)
    expected = table_checksums(first)
    assert table_checksums(again) == expected
    different = table_checksums(other)
    for table in RANDOM_TABLES:
        assert different[table] != expected[table], table


def test_scale_point_one_gives_a_tenth(tmp_path: Path) -> None:
    counts = generate_source(tmp_path / "small.sqlite", scale=0.1)
    for table in ("actor", "customer", "film", "rental", "payment"):
        assert counts[table] == pytest.approx(UNSCALED_ROWS[table] / 10, abs=1), table
    assert counts["inventory"] == pytest.approx(458, rel=0.15)


def test_regenerating_replaces_the_file(tmp_path: Path) -> None:
    path = tmp_path / "source.sqlite"
    generate_source(path, scale=0.05)
    counts = generate_source(path, scale=0.02)
    with connect(path) as db:
        assert db.execute("SELECT count(*) FROM rental").fetchone()[0] == counts["rental"]
    assert not (tmp_path / "source.sqlite.partial").exists()


@pytest.mark.parametrize("scale", [0, -1, 101])
def test_scale_out_of_range_is_refused(tmp_path: Path, scale: float) -> None:
    with pytest.raises(UsageError, match="scale"):
        generate_source(tmp_path / "x.sqlite", scale=scale)


def test_every_foreign_key_resolves(full: tuple[Path, dict[str, int]]) -> None:
    path, _ = full
    with connect(path) as db:
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        # the declared keys are checked above; these say the rows also agree with each other
        mismatched = db.execute(
            """
            SELECT count(*) FROM payment p JOIN rental r USING (rental_id)
            WHERE p.customer_id <> r.customer_id OR p.staff_id <> r.staff_id
            """
        ).fetchone()[0]
        assert mismatched == 0
        unpaid = db.execute(
            "SELECT count(*) FROM rental r LEFT JOIN payment p USING (rental_id) WHERE p.payment_id IS NULL"
        ).fetchone()[0]
        assert unpaid == 0
        managers = db.execute(
            "SELECT count(*) FROM store s "
            "JOIN staff t ON t.staff_id = s.manager_staff_id AND t.store_id = s.store_id"
        ).fetchone()[0]
        assert managers == 2
        clerks = db.execute(
            "SELECT count(*) FROM rental r JOIN inventory i USING (inventory_id) "
            "JOIN staff s ON s.staff_id = r.staff_id WHERE s.store_id <> i.store_id"
        ).fetchone()[0]
        assert clerks == 0


def test_rentals_have_late_and_open_returns_and_fees(full: tuple[Path, dict[str, int]]) -> None:
    path, counts = full
    with connect(path) as db:
        open_rentals = db.execute("SELECT count(*) FROM rental WHERE return_date IS NULL").fetchone()[0]
        assert 0 < open_rentals < counts["rental"] * 0.1
        late, late_fees_charged = db.execute(
            """
            SELECT count(*), sum(p.amount > f.rental_rate)
            FROM rental r JOIN inventory i USING (inventory_id) JOIN film f USING (film_id)
            JOIN payment p USING (rental_id)
            WHERE julianday(r.return_date) - julianday(r.rental_date) > f.rental_duration
            """
        ).fetchone()
        assert late > counts["rental"] * 0.05
        assert late_fees_charged == late
        assert db.execute("SELECT count(*) FROM rental WHERE return_date <= rental_date").fetchone()[0] == 0
        assert db.execute("SELECT min(amount) > 0, max(amount) < 1000 FROM payment").fetchone() == (1, 1)
        emails = db.execute("SELECT count(DISTINCT email), count(*) FROM customer").fetchone()
        assert emails[0] == emails[1]
        titles = db.execute("SELECT count(DISTINCT title), count(*) FROM film").fetchone()
        assert titles[0] == titles[1]
