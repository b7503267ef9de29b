"""A DVD-rental source database in Pagila's shape, generated in a second: the demo's data.

`datakit demo` must run anywhere, offline and fast, so instead of downloading Pagila we make a SQLite
file with its 15 tables, its columns, and data that reads like it: names and film titles from word
lists, foreign keys that all resolve, rentals over half a year with some late returns and some not yet
returned, one payment per rental (the late fee included). Everything comes from one seeded
`random.Random` (small tables, row by row) and one seeded numpy `Generator` (rentals and payments,
column-wise), so a seed always gives the same rows.

Types are declared so `datakit.connectors.sources.sqlite` reads each column back as the Pagila
datakit's source contract expects: `TIMESTAMP` and `DATE` columns hold ISO text without a zone (read as
UTC), `NUMERIC(p,s)` money, `BOOLEAN` 0/1. SQLite has no arrays: `film.special_features` is stored as
comma-separated text and the demo's pipeline splits it (`columns: {special_features: ...}`).
"""

from __future__ import annotations

import datetime
import hashlib
import os
import random
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from datakit.demo import words
from datakit.errors import UsageError

# Rows of each table at scale 1, as the real Pagila has them (stores and staff as the classic two).
BASE_ROWS = {"actor": 200, "city": 600, "customer": 599, "film": 1000, "rental": 16044}
STORES = 2
_MINIMUM = {"actor": 10, "city": 10, "customer": 10, "film": 20, "rental": 10}
_START = datetime.datetime(2022, 2, 14)
_WINDOW_DAYS = 190
_UPDATED = "2022-02-15 09:57:12"
_LOST_SHARE = 0.004
"""Rentals never brought back, besides those still out when the data ends."""

SCHEMA = {
    "language": "language_id INTEGER PRIMARY KEY, name VARCHAR(20) NOT NULL, last_update TIMESTAMP NOT NULL",
    "category": "category_id INTEGER PRIMARY KEY, name TEXT NOT NULL, last_update TIMESTAMP NOT NULL",
    "country": "country_id INTEGER PRIMARY KEY, country TEXT NOT NULL, last_update TIMESTAMP NOT NULL",
    "city": "city_id INTEGER PRIMARY KEY, city TEXT NOT NULL, "
    "country_id INTEGER NOT NULL REFERENCES country (country_id), last_update TIMESTAMP NOT NULL",
    "address": "address_id INTEGER PRIMARY KEY, address TEXT NOT NULL, address2 TEXT, "
    "district TEXT NOT NULL, city_id INTEGER NOT NULL REFERENCES city (city_id), postal_code TEXT, "
    "phone TEXT NOT NULL, last_update TIMESTAMP NOT NULL",
    "staff": "staff_id INTEGER PRIMARY KEY, first_name TEXT NOT NULL, last_name TEXT NOT NULL, "
    "address_id INTEGER NOT NULL REFERENCES address (address_id), email TEXT, "
    "store_id INTEGER NOT NULL REFERENCES store (store_id), active BOOLEAN NOT NULL, username TEXT NOT NULL, "
    "password TEXT, last_update TIMESTAMP NOT NULL, picture BLOB",
    "store": "store_id INTEGER PRIMARY KEY, "
    "manager_staff_id INTEGER NOT NULL UNIQUE REFERENCES staff (staff_id), "
    "address_id INTEGER NOT NULL REFERENCES address (address_id), last_update TIMESTAMP NOT NULL",
    "customer": "customer_id INTEGER PRIMARY KEY, store_id INTEGER NOT NULL REFERENCES store (store_id), "
    "first_name TEXT NOT NULL, last_name TEXT NOT NULL, email TEXT, "
    "address_id INTEGER NOT NULL REFERENCES address (address_id), activebool BOOLEAN NOT NULL, "
    "create_date DATE NOT NULL, last_update TIMESTAMP, active INTEGER",
    "actor": "actor_id INTEGER PRIMARY KEY, first_name TEXT NOT NULL, last_name TEXT NOT NULL, "
    "last_update TIMESTAMP NOT NULL",
    "film": "film_id INTEGER PRIMARY KEY, title TEXT NOT NULL, description TEXT, release_year INTEGER, "
    "language_id INTEGER NOT NULL REFERENCES language (language_id), "
    "original_language_id INTEGER REFERENCES language (language_id), rental_duration SMALLINT NOT NULL, "
    "rental_rate NUMERIC(4,2) NOT NULL, length SMALLINT, replacement_cost NUMERIC(5,2) NOT NULL, "
    "rating TEXT, last_update TIMESTAMP NOT NULL, special_features TEXT, fulltext TEXT NOT NULL",
    "film_actor": "actor_id INTEGER NOT NULL REFERENCES actor (actor_id), "
    "film_id INTEGER NOT NULL REFERENCES film (film_id), last_update TIMESTAMP NOT NULL, "
    "PRIMARY KEY (actor_id, film_id)",
    "film_category": "film_id INTEGER NOT NULL REFERENCES film (film_id), "
    "category_id INTEGER NOT NULL REFERENCES category (category_id), last_update TIMESTAMP NOT NULL, "
    "PRIMARY KEY (film_id, category_id)",
    "inventory": "inventory_id INTEGER PRIMARY KEY, film_id INTEGER NOT NULL REFERENCES film (film_id), "
    "store_id INTEGER NOT NULL REFERENCES store (store_id), last_update TIMESTAMP NOT NULL",
    "rental": "rental_id INTEGER PRIMARY KEY, rental_date TIMESTAMP NOT NULL, "
    "inventory_id INTEGER NOT NULL REFERENCES inventory (inventory_id), "
    "customer_id INTEGER NOT NULL REFERENCES customer (customer_id), return_date TIMESTAMP, "
    "staff_id INTEGER NOT NULL REFERENCES staff (staff_id), last_update TIMESTAMP NOT NULL, "
    "UNIQUE (rental_date, inventory_id, customer_id)",
    "payment": "payment_id INTEGER NOT NULL, customer_id INTEGER NOT NULL REFERENCES customer (customer_id), "
    "staff_id INTEGER NOT NULL REFERENCES staff (staff_id), "
    "rental_id INTEGER NOT NULL REFERENCES rental (rental_id), amount NUMERIC(5,2) NOT NULL, "
    "payment_date TIMESTAMP NOT NULL, PRIMARY KEY (payment_date, payment_id)",
}
"""Each table's columns in Pagila's order, with SQLite declared types (see the module docstring)."""

TABLES = tuple(sorted(SCHEMA))
Rows = list[tuple[Any, ...]]


def rows_at(scale: float) -> dict[str, int]:
    """How many rows the scaled tables get (at least a handful each, so tiny scales still join)."""
    return {table: max(_MINIMUM[table], round(base * scale)) for table, base in BASE_ROWS.items()}


def generate_source(path: Path, *, scale: float = 1.0, seed: int = 42) -> dict[str, int]:
    """Write the demo's DVD-rental database to `path` (replacing it); returns the rows of each table.

    Written to a temporary file in one transaction and renamed into place, so `path` is either the old
    file or a complete new one.
    """
    if not 0 < scale <= 100:
        raise UsageError(f"scale must be above 0 and at most 100, not {scale}")
    tables = _Generator(scale, seed).tables()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    db = sqlite3.connect(partial)
    try:
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        with db:
            for table, columns in SCHEMA.items():
                db.execute(f"CREATE TABLE {table} ({columns})")
                rows = tables[table]
                marks = ", ".join("?" * len(rows[0]))
                db.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
    finally:
        db.close()
    os.replace(partial, path)
    return {table: len(tables[table]) for table in TABLES}


class _Generator:
    """The tables of one database, parents before children so every key a child draws exists."""

    def __init__(self, scale: float, seed: int) -> None:
        self.rand = random.Random(seed)
        self.np = np.random.default_rng(seed)
        self.sizes = rows_at(scale)

    def tables(self) -> dict[str, Rows]:
        """Every table's rows, by name; the order of the calls below is part of what a seed means."""
        out: dict[str, Rows] = {
            "language": [(i, name, _UPDATED) for i, name in enumerate(words.LANGUAGES, 1)],
            "category": [(i, name, _UPDATED) for i, name in enumerate(words.CATEGORIES, 1)],
            "country": [(i, name, _UPDATED) for i, name in enumerate(words.COUNTRIES, 1)],
        }
        out["city"] = self._cities()
        customers = self.sizes["customer"]
        # Addresses: stores first, then staff, then customers — Pagila's own numbering.
        out["address"] = self._addresses(2 * STORES + customers, len(out["city"]))
        out["store"] = [(s, s, s, _UPDATED) for s in range(1, STORES + 1)]
        out["staff"] = self._staff()
        out["customer"] = self._customers(customers, first_address=2 * STORES + 1)
        out["actor"] = self._actors()
        out["film"], durations, rates = self._films()
        out["film_actor"] = self._film_actors(len(out["film"]), len(out["actor"]))
        out["film_category"] = [
            (f, self.rand.randrange(len(words.CATEGORIES)) + 1, _UPDATED)
            for f in range(1, len(out["film"]) + 1)
        ]
        out["inventory"] = self._inventory(len(out["film"]))
        inventory_film = np.array([row[1] for row in out["inventory"]], dtype=np.int64)
        inventory_store = np.array([row[2] for row in out["inventory"]], dtype=np.int64)
        out["rental"], out["payment"] = self._rentals(
            inventory_film, inventory_store, durations, rates, customers
        )
        return out

    def _unique(self, n: int, candidates: Sequence[str]) -> list[str]:
        """`n` distinct names: a sample of `candidates`, numbered once they run out."""
        candidates = list(dict.fromkeys(candidates))  # word lists may repeat a word; names may not
        picked = self.rand.sample(candidates, min(n, len(candidates)))
        return picked + [
            f"{candidates[i % len(candidates)]} {i // len(candidates) + 1}" for i in range(n - len(picked))
        ]

    def _cities(self) -> Rows:
        combos = [f"{part} {root}" for part in words.CITY_PARTS for root in words.CITY_ROOTS]
        names = self._unique(self.sizes["city"], [*words.CITY_ROOTS, *combos])
        countries = len(words.COUNTRIES)
        return [(i, name, self.rand.randrange(countries) + 1, _UPDATED) for i, name in enumerate(names, 1)]

    def _addresses(self, n: int, cities: int) -> Rows:
        r = self.rand
        rows: Rows = []
        for i in range(1, n + 1):
            street = f"{r.randrange(1, 2000)} {r.choice(words.STREET_NAMES)} {r.choice(words.STREETS)}"
            phone = str(r.randrange(10**9, 10**12))
            rows.append(
                (
                    i,
                    street,
                    None,
                    r.choice(words.DISTRICTS),
                    r.randrange(cities) + 1,
                    f"{r.randrange(10**5):05d}",
                    phone,
                    _UPDATED,
                )
            )
        return rows

    def _staff(self) -> Rows:
        people = [("Mike", "Hillyer"), ("Jon", "Stephens"), ("Ana", "Ortiz"), ("Lee", "Wong")]
        rows: Rows = []
        for s in range(1, STORES + 1):
            first, last = people[(s - 1) % len(people)]
            email = f"{first}.{last}@sakilastaff.com"
            password = hashlib.sha1(f"{first}{s}".encode(), usedforsecurity=False).hexdigest()
            rows.append((s, first, last, STORES + s, email, s, 1, first, password, _UPDATED, None))
        return rows

    def _customers(self, n: int, first_address: int) -> Rows:
        r = self.rand
        rows: Rows = []
        seen: set[str] = set()
        for c in range(1, n + 1):
            first, last = r.choice(words.FIRST_NAMES), r.choice(words.LAST_NAMES)
            email = f"{first}.{last}@sakilacustomer.org"
            if email in seen:  # two customers of the same name get distinct addresses, as people do
                email = f"{first}.{last}{c}@sakilacustomer.org"
            seen.add(email)
            active = 0 if r.random() < 0.025 else 1
            store = r.randrange(STORES) + 1
            rows.append(
                (
                    c,
                    store,
                    first,
                    last,
                    email,
                    first_address + c - 1,
                    1,
                    "2022-02-14",
                    "2022-02-15 09:57:20",
                    active,
                )
            )
        return rows

    def _actors(self) -> Rows:
        r = self.rand
        return [
            (a, r.choice(words.FIRST_NAMES), r.choice(words.LAST_NAMES), "2022-02-15 09:47:57")
            for a in range(1, self.sizes["actor"] + 1)
        ]

    def _films(
        self,
    ) -> tuple[Rows, np.ndarray[Any, np.dtype[np.int64]], np.ndarray[Any, np.dtype[np.float64]]]:
        """Films, with their rental durations and rates by film_id (index 0 unused) for the rentals."""
        r = self.rand
        n = self.sizes["film"]
        pairs = [f"{a} {b}" for a in words.TITLE_WORDS for b in words.TITLE_WORDS if a != b]
        titles = sorted(self._unique(n, pairs))  # Pagila numbers its films alphabetically
        durations = np.zeros(n + 1, dtype=np.int64)
        rates = np.zeros(n + 1, dtype=np.float64)
        rows: Rows = []
        for f, title in enumerate(titles, 1):
            description = (
                f"A {r.choice(words.ADJECTIVES)} {r.choice(words.GENRES)} of a {r.choice(words.NOUNS)} And a "
                f"{r.choice(words.NOUNS)} who must {r.choice(words.VERBS)} a {r.choice(words.NOUNS)} in "
                f"{r.choice(words.PLACES)}"
            )
            duration = r.randint(3, 7)
            rate = r.choice((0.99, 2.99, 4.99))
            durations[f], rates[f] = duration, rate
            language = 1 if r.random() < 0.7 else r.randint(2, len(words.LANGUAGES))
            original = None if r.random() < 0.9 else r.randint(1, len(words.LANGUAGES))
            features = sorted(
                r.sample(words.SPECIAL_FEATURES, r.randint(1, 3)), key=words.SPECIAL_FEATURES.index
            )
            rows.append(
                (
                    f,
                    title,
                    description,
                    r.randint(1990, 2024),
                    language,
                    original,
                    duration,
                    rate,
                    r.randint(46, 185),
                    r.randint(9, 29) + 0.99,
                    r.choice(words.RATINGS),
                    "2022-09-10 16:46:03",
                    ",".join(features),
                    _tsvector(f"{title} {description}"),
                )
            )
        return rows, durations, rates

    def _film_actors(self, films: int, actors: int) -> Rows:
        r = self.rand
        rows: Rows = []
        for f in range(1, films + 1):
            cast = r.sample(range(1, actors + 1), min(actors, 1 + sum(r.random() < 0.5 for _ in range(9))))
            rows.extend((a, f, "2022-02-15 10:05:03") for a in sorted(cast))
        rows.sort()
        return rows

    def _inventory(self, films: int) -> Rows:
        """About 4.6 copies per film over the stores; a few films are in no store at all."""
        counts = self.np.poisson(4.6, films)
        stores = self.np.integers(1, STORES + 1, int(counts.sum()))
        rows: Rows = []
        for film, count in enumerate(counts.tolist(), 1):
            for _ in range(count):
                rows.append((len(rows) + 1, film, int(stores[len(rows)]), "2022-02-15 10:09:17"))
        return rows

    def _rentals(
        self,
        inventory_film: np.ndarray[Any, np.dtype[np.int64]],
        inventory_store: np.ndarray[Any, np.dtype[np.int64]],
        durations: np.ndarray[Any, np.dtype[np.int64]],
        rates: np.ndarray[Any, np.dtype[np.float64]],
        customers: int,
    ) -> tuple[Rows, Rows]:
        """Rentals at distinct seconds over the window, returns 1-10 days later (late past the film's
        rental duration, a dollar a day), still out at the end or lost; one payment for each."""
        g = self.np
        n = self.sizes["rental"]
        window = _WINDOW_DAYS * 86_400
        rented = np.sort(g.choice(window, size=n, replace=False))
        item = g.integers(0, len(inventory_film), n)
        # A few regulars rent a lot: customers drawn with gamma-distributed weights.
        weights = g.gamma(2.0, 1.0, customers)
        customer = g.choice(customers, size=n, p=weights / weights.sum()) + 1
        kept = g.integers(86_400, 10 * 86_400, n)
        returned = rented + kept
        out = (returned >= window) | (g.random(n) < _LOST_SHARE)
        film = inventory_film[item]
        late_days = np.maximum(0, np.ceil(kept / 86_400).astype(np.int64) - durations[film])
        amount = np.round(rates[film] + np.where(out, 0, late_days), 2)
        paid = np.where(out, rented, returned)
        staff = inventory_store[item]  # the clerk of the store the copy is in
        rental_ids = np.arange(1, n + 1)

        rental_dates = _timestamps(rented)
        return_dates: list[str | None] = list(_timestamps(returned))
        for i in np.flatnonzero(out).tolist():
            return_dates[i] = None
        rentals = list(
            zip(
                rental_ids.tolist(),
                rental_dates,
                (item + 1).tolist(),
                customer.tolist(),
                return_dates,
                staff.tolist(),
                _timestamps(np.where(out, rented, returned)),
                strict=True,
            )
        )
        order = np.argsort(paid, kind="stable")
        payments = list(
            zip(
                rental_ids.tolist(),
                customer[order].tolist(),
                staff[order].tolist(),
                rental_ids[order].tolist(),
                amount[order].tolist(),
                _timestamps(paid[order]),
                strict=True,
            )
        )
        return rentals, payments


def _timestamps(seconds: np.ndarray[Any, Any]) -> list[str]:
    """`YYYY-MM-DD HH:MM:SS` text for seconds after the start, converted column-wise by numpy."""
    stamps = np.datetime64(_START, "s") + seconds.astype("timedelta64[s]")
    text = np.datetime_as_string(stamps, unit="s")
    return [value.replace("T", " ") for value in text.tolist()]


def _tsvector(text: str) -> str:
    """A tsvector-like `'word':position` list, as Pagila's `fulltext` column holds."""
    positions: dict[str, list[int]] = {}
    for i, word in enumerate(text.lower().replace("-", " ").split(), 1):
        if len(word) > 2:
            positions.setdefault(word, []).append(i)
    return " ".join(f"'{word}':{','.join(map(str, at))}" for word, at in sorted(positions.items()))


def table_checksums(path: Path) -> dict[str, str]:
    """A SHA-256 of every table's rows in key order: equal checksums, equal data."""
    checksums: dict[str, str] = {}
    with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as db:
        for table in TABLES:
            digest = hashlib.sha256()
            for row in db.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3"):
                digest.update(repr(row).encode())
            checksums[table] = digest.hexdigest()
    return checksums
